"""The installed server may do what its webhook route does: read the webhooks' Secret by name
in its own namespace, and patch Applications (the refresh annotation)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from driftless.cli.main import cli
from driftless.core.deployment import SERVER_NAME
from driftless.webhooks.secrets import SECRET_NAME

JSON = dict[str, Any]
NAMESPACE = "gitops"


def manifests(*flags: str) -> list[JSON]:
    argv = ["install", "--dry-run", "--namespace", NAMESPACE, "--with-server", *flags]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    return [doc for doc in yaml.safe_load_all(result.output) if doc]


def server_rules(docs: list[JSON]) -> list[tuple[str | None, JSON]]:
    """(namespace the rule holds in, None: cluster-wide) for every rule bound to the server."""
    roles = {(d["kind"], d["metadata"]["name"]): d for d in docs if d["kind"].endswith("Role")}
    rules: list[tuple[str | None, JSON]] = []
    for binding in (d for d in docs if d["kind"].endswith("RoleBinding")):
        if not any(s.get("name") == SERVER_NAME for s in binding.get("subjects", [])):
            continue
        role = roles.get((binding["roleRef"]["kind"], binding["roleRef"]["name"]))
        where = binding["metadata"].get("namespace")
        rules += [(where, rule) for rule in (role or {}).get("rules", [])]
    return rules


def allows(
    rules: list[tuple[str | None, JSON]], group: str, resource: str, verb: str, name: str
) -> bool:
    return any(
        where in (None, NAMESPACE)
        and group in rule.get("apiGroups", [])
        and resource in rule.get("resources", [])
        and verb in rule.get("verbs", [])
        and name in rule.get("resourceNames", [name])
        for where, rule in rules
    )


@pytest.mark.parametrize("flags", [(), ("--namespaced",)])
def test_the_server_reads_the_webhook_secret_and_patches_applications(
    flags: tuple[str, ...],
) -> None:
    rules = server_rules(manifests(*flags))
    assert allows(rules, "", "secrets", "get", SECRET_NAME)
    assert allows(rules, "driftless.dev", "applications", "patch", "any-app")
