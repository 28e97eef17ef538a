"""A new object is validated by the apply that creates it; a change to a live one by a dry-run.

``sync.execute`` sends no dry-run for an object that does not exist yet (it
would cost the API server as much as the create and predict nothing a diff
needs), unless a hook runs before it. What a user must still see, on the
real control plane:

* an invalid *new* object in a 50-object app: the operation fails naming the
  object, its file and the API server's message; the earlier wave and the
  other objects of its own wave are applied and each says so in the
  operation's results; nothing is pruned and no later wave runs;
* an invalid *change* to a live object: refused before anything is written
  (the plan's dry-run), as before;
* an invalid new object of an app with a PreSync hook (a migration Job):
  refused by the plan's dry-run before the hook runs, naming the object and
  the API server's message; the Job is never created, nothing is applied.
"""

from __future__ import annotations

import pytest

from driftless.controller.manager import Controller
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    application,
    condition,
    create_app,
    ready,
    ready_false_with,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

JSON = dict[str, object]


def configmap(name: str, wave: int, data: str = "{key: value}") -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
        f"  annotations: {{driftless.dev/sync-wave: '{wave}'}}\ndata: {data}\n"
    )


def results(app: JSON) -> dict[str, JSON]:
    """The operation's result of each object, by name."""
    state = (app.get("status") or {}).get("operationState") or {}  # type: ignore[attr-defined]
    return {r["name"]: r for r in state.get("resources") or []}


def operation_failed(app: JSON) -> bool:
    state = (app.get("status") or {}).get("operationState") or {}  # type: ignore[attr-defined]
    return bool(state.get("phase") == "Failed")


async def test_an_invalid_new_object_fails_the_sync_naming_it_and_prunes_nothing(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("newbad")
    # Synced first with an object the next commit drops: pruning would delete it.
    repo = make_git_repo({"old.yaml": configmap("old", 0)})
    # Polled every 2 s: the commit below is seen by a resync, not by a pass that a
    # live change of the first sync happened to queue (one Event per one-pass sync
    # now writes the status sooner, so that pass often ran before the commit).
    app = application(name, repo.url, interval="2s")
    app["spec"]["syncPolicy"]["automated"]["prune"] = True
    await create_app(kube, app)
    await wait_for(kube, name, ready)

    # 50 objects: wave 0 (30), wave 1 (19 valid + 1 the schema refuses), wave 2 (1).
    files = {f"w0-{i:02d}.yaml": configmap(f"w0-{i:02d}", 0) for i in range(30)}
    files |= {f"w1-{i:02d}.yaml": configmap(f"w1-{i:02d}", 1) for i in range(19)}
    files["w1-bad.yaml"] = configmap("w1-bad", 1, data="5")  # data must be a map
    files["w2.yaml"] = configmap("w2", 2)
    repo.commit(files, "fifty objects, one invalid", delete=["old.yaml"])

    app_now = await wait_for(kube, name, operation_failed, timeout=60, what="a failed sync")
    message = str(app_now["status"]["operationState"]["message"])
    assert f"ConfigMap {name}/w1-bad" in message
    assert "w1-bad.yaml" in message
    assert "data" in message  # the API server's own words about the refused field
    found = condition(app_now, "Ready")
    assert found is not None and found["status"] == "False"
    assert found["reason"] == "SyncFailed" and f"{name}/w1-bad" in str(found["message"])

    by_name = results(app_now)
    assert by_name["w1-bad"]["status"] == "SyncFailed"
    assert "data" in str(by_name["w1-bad"]["message"])
    for obj in [f"w0-{i:02d}" for i in range(30)] + [f"w1-{i:02d}" for i in range(19)]:
        assert by_name[obj]["status"] == "Synced", obj
        assert await kube.get("v1", "ConfigMap", obj, name) is not None, obj
    assert await kube.get("v1", "ConfigMap", "w1-bad", name) is None
    # The wave after the failure never ran, and the orphan was not pruned.
    assert await kube.get("v1", "ConfigMap", "w2", name) is None
    assert await kube.get("v1", "ConfigMap", "old", name) is not None
    assert "old" not in by_name or by_name["old"]["status"] != "Pruned"


async def test_an_invalid_change_to_a_live_object_applies_nothing(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("livebad")
    repo = make_git_repo({"a.yaml": configmap("a", 0), "b.yaml": configmap("b", 0)})
    await create_app(kube, application(name, repo.url, interval="2s"))
    await wait_for(kube, name, ready)

    # "a" changes validly, "b" (live) invalidly: the dry-run refuses "b" before any write.
    repo.commit({"a.yaml": configmap("a", 0, "{key: changed}"), "b.yaml": configmap("b", 0, "5")})
    app = await wait_for(kube, name, ready_false_with("ValidationFailed"), timeout=60)
    found = condition(app, "Ready")
    assert found is not None and f"ConfigMap {name}/b" in str(found["message"])
    live = await kube.get("v1", "ConfigMap", "a", name)
    assert live is not None and live["data"] == {"key": "value"}


async def test_a_refused_new_secret_never_shows_its_value(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("newleak")
    leak = "hunter2-new-secret"
    # Not dry-run (it does not exist): its apply is refused, echoing the bad value.
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n"
        f"stringData:\n  password: {{nested: {leak}}}\n"
    )
    repo = make_git_repo({"a.yaml": configmap("a", 0), "secret.yaml": secret})
    await create_app(kube, application(name, repo.url))
    app = await wait_for(kube, name, operation_failed, timeout=60, what="a failed sync")
    assert f"Secret {name}/token" in str(app["status"]["operationState"]["message"])
    assert results(app)["token"]["status"] == "SyncFailed"
    assert leak not in str(app["status"])
    events = await kube.list("v1", "Event", app["metadata"]["namespace"])
    mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == name]
    assert mine and all(leak not in str(e.get("message")) for e in mine)


PRESYNC_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {driftless.dev/hook: PreSync}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {nowhere: 'true'}
      containers: [{name: m, image: example.com/migrate:1}]
"""


async def test_an_invalid_new_object_is_refused_before_a_presync_hook_runs(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("hookbad")
    repo = make_git_repo({"a.yaml": configmap("a", 0)})
    await create_app(kube, application(name, repo.url, interval="2s"))
    await wait_for(kube, name, ready)

    # A migration Job runs first; a new valid object and a new one the schema refuses.
    files = {"migrate.yaml": PRESYNC_JOB, "b.yaml": configmap("b", 0)}
    files["bad.yaml"] = configmap("bad", 1, data="5")  # data must be a map
    repo.commit(files, "a migration, one invalid new object")

    def refused_or_hook_ran(app: JSON) -> bool:
        return ready_false_with("ValidationFailed")(app) or "migrate" in results(app)

    app = await wait_for(kube, name, refused_or_hook_ran, timeout=60, what="the refusal")
    assert "migrate" not in results(app), "the PreSync hook ran before the refusal"
    found = condition(app, "Ready")
    assert found is not None and found["reason"] == "ValidationFailed"
    message = str(found["message"])
    assert f"ConfigMap {name}/bad" in message and "bad.yaml" in message
    assert "data" in message  # the API server's own words about the refused field
    # Nothing of the commit reached the cluster: no Job, not even the valid object.
    assert await kube.list("batch/v1", "Job", name) == []
    assert await kube.get("v1", "ConfigMap", "b", name) is None
