"""The ``NotificationService`` and ``NotificationRule`` resources and their CRDs.

Pure: pydantic models and CRD bodies, no I/O. ``driftless install`` applies
``notification_crds()`` next to ``core.crd.all_crds()``.

* ``NotificationService`` (namespaced) says *where* messages go: ``spec.type``
  (slack | teams | webhook | smtp | github | gitlab | gitea), a non-secret
  ``address``, and a ``secretRef`` naming a Secret *in the same namespace*
  whose keys (``url``, ``token``, ``username``, ``password``, ``hmacKey``,
  ``ca.crt``) hold what must not be in a spec.
* ``NotificationRule`` (namespaced) says *what* to send *when*: the services
  (names in the rule's namespace), the triggers, a selector (projects, app
  names or globs, labels; empty = every app the rule may see) and an optional
  Jinja2 template. A rule sees the Applications of its own namespace only,
  except rules in the controller's namespace, which see every app.
* Both carry ``status.conditions`` (a ``Ready`` condition written by the
  engine) so ``kubectl wait --for=condition=Ready`` and ``kubectl get`` show
  problems.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from driftless.core.crd import model_schema
from driftless.core.models import GROUP, VERSION, ApiModel, Condition

JSON = dict[str, Any]

SERVICE_KIND = "NotificationService"
RULE_KIND = "NotificationRule"

SERVICE_TYPES = ("slack", "teams", "webhook", "smtp", "github", "gitlab", "gitea")
TRIGGERS = (
    "on-sync-running",
    "on-sync-succeeded",
    "on-sync-failed",
    "on-health-degraded",
    "on-health-recovered",
    "on-drift-detected",
    "on-deployed",
    "on-pruned",
)
ServiceType = Literal["slack", "teams", "webhook", "smtp", "github", "gitlab", "gitea"]
Trigger = Literal[
    "on-sync-running",
    "on-sync-succeeded",
    "on-sync-failed",
    "on-health-degraded",
    "on-health-recovered",
    "on-drift-detected",
    "on-deployed",
    "on-pruned",
]
# A template is a message, not a program: bounded so one object cannot make
# every render slow to parse.
TEMPLATE_MAX = 8192


class SecretRef(ApiModel):
    name: str = Field(max_length=253, description="A Secret in the service's own namespace.")


class NotificationServiceSpec(ApiModel):
    """Where messages go."""

    type: ServiceType = Field(description="slack, teams, webhook, smtp, github, gitlab or gitea.")
    address: str | None = Field(
        None,
        max_length=2048,
        description="API base URL (github/gitlab/gitea, slack bot), SMTP host:port, or a"
        " webhook URL that is not secret (else put it in the Secret's `url` key).",
    )
    channel: str | None = Field(None, max_length=256, description="Slack channel (bot token).")
    recipients: list[str] = Field(default_factory=list, description="Email recipients (smtp).")
    from_: str | None = Field(None, alias="from", max_length=320, description="Sender (smtp).")
    secret_ref: SecretRef | None = Field(
        None,
        description="Secret in this namespace; keys url, token, username, password, hmacKey,"
        " ca.crt.",
    )
    rate_limit: int = Field(60, ge=1, le=6000, description="Messages per minute at most.")
    insecure_skip_tls: bool = Field(
        False, alias="insecureSkipTLS", description="Do not verify the server's certificate."
    )
    start_tls: bool = Field(True, alias="startTLS", description="smtp: upgrade with STARTTLS.")


class RuleSelector(ApiModel):
    """Which apps a rule is about; every non-empty list must match (AND)."""

    projects: list[str] = Field(default_factory=list, description="Project names.")
    apps: list[str] = Field(
        default_factory=list, description="App names or globs (`web-*`); `ns/name` also accepted."
    )
    match_labels: dict[str, str] = Field(default_factory=dict, description="Labels of the app.")


class RuleTemplate(ApiModel):
    """Jinja2 (sandboxed) title and body; empty: the trigger's built-in text."""

    title: str | None = Field(None, max_length=TEMPLATE_MAX)
    body: str | None = Field(None, max_length=TEMPLATE_MAX)


class NotificationRuleSpec(ApiModel):
    """What to send, when, and to which services."""

    services: list[str] = Field(
        min_length=1, description="NotificationService names in this namespace."
    )
    triggers: list[Trigger] = Field(min_length=1, description="Events that send a message.")
    selector: RuleSelector = Field(default_factory=RuleSelector)
    template: RuleTemplate = Field(default_factory=RuleTemplate)
    suspend: bool = Field(False, description="Send nothing while true.")


class NotificationStatus(ApiModel):
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)


def _crd(kind: str, plural: str, spec: JSON, short: list[str], columns: list[JSON]) -> JSON:
    status = model_schema(NotificationStatus)
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    ready = {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    }
    reason = {
        "name": "Reason",
        "type": "string",
        "priority": 1,
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
    }
    age = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short,
                "categories": ["driftless"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [*columns, ready, reason, age],
                }
            ],
        },
    }


def service_crd() -> JSON:
    """The ``notificationservices.driftless.dev`` CRD."""
    columns = [{"name": "Type", "type": "string", "jsonPath": ".spec.type"}]
    return _crd(
        SERVICE_KIND,
        "notificationservices",
        model_schema(NotificationServiceSpec),
        ["nsvc"],
        columns,
    )


def rule_crd() -> JSON:
    """The ``notificationrules.driftless.dev`` CRD."""
    columns = [{"name": "Suspended", "type": "boolean", "jsonPath": ".spec.suspend"}]
    return _crd(
        RULE_KIND, "notificationrules", model_schema(NotificationRuleSpec), ["nrule"], columns
    )


def notification_crds() -> list[JSON]:
    """Both notification CRDs, in install order."""
    return [service_crd(), rule_crd()]


__all__ = [
    "RULE_KIND",
    "SERVICE_KIND",
    "SERVICE_TYPES",
    "TRIGGERS",
    "NotificationRuleSpec",
    "NotificationServiceSpec",
    "NotificationStatus",
    "RuleSelector",
    "RuleTemplate",
    "notification_crds",
]
