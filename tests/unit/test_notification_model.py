"""The NotificationService/NotificationRule CRDs and what a bad spec is told."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from driftless.cli.install import all_crds
from driftless.cli.main import cli
from driftless.notifications.engine import _validation_message
from driftless.notifications.model import (
    NotificationRuleSpec,
    NotificationServiceSpec,
    notification_crds,
)


def _nodes(schema: Any) -> list[dict[str, Any]]:
    out = [schema]
    for sub in (schema.get("properties") or {}).values():
        out += _nodes(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out += _nodes(schema[key])
    return out


def test_crds_are_structural_and_installed() -> None:
    names = [crd["metadata"]["name"] for crd in all_crds()]
    assert "notificationservices.driftless.dev" in names
    assert "notificationrules.driftless.dev" in names
    for crd in notification_crds():
        version = crd["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        for node in _nodes(version["schema"]["openAPIV3Schema"]):
            assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), node
            assert "$ref" not in node and "anyOf" not in node and "title" not in node
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        if crd["spec"]["names"]["kind"] == "NotificationService":
            assert {"from", "secretRef", "insecureSkipTLS", "startTLS", "rateLimit"} <= set(spec)


def test_service_spec_as_users_write_it() -> None:
    spec = NotificationServiceSpec.model_validate(
        {"type": "smtp", "address": "mail:587", "from": "cd@example.com", "recipients": ["a@b"]}
    )
    assert (spec.from_, spec.start_tls, spec.insecure_skip_tls, spec.rate_limit) == (
        "cd@example.com",
        True,
        False,
        60,
    )


@pytest.mark.parametrize(
    ("model", "spec"),
    [
        (NotificationServiceSpec, {"type": "pigeon", "address": "https://h/SECRET-TOKEN-1"}),
        (NotificationServiceSpec, {"type": "webhook", "rateLimit": "SECRET-TOKEN-1"}),
        (NotificationRuleSpec, {"services": ["x"], "triggers": ["SECRET-TOKEN-1"]}),
        (NotificationRuleSpec, {"services": [], "triggers": ["on-deployed"]}),
        (
            NotificationRuleSpec,
            {"services": ["x"], "triggers": ["on-deployed"], "template": {"body": "x" * 10000}},
        ),
    ],
)
def test_a_bad_spec_is_named_by_field_never_by_value(model: Any, spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(spec)
    message = _validation_message(caught.value)
    assert message.startswith("spec.")
    assert "SECRET-TOKEN-1" not in message and "xxxx" not in message


@pytest.mark.parametrize(
    "url",
    ["ftp://ui.example.com", "https://user:pw@ui.example.com", "ui.example.com", "https://"],
)
def test_controller_refuses_a_ui_url_that_is_no_plain_http_url(url: str) -> None:
    result = CliRunner().invoke(cli, ["controller", "--ui-url", url])
    assert result.exit_code == 2
    assert "--ui-url" in result.output and "pw" not in result.output
