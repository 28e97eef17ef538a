"""Notifications end to end: the real control plane, the real controller (with the
notification engine as its observer), real git, and a loopback webhook receiver
that checks each request against the webhook service's documented format."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION
from driftless.core.wellknown import SECRET_TYPE_LABEL
from driftless.kube.client import KubeClient
from driftless.notifications.engine import NOTIFICATION_SECRET_TYPE, NotificationEngine
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.receivers import HttpReceivers, Recorded
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    configmap_manifest,
    create_app,
    ready,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

HMAC_KEY = "notif-hmac-key-7f3a"
BODY = (
    "{{ app.name }} {{ trigger }} {{ short_revision }}\n"
    # ``commit`` is always there (empty fields when it was not read).
    "{{ commit.message or 'no commit' }} by {{ commit.author.name }}"
)

STUCK = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 1
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      nodeSelector: {nowhere: "true"}
      containers: [{name: app, image: example.com/stuck:1}]
"""
AFTER = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: after
  annotations: {driftless.dev/sync-wave: "1"}
data: {value: "1"}
"""


async def _until(check: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def receivers() -> Any:
    receiver = HttpReceivers(hmac_key=HMAC_KEY).start()
    yield receiver
    receiver.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def engine(kube: KubeClient, controller: Controller) -> AsyncIterator[NotificationEngine]:
    """The engine on the session's controller, its home a namespace no test writes to
    (so rules in the apps' namespace are a tenant's rules)."""
    instance = NotificationEngine(
        kube,
        home=unique("notif-admins"),
        git=controller.reconciler.git,
        ui_url="https://ui.example.test",
        allow_private_networks=True,  # the receivers listen on 127.0.0.1
    )
    task = asyncio.create_task(instance.run())
    controller.observer = instance
    try:
        yield instance
    finally:
        controller.observer = None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _service(
    kube: KubeClient, namespace: str, name: str, url: str, *, labelled: bool = True
) -> None:
    labels = {SECRET_TYPE_LABEL: NOTIFICATION_SECRET_TYPE} if labelled else {}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {
            "url": base64.b64encode(url.encode()).decode(),
            "hmacKey": base64.b64encode(HMAC_KEY.encode()).decode(),
        },
    }
    await kube.apply(secret, field_manager="test")
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": "NotificationService",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "webhook", "secretRef": {"name": name}},
        },
        field_manager="test",
    )


async def _rule(kube: KubeClient, namespace: str, name: str, spec: dict[str, Any]) -> None:
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": "NotificationRule",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        },
        field_manager="test",
    )


async def _ready_condition(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    rule = await kube.get(API_VERSION, "NotificationRule", name, namespace)
    for cond in ((rule or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


async def _ready_true(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    cond = await _ready_condition(kube, namespace, name)
    return cond if cond is not None and cond["status"] == "True" else None


async def _ready_reason(
    kube: KubeClient, namespace: str, name: str, reason: str
) -> dict[str, Any] | None:
    cond = await _ready_condition(kube, namespace, name)
    return cond if cond is not None and cond["reason"] == reason else None


async def _events(kube: KubeClient, namespace: str, name: str) -> list[dict[str, Any]]:
    events = await kube.list("v1", "Event", namespace)
    return [e for e in events if e.get("involvedObject", {}).get("name") == name]


async def test_rules_deliver_once_each_name_broken_templates_and_stay_in_their_namespace(
    kube: KubeClient,
    controller: Controller,
    engine: NotificationEngine,
    receivers: HttpReceivers,
    make_git_repo: MakeGitRepo,
) -> None:
    good_app, bad_app = unique("notif-good"), unique("notif-bad")
    other_ns = unique("notif-tenant-b")
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other_ns}},
        field_manager="test",
    )
    secret_path = "/apps-7b1e9c"  # a webhook URL is a credential: never shown anywhere
    await _service(kube, APPS_NAMESPACE, "hook", receivers.url("hook", secret_path))
    await _service(kube, other_ns, "hook", receivers.url("hook", "/tenant-b"))
    triggers = ["on-sync-running", "on-sync-succeeded", "on-deployed", "on-sync-failed"]
    selector = {"apps": [good_app, bad_app]}
    await _rule(
        kube,
        APPS_NAMESPACE,
        "team",
        {
            "services": ["hook"],
            "triggers": triggers,
            "selector": selector,
            "template": {"title": "{{ app.name }}: {{ trigger }}", "body": BODY},
        },
    )
    # Parses, fails when rendered (a misspelt variable on line 2): skipped with an Event.
    await _rule(
        kube,
        APPS_NAMESPACE,
        "typo",
        {
            "services": ["hook"],
            "triggers": ["on-sync-succeeded"],
            "selector": selector,
            "template": {"body": "fine\n{{ app.nmae }}"},
        },
    )
    # Does not parse: Ready=False naming the line, before anything is sent.
    await _rule(
        kube,
        APPS_NAMESPACE,
        "syntax",
        {
            "services": ["hook"],
            "triggers": ["on-sync-succeeded"],
            "selector": selector,
            "template": {"body": "a\nb\n{% if %}"},
        },
    )
    # A template that hits the worker's memory limit: the rule is quarantined (one Event)
    # until it changes, while the other rules' messages go on.
    hog = {
        "services": ["hook"],
        "triggers": triggers,
        "selector": selector,
        "template": {"body": "{{ 'x'.center(450000000) }}"},
    }
    await _rule(kube, APPS_NAMESPACE, "hog", hog)
    # Problems a rule's author must see: a service that does not exist, a Secret missing.
    await _rule(kube, APPS_NAMESPACE, "nosvc", {"services": ["nope"], "triggers": triggers})
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": "NotificationService",
            "metadata": {"name": "nosecret", "namespace": APPS_NAMESPACE},
            "spec": {"type": "webhook", "secretRef": {"name": "absent"}},
        },
        field_manager="test",
    )
    await _rule(kube, APPS_NAMESPACE, "nosecret", {"services": ["nosecret"], "triggers": triggers})
    # A Secret without the notification label: never read, never sent (the confused
    # deputy: a tenant must not make the controller ship any Secret to its own host).
    unlabelled_path = "/unlabelled-5c2d"
    await _service(
        kube, APPS_NAMESPACE, "unlabelled", receivers.url("hook", unlabelled_path), labelled=False
    )
    await _rule(
        kube,
        APPS_NAMESPACE,
        "unlabelled",
        {"services": ["unlabelled"], "triggers": triggers, "selector": selector},
    )
    # A service that is down: retries, then a DeliveryFailed Event on the service.
    await _service(kube, APPS_NAMESPACE, "down", f"http://127.0.0.1:{_closed_port()}{secret_path}")
    await _rule(
        kube,
        APPS_NAMESPACE,
        "to-down",
        {"services": ["down"], "triggers": ["on-deployed"], "selector": selector},
    )
    # Another tenant's rule, selecting everything it may see: apps of its own namespace only.
    await _rule(kube, other_ns, "everything", {"services": ["hook"], "triggers": triggers})

    cond = await _until_async(lambda: _ready_condition(kube, APPS_NAMESPACE, "syntax"))
    assert (cond["status"], cond["reason"]) == ("False", "TemplateError")
    assert "template body, line 3" in cond["message"]
    assert await _until_async(
        lambda: _has_event(kube, APPS_NAMESPACE, "syntax", "TemplateError", "line 3")
    )
    messages = {}
    for rule, reason in (
        ("nosvc", "ServiceNotFound"),
        ("nosecret", "SecretNotFound"),
        ("unlabelled", "SecretNotFound"),
    ):
        cond = await _until_async(lambda r=rule: _ready_condition(kube, APPS_NAMESPACE, r))
        assert (cond["status"], cond["reason"]) == ("False", reason)
        messages[rule] = cond["message"]
    # Missing and unlabelled read alike: no oracle of which Secrets exist.
    unknown = "not found in {} or not labelled driftless.dev/secret-type: notification"
    assert messages["nosecret"] == "service 'nosecret': Secret 'absent' " + unknown.format(
        APPS_NAMESPACE
    )
    assert messages["unlabelled"] == "service 'unlabelled': Secret 'unlabelled' " + unknown.format(
        APPS_NAMESPACE
    )
    team = await _until_async(lambda: _ready_condition(kube, APPS_NAMESPACE, "team"))
    assert team["status"] == "True"
    # The engine has read the down service's Secret too (Secrets are listed at most every
    # 10 s: a message due before that would find no Secret and not be sent).
    assert await _until_async(lambda: _ready_true(kube, APPS_NAMESPACE, "to-down"))
    await asyncio.sleep(1.0)  # the engine has listed the rules (the checker wrote status)

    repo = make_git_repo({"cm.yaml": configmap_manifest("settings", {"color": "blue"})})
    sha = repo.commit(
        {"cm.yaml": configmap_manifest("settings", {"color": "green"})}, "Paint it green"
    )
    await create_app(kube, application(good_app, repo.url))
    await wait_for(kube, good_app, ready)

    def good(trigger: str) -> list[Recorded]:
        return [r for r in receivers.of("hook") if r.path == secret_path
                and r.json["trigger"] == trigger and r.json["app"]["name"] == good_app]  # fmt: skip

    deployed = await _until(lambda: good("on-deployed"), "on-deployed")
    running, succeeded = good("on-sync-running"), good("on-sync-succeeded")
    await asyncio.sleep(2.0)  # anything repeated would have arrived by now
    assert [len(good(t)) for t in ("on-sync-running", "on-sync-succeeded", "on-deployed")] == [
        1,
        1,
        1,
    ]
    for record in (*running, *succeeded, *deployed):
        assert record.problems == [] and record.status == 200
        assert record.json["revision"] == sha
    message = succeeded[0].json
    assert message["title"] == f"{good_app}: on-sync-succeeded"
    assert (
        message["body"]
        == f"{good_app} on-sync-succeeded {sha[:8]}\nPaint it green by driftless tests"
    )
    assert message["status"] == "success" and running[0].json["status"] == "pending"
    assert message["app_url"] == f"https://ui.example.test/applications/{APPS_NAMESPACE}/{good_app}"

    # The hog: quarantined at its first message, told once, the later triggers skipped.
    cond = await _until_async(
        lambda: _ready_reason(kube, APPS_NAMESPACE, "hog", "TemplateQuarantined")
    )
    assert cond["status"] == "False"
    assert "out of memory" in cond["message"]
    await asyncio.sleep(1.0)
    quarantined = [
        e
        for e in await _events(kube, APPS_NAMESPACE, "hog")
        if e["reason"] == "TemplateQuarantined"
    ]
    assert len(quarantined) == 1
    # A new generation lifts the quarantine.
    await _rule(kube, APPS_NAMESPACE, "hog", {**hog, "template": {"body": "fine"}})
    assert await _until_async(lambda: _ready_true(kube, APPS_NAMESPACE, "hog"), timeout=60)

    # The rule with a runtime error sent nothing, and said where it broke.
    assert await _until_async(
        lambda: _has_event(kube, APPS_NAMESPACE, "typo", "TemplateFailed", "template body, line 2")
    )

    # A sync that fails: a wave that never turns healthy (its pods cannot be scheduled)
    # fails the operation at the Deployment's progress deadline.
    broken = make_git_repo({"dep.yaml": STUCK, "cm.yaml": AFTER})
    await create_app(kube, application(bad_app, broken.url))
    failed = await _until(
        lambda: [r for r in receivers.of("hook")
                 if r.json["trigger"] == "on-sync-failed" and r.json["app"]["name"] == bad_app],
        "on-sync-failed",
    )  # fmt: skip
    assert failed[0].json["status"] == "failure" and failed[0].problems == []

    # The service that is down: given up after its retries, told on the service.
    assert await _until_async(
        lambda: _has_event(kube, APPS_NAMESPACE, "down", "DeliveryFailed", "on-deployed"),
        timeout=180,
    )
    assert secret_path not in str(await _events(kube, APPS_NAMESPACE, "down"))

    # The service whose Secret is not labelled sent nothing, its URL unused.
    assert [r for r in receivers.of("hook") if r.path == unlabelled_path] == []
    # Tenant B's rule heard of nothing: the apps live in another namespace.
    assert [r for r in receivers.of("hook") if r.path == "/tenant-b"] == []
    # The webhook URL (a Secret's value) is in no status and no Event.
    for name in ("team", "typo", "syntax", "to-down"):
        rule = await kube.get(API_VERSION, "NotificationRule", name, APPS_NAMESPACE)
        assert secret_path not in str(rule)
        assert secret_path not in str(await _events(kube, APPS_NAMESPACE, name))


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until_async(check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError("timed out")


async def _has_event(kube: KubeClient, namespace: str, name: str, reason: str, text: str) -> bool:
    return any(
        e.get("reason") == reason and text in e.get("message", "")
        for e in await _events(kube, namespace, name)
    )
