"""The CRD generated from the models must be structural and match the API users write."""

from typing import Any

from driftless.core.crd import application_crd, structural
from driftless.core.models import Application


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key in ("properties",):
            for name, sub in (node.get(key) or {}).items():
                found += _walk(sub, f"{path}.{name}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                found += _walk(node[key], f"{path}[]")
    return found


def test_every_schema_node_is_structural() -> None:
    schema = application_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node and "anyOf" not in node and "title" not in node, path
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path


def test_schema_uses_the_names_users_write() -> None:
    spec = application_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    source = spec["spec"]["properties"]["source"]
    assert source["required"] == ["repoURL"]
    assert set(source["properties"]) >= {"repoURL", "targetRevision", "path", "directory"}
    policy = spec["spec"]["properties"]["syncPolicy"]["properties"]
    assert set(policy["automated"]["properties"]) == {"prune", "selfHeal", "allowEmpty"}


def test_status_subresource_and_printer_columns() -> None:
    version = application_crd()["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    names = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert names == ["Sync", "Health", "Revision", "Age"]


def test_status_schema_has_no_defaults() -> None:
    status = application_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
        "status"
    ]
    assert all("default" not in node for _, node in _walk(status))


def test_optional_field_becomes_nullable() -> None:
    node = structural({"anyOf": [{"type": "string"}, {"type": "null"}], "default": None})
    assert node == {"type": "string", "nullable": True}


def test_minimal_manifest_parses_with_defaults() -> None:
    app = Application.model_validate(
        {
            "metadata": {"name": "a", "namespace": "driftless"},
            "spec": {"source": {"repoURL": "file:///repo"}},
        }
    )
    assert app.spec.source.target_revision == "HEAD"
    assert app.spec.source.path == "."
    assert app.spec.sync_policy.automated is None
    assert app.spec.project == "default"
