"""Push mode's drive loop when the API fails mid-sync (``cli.push.run_sync``).

What a CI job sees: an outage (the API server answering 503) ends
``driftless apply`` with exit code 1 and a line naming the failure — not a
traceback, not "sync failed" — and the operation is left as far as it got
(nothing recorded as failed), so the inventory written afterwards forgets
nothing. A refusal (403) is a failed sync, as a refused apply always was.
The cluster here is a dictionary that fails the first apply the way the API
server would (``driftless.kube.errors``); this tests push mode's handling,
not Kubernetes.
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
from driftless.sync.execute import ObjectState
from driftless.sync.prepare import DesiredObject

JSON = dict[str, Any]
APP = Application.model_validate(
    {"metadata": {"name": "shop", "namespace": "team"}, "spec": {"source": {"repoURL": "x"}}}
)
OUTAGE = "the server is currently unable to handle the request"
REF = "ConfigMap team/settings"
FORBIDDEN = 'configmaps "settings" is forbidden: User "ci" cannot patch'


class FailingCluster:
    """Applies fail once with ``error``; reads see what was applied."""

    def __init__(self, error: KubeApiError) -> None:
        self.error: KubeApiError | None = error
        self.objects: dict[str, JSON] = {}

    async def apply(self, body: JSON, *, field_manager: str, dry_run: bool = False) -> JSON:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        self.objects[body["metadata"]["name"]] = body
        return body

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> JSON | None:
        return self.objects.get(name)


def plan() -> Plan:
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "team"}}  # fmt: skip
    obj = DesiredObject(ref=ResourceRef.from_object(body), body=body, manifest=Manifest(body))
    return Plan(APP, "a" * 40, [ObjectState(desired=obj, live=None, in_sync=False)])


@pytest.mark.parametrize(
    ("error", "code", "says", "phase"),
    [
        pytest.param(
            KubeUnavailableError(503, OUTAGE), 1, f"sync interrupted: {REF}: {OUTAGE}",
            OperationPhase.RUNNING, id="outage-exits-1-progress-kept",
        ),
        pytest.param(
            KubeRefusedError(403, FORBIDDEN), 1, "sync failed:", OperationPhase.FAILED,
            id="refusal-is-a-failed-sync",
        ),
    ],
)  # fmt: skip
async def test_api_failure_mid_sync(
    error: KubeApiError,
    code: int,
    says: str,
    phase: OperationPhase,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = cast(KubeClient, FailingCluster(error))
    tree = LocalTree(Path(), Path())  # never rendered: the plan is given
    planner = Planner(cluster, LocalRenderer(tree), PermissiveProjects())
    opts = ApplyOptions(name="shop", namespace="team", revision=None, prune=False, wait=False,
                        timeout=60.0, create_namespace=False, color=False)  # fmt: skip
    state = start(Operation(sync=SyncOperation()), "a" * 40)
    assert await run_sync(cluster, planner, plan(), state, opts) == code
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert state.phase == phase
