"""``Planner.plan(dry_run=False)``: the read-only planning mode of readers that may not write.

The cluster is a stand-in answering reads only (a ConfigMap drifted, a Secret
it may not read, a custom resource whose kind is not served yet); any dry run
or write fails the test, so the plan is made from reads alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from driftless.core.models import Application
from driftless.kube.client import KubeClient
from driftless.kube.discovery import ResourceType, UnknownKindError
from driftless.kube.errors import KubeForbiddenError
from driftless.pipeline.diffs import CLIENT_SIDE, UNREADABLE, PredictedState, diff_entries
from driftless.pipeline.planner import Planner
from driftless.pipeline.projects import PermissiveProjects
from driftless.pipeline.renderers import LocalRenderer, LocalTree

JSON = dict[str, Any]
SECRET_VALUE = "read-only-hunter2"
MANIFESTS = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: {SECRET_VALUE}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec: {{}}
"""
FIELDS: JSON = {"f:data": {"f:color": {}, "f:size": {}}}


class Discovery:
    async def refresh(self, *, force: bool = True) -> None:
        return None

    def served(self) -> list[ResourceType]:
        return []


class ReadOnlyCluster:
    """Answers reads; a dry run or any write is a failure."""

    discovery = Discovery()

    def __init__(self) -> None:
        self.reads: list[str] = []

    async def version(self) -> JSON:
        return {"gitVersion": "v1.33.0"}

    async def resource_type(self, api_version: str, kind: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        return ResourceType(group, version, kind, kind.lower() + "s", namespaced=True)

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        self.reads.append(f"{kind}/{name}")
        if kind == "Secret":
            raise KubeForbiddenError(
                403, f'secrets "{name}" is forbidden: User "me" cannot get resource "secrets"'
            )
        if kind == "Widget":
            raise UnknownKindError(api_version, kind)
        if kind == "ConfigMap" and name == "settings":
            meta = {"name": name, "namespace": namespace, "uid": "u1",
                    "managedFields": [{"manager": "driftless", "operation": "Apply",
                                       "fieldsType": "FieldsV1", "fieldsV1": FIELDS}]}  # fmt: skip
            return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                    "data": {"color": "red", "size": "L"}}  # fmt: skip
        return None

    async def apply(self, body: JSON, **_: Any) -> JSON:
        raise AssertionError(f"a dry run or write was sent: {body['kind']}")


def app() -> Application:
    return Application.model_validate(
        {"metadata": {"name": "shop", "namespace": "team"},
         "spec": {"source": {"repoURL": "x"}, "destination": {"namespace": "shop"}}}
    )  # fmt: skip


async def test_a_read_only_plan_sends_no_dry_run_and_predicts_every_object(
    tmp_path: Path,
) -> None:
    (tmp_path / "all.yaml").write_text(MANIFESTS)
    cluster = ReadOnlyCluster()
    renderer = LocalRenderer(LocalTree(tmp_path, tmp_path))
    planner = Planner(cast(KubeClient, cluster), renderer, PermissiveProjects())

    plan = await planner.plan(app(), dry_run=False)

    assert all(isinstance(s, PredictedState) for s in plan.states)
    by_kind = {s.desired.ref.kind: s for s in plan.states}
    settings = by_kind["ConfigMap"]
    assert settings.predicted is not None and settings.predicted["data"] == {"color": "blue"}
    assert not settings.in_sync  # drifted color; "size" was driftless's and git dropped it
    entries = {e["kind"]: e for e in diff_entries(plan)}
    assert {e["predicted"] for e in entries.values()} == {CLIENT_SIDE}
    assert entries["ConfigMap"]["status"] == "changed"
    # (The tracking annotation, which this stand-in's live object lacks, is added too.)
    data = [
        x for x in entries["ConfigMap"]["diff"].splitlines() if x[3:].startswith(("color", "size"))
    ]
    assert data == ["-  color: red", "-  size: L", "+  color: blue"]
    assert entries["Secret"]["status"] == UNREADABLE
    assert entries["Secret"]["message"] == "this server may not read Secret shop/creds"
    assert entries["Widget"]["status"] == "added"  # its kind is not served yet: nothing live
    assert by_kind["Widget"].message == "CRD not yet applied"
    assert SECRET_VALUE not in str(entries)
