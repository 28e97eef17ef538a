"""Generate CustomResourceDefinitions from the pydantic models.

Kubernetes wants a *structural* OpenAPI v3 schema: every node has a ``type``,
no ``$ref``, no ``anyOf`` that changes the type, no ``title``. Pydantic's JSON
schema is close but not that, so ``structural`` rewrites it:

* ``$ref`` → the referenced definition, inlined;
* ``anyOf: [X, {type: null}]`` (an Optional field) → X with ``nullable: true``;
* a field typed ``Any`` / a free-form dict → ``x-kubernetes-preserve-unknown-fields``;
* ``title`` and pydantic-only keys dropped.

Pure: no I/O. ``driftless install`` applies what ``all_crds()`` returns.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from driftless.core.models import (
    API_VERSION,
    APPLICATION_KIND,
    GROUP,
    VERSION,
    ApplicationSpec,
    ApplicationStatus,
    Operation,
)
from driftless.core.project import PROJECT_KIND, ProjectSpec

JSON = dict[str, Any]

_DROP_KEYS = {"title", "$defs", "discriminator"}


def structural(schema: JSON, defs: JSON | None = None) -> JSON:
    """Rewrite one pydantic JSON schema node into a structural OpenAPI v3 node."""
    defs = schema.get("$defs", defs) or {}
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    if "anyOf" in schema:
        return _collapse_optional(schema, defs)
    if "allOf" in schema and len(schema["allOf"]) == 1:
        merged = {**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}}
        return structural(merged, defs)
    out: JSON = {}
    for key, value in schema.items():
        if key in _DROP_KEYS:
            continue
        if key == "properties":
            out["properties"] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = structural(value, defs)
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if "type" not in out:
        # Field typed ``Any``: keep whatever the user wrote.
        return {**out, "x-kubernetes-preserve-unknown-fields": True}
    if out["type"] == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if out.get("additionalProperties") is True:
        del out["additionalProperties"]
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _collapse_optional(schema: JSON, defs: JSON) -> JSON:
    options = [opt for opt in schema["anyOf"] if opt.get("type") != "null"]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    if len(options) != 1:
        # A real union of types cannot be structural; accept anything and let
        # the pydantic model validate it in the controller.
        kept = {k: v for k, v in rest.items() if k == "description"}
        return {**kept, "x-kubernetes-preserve-unknown-fields": True}
    node = structural({**options[0], **rest}, defs)
    if len(options) != len(schema["anyOf"]):
        node["nullable"] = True
        if node.get("default", ...) is None:
            del node["default"]
    return node


def model_schema(model: type[BaseModel]) -> JSON:
    """The structural schema of one pydantic model (by alias, as users write it)."""
    return structural(model.model_json_schema(by_alias=True, mode="validation"))


def application_crd() -> JSON:
    """The ``applications.driftless.dev`` CRD."""
    spec = model_schema(ApplicationSpec)
    status = model_schema(ApplicationStatus)
    # Defaults in the status schema would make the API server fill status on
    # create; the controller owns status entirely, so strip them.
    _strip_defaults(status)
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "operation": model_schema(Operation),
            "status": status,
        },
    }
    columns = [
        {"name": "Sync", "type": "string", "jsonPath": ".status.sync.status"},
        {"name": "Health", "type": "string", "jsonPath": ".status.health.status"},
        {"name": "Revision", "type": "string", "jsonPath": ".status.sync.revision"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {
            "name": "Ready",
            "type": "string",
            "priority": 1,
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {
            "name": "Repo",
            "type": "string",
            "priority": 1,
            "jsonPath": ".spec.source.repoURL",
        },
        {"name": "Path", "type": "string", "priority": 1, "jsonPath": ".spec.source.path"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"applications.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": APPLICATION_KIND,
                "listKind": f"{APPLICATION_KIND}List",
                "plural": "applications",
                "singular": "application",
                "shortNames": ["app", "apps"],
                "categories": ["driftless"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def project_crd() -> JSON:
    """The ``projects.driftless.dev`` CRD."""
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": model_schema(ProjectSpec),
        },
    }
    columns = [
        {"name": "Description", "type": "string", "jsonPath": ".spec.description"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"projects.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": PROJECT_KIND,
                "listKind": f"{PROJECT_KIND}List",
                "plural": "projects",
                "singular": "project",
                "shortNames": ["proj"],
                "categories": ["driftless"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def _strip_defaults(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("default", None)
        for value in node.values():
            _strip_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _strip_defaults(value)


def kinds_defined(crd: JSON) -> list[tuple[str, str, bool]]:
    """(apiVersion, kind, namespaced) of every version a CRD body defines."""
    spec = crd.get("spec") or {}
    group, kind = spec.get("group", ""), (spec.get("names") or {}).get("kind", "")
    namespaced = spec.get("scope") == "Namespaced"
    return [(f"{group}/{v.get('name')}", kind, namespaced) for v in spec.get("versions") or []]


def all_crds() -> list[JSON]:
    """Every CRD driftless needs, in install order."""
    return [application_crd(), project_crd()]


__all__ = [
    "API_VERSION",
    "all_crds",
    "application_crd",
    "kinds_defined",
    "model_schema",
    "structural",
]
