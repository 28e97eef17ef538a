"""Issue 15 on the real cluster: a repository written for Argo CD syncs unchanged.

The repository is written the way Argo CD's documentation shows ("Resource
Hooks", "Sync Phases and Waves", "Sync Options"): a PreSync Job with
``generateName`` and ``hook-delete-policy: BeforeHookCreation``, a PostSync
Job deleted once it succeeded, waves, sync options. Two syncs give two
PreSync Jobs, the first deleted by its policy when the second is created,
none pruned as a stray; an annotation value driftless does not support stops
the app with a condition naming the object and the value, nothing applied.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.wellknown import HOOK_TEMPLATE_LABEL, REFRESH_ANNOTATION
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    condition,
    create_app,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]

# As in Argo CD's docs: a schema migration before every sync, a new Job each time.
PRESYNC_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  generateName: schema-migrate-
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: example.com/migrate:1
"""

POSTSYNC_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  generateName: smoke-test-
  annotations:
    argocd.argoproj.io/hook: PostSync
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: smoke
          image: example.com/smoke:1
"""


def configmap(name: str, wave: int, value: str, options: str = "") -> str:
    extra = f"    argocd.argoproj.io/sync-options: {options}\n" if options else ""
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
{extra}data:
  value: "{value}"
"""


def _operation(app: JSON) -> JSON:
    return dict((app.get("status") or {}).get("operationState") or {})


def _synced(revision: str) -> Any:
    def check(app: JSON) -> bool:
        op = _operation(app)
        return op.get("revision") == revision and op.get("phase") == "Succeeded"

    return check


def _hook_rows(app: JSON, phase: str) -> list[JSON]:
    return [r for r in _operation(app).get("resources", []) if r.get("hookType") == phase]


async def _refresh(kube: KubeClient, name: str) -> None:
    patch = {"metadata": {"annotations": {REFRESH_ANNOTATION: f"{time.time():.6f}"}}}
    await kube.merge_patch(API_VERSION, APPLICATION_KIND, name, patch, namespace=APPS_NAMESPACE)


async def _jobs(kube: KubeClient, namespace: str) -> set[str]:
    return {j["metadata"]["name"] for j in await kube.list("batch/v1", "Job", namespace)}


async def test_argo_cd_hooks_waves_and_options_sync_unchanged(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("argo")
    repo = make_git_repo(
        {
            "presync-job.yaml": PRESYNC_JOB,
            "postsync-job.yaml": POSTSYNC_JOB,
            "config.yaml": configmap("config", -1, "1", "ServerSideApply=true"),
            "late.yaml": configmap("late", 1, "1", "Prune=false"),
        }
    )
    app = application(name, repo.url)
    app["spec"]["syncPolicy"]["automated"]["prune"] = True
    await create_app(kube, app)
    first_revision = repo.head()
    first = await wait_for(kube, name, _synced(first_revision), timeout=120, what="first sync")

    [pre] = _hook_rows(first, "PreSync")
    assert pre["name"].startswith("schema-migrate-") and pre["hookPhase"] == "Succeeded"
    assert len(pre["name"]) == len("schema-migrate-") + 5
    [post] = _hook_rows(first, "PostSync")
    assert post["name"].startswith("smoke-test-") and post["hookPhase"] == "Succeeded"
    # Waves as written: PreSync, wave -1, wave 1, PostSync (the operation's own record).
    order = [r["name"] for r in _operation(first)["resources"]]
    assert order.index(pre["name"]) < order.index("config") < order.index("late")
    assert order.index("late") < order.index(post["name"])
    waves = {r["name"]: r.get("wave") for r in _operation(first)["resources"]}
    assert (waves["config"], waves["late"]) == (-1, 1)
    live_late = await kube.get("v1", "ConfigMap", "late", name)
    assert live_late is not None
    assert live_late["metadata"]["annotations"]["driftless.dev/sync-options"] == "Prune=false"
    # HookSucceeded deleted the PostSync Job; the PreSync one stays until the next sync.
    assert await _jobs(kube, name) == {pre["name"]}
    # Hooks are never the app's resources: never OutOfSync, never pruned.
    assert "Job" not in {r["kind"] for r in first["status"]["resources"]}

    second_revision = repo.commit({"config.yaml": configmap("config", -1, "2")})
    await _refresh(kube, name)  # as a webhook would (the poll interval is an hour here)
    second = await wait_for(kube, name, _synced(second_revision), timeout=120, what="second sync")
    [pre2] = _hook_rows(second, "PreSync")
    assert pre2["name"].startswith("schema-migrate-") and pre2["name"] != pre["name"]
    assert pre2["hookPhase"] == "Succeeded"
    # BeforeHookCreation deleted the first run's Job; nothing was pruned as a stray.
    assert await _jobs(kube, name) == {pre2["name"]}
    assert not [r for r in _operation(second)["resources"] if r["status"] == "Pruned"]
    [job] = await kube.list("batch/v1", "Job", name)
    assert HOOK_TEMPLATE_LABEL in job["metadata"]["labels"]
    config = await kube.get("v1", "ConfigMap", "config", name)
    assert config is not None and config["data"] == {"value": "2"}
    history = second["status"]["history"]
    assert [h["revision"] for h in history[-2:]] == [first_revision, second_revision]


async def test_unsupported_argo_value_is_a_condition_and_nothing_is_applied(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("argo-bad")
    cleanup = PRESYNC_JOB.replace("PreSync", "PostDelete").replace("schema-migrate-", "cleanup-")
    repo = make_git_repo({"cleanup.yaml": cleanup, "config.yaml": configmap("config", 0, "1")})
    await create_app(kube, application(name, repo.url))

    def refused(app: JSON) -> bool:
        found = condition(app, "Ready")
        return (
            found is not None
            and found["status"] == "False"
            and "PostDelete" in found.get("message", "")
        )

    app = await wait_for(kube, name, refused, what="the refusal")
    ready = condition(app, "Ready")
    assert ready is not None and ready["reason"] == "ValidationFailed"
    message = ready["message"]
    assert "cleanup.yaml" in message and "Job cleanup-" in message
    assert "argocd.argoproj.io/hook: 'PostDelete' is not supported" in message
    assert await kube.get("v1", "Namespace", name) is None  # not even the namespace
    assert not _operation(app)


async def test_ignore_extraneous_leaves_the_app_synced_when_git_drops_the_object(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("argo-extra")
    report = configmap("report", 0, "1").replace(
        "  annotations:\n",
        "  annotations:\n    argocd.argoproj.io/compare-options: IgnoreExtraneous\n",
    )
    repo = make_git_repo({"report.yaml": report, "config.yaml": configmap("config", 0, "1")})
    await create_app(kube, application(name, repo.url))  # automated, prune off
    await wait_for(kube, name, _synced(repo.head()), what="first sync")
    dropped = repo.commit(delete=["report.yaml"])
    await _refresh(kube, name)

    def compared(app: JSON) -> bool:
        return (app.get("status") or {}).get("sync", {}).get("revision") == dropped

    app = await wait_for(kube, name, compared, what="the new commit compared")
    # The object git dropped is still there (no prune), and it does not count.
    assert await kube.get("v1", "ConfigMap", "report", name) is not None
    assert app["status"]["sync"]["status"] == "Synced"
    rows = {r["name"]: r for r in app["status"]["resources"]}
    assert "report" in rows  # still listed, as any object left behind


def _crd(group: str) -> JSON:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


async def test_skip_dry_run_on_missing_resource_applies_the_rest_and_waits_for_the_crd(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    """The CRD comes from elsewhere (another app, an operator): Argo CD's documented case."""
    name = unique("argo-skipdry")
    group = f"{name}.example.com"
    widget = f"""\
apiVersion: {group}/v1
kind: Widget
metadata:
  name: gadget
  annotations:
    argocd.argoproj.io/sync-wave: "1"
    argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true
spec:
  size: 3
"""
    repo = make_git_repo({"widget.yaml": widget, "config.yaml": configmap("config", 0, "1")})
    app = application(name, repo.url)
    app["spec"]["syncPolicy"]["retry"] = {
        "limit": 20,
        "backoff": {"duration": "2s", "factor": 1, "maxDuration": "2s"},
    }
    await create_app(kube, app)

    def failed_on_widget(app: JSON) -> bool:
        op = _operation(app)
        return op.get("phase") in {"Failed", "Running"} and "Widget" in op.get("message", "")

    # Not refused at plan time: the ConfigMap is applied, the Widget fails for want of its CRD.
    failed = await wait_for(kube, name, failed_on_widget, what="the Widget's failure")
    assert group in _operation(failed)["message"]
    assert await kube.get("v1", "ConfigMap", "config", name) is not None
    ready_condition = condition(failed, "Ready")
    assert ready_condition is None or ready_condition.get("reason") != "ValidationFailed"

    await kube.apply(_crd(group), field_manager="test")  # "another way", as Argo CD says
    try:
        await wait_for(kube, name, _synced(repo.head()), what="the retried sync")
        live = await kube.get(f"{group}/v1", "Widget", "gadget", name)
        assert live is not None and live["spec"] == {"size": 3}
    finally:
        await kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")
