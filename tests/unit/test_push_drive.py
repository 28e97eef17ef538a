"""Push mode's drive loop when the API fails mid-sync (``cli.push.run_sync``).

What a CI job sees: a failed apply — refused (403) or not answered (503) —
is a failed sync, as a refused apply always was (exit 1, "sync failed: ...").
A failed read (the health read of ``--wait``, answered 503) ends
``driftless apply`` with exit code 1 and a line naming the failure — not a
traceback, not "sync failed" — and the operation is left as far as it got
(nothing recorded as failed), so the inventory written afterwards forgets
nothing. The cluster here is a dictionary that fails the first apply or read
the way the API server would (``driftless.kube.errors``); this tests push
mode's handling, not Kubernetes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from driftless.cli.push import ApplyOptions, run_sync
from driftless.core.models import Application, Operation, OperationPhase, SyncOperation
from driftless.core.resources import Manifest, ResourceRef
from driftless.kube.client import KubeApiError, KubeClient, KubeRefusedError, KubeUnavailableError
from driftless.pipeline.plan import Plan
from driftless.pipeline.planner import Planner
from driftless.pipeline.policy import start
from driftless.pipeline.projects import PermissiveProjects
from driftless.pipeline.renderers import LocalRenderer, LocalTree
from driftless.sync.prepare import DesiredObject
from driftless.sync.states import ObjectState

JSON = dict[str, Any]
APP = Application.model_validate(
    {"metadata": {"name": "shop", "namespace": "team"}, "spec": {"source": {"repoURL": "x"}}}
)
OUTAGE = "the server is currently unable to handle the request"
REF = "ConfigMap team/settings"
FORBIDDEN = 'configmaps "settings" is forbidden: User "ci" cannot patch'


class FailingCluster:
    """The first ``failing`` call ("apply" or "get") fails with ``error``; reads see applies."""

    def __init__(self, error: KubeApiError, failing: str) -> None:
        self.error: KubeApiError | None = error
        self.failing = failing
        self.objects: dict[str, JSON] = {}

    def _call(self, call: str) -> None:
        if call == self.failing and self.error is not None:
            error, self.error = self.error, None
            raise error

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        self._call("apply")
        self.objects[body["metadata"]["name"]] = body
        return body

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        self._call("get")
        return self.objects.get(name)


def plan() -> Plan:
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "team"}}  # fmt: skip
    obj = DesiredObject(ref=ResourceRef.from_object(body), body=body, manifest=Manifest(body))
    return Plan(APP, "a" * 40, [ObjectState(desired=obj, live=None, in_sync=False)])


@pytest.mark.parametrize(
    ("error", "failing", "code", "says", "phase"),
    [
        pytest.param(
            KubeUnavailableError(503, OUTAGE), "get", 1,
            f"sync interrupted: cannot read {REF} to check its health: {OUTAGE}",
            OperationPhase.RUNNING, id="read-outage-exits-1-progress-kept",
        ),
        pytest.param(
            KubeUnavailableError(503, OUTAGE), "apply", 1, f"sync failed: {REF}: {OUTAGE}",
            OperationPhase.FAILED, id="apply-outage-is-a-failed-sync",
        ),
        pytest.param(
            KubeRefusedError(403, FORBIDDEN), "apply", 1, f"sync failed: {REF}: {FORBIDDEN}",
            OperationPhase.FAILED, id="refusal-is-a-failed-sync",
        ),
    ],
)  # fmt: skip
async def test_api_failure_mid_sync(
    error: KubeApiError,
    failing: str,
    code: int,
    says: str,
    phase: OperationPhase,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = cast(KubeClient, FailingCluster(error, failing))
    tree = LocalTree(Path(), Path())  # never rendered: the plan is given
    planner = Planner(cluster, LocalRenderer(tree), PermissiveProjects())
    opts = ApplyOptions(name="shop", namespace="team", revision=None, prune=False,
                        wait=failing == "get", timeout=60.0, create_namespace=False,
                        color=False)  # fmt: skip
    state = start(Operation(sync=SyncOperation()), "a" * 40)
    assert await run_sync(cluster, planner, plan(), state, opts) == code
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert state.phase == phase
