"""An API server shedding load (429 + Retry-After) delays a request; it does not fail it.

A dev cluster of its own runs API Priority and Fairness (the shared one runs
without it), with one ServiceAccount's requests sent to a priority level of
no seats that rejects (``limitResponse: Reject``): such a level still runs a
request when nothing else of it is running, and sheds every other one. A
first apply of that account is held by a validating webhook of the test's
own (a real HTTPS server the API server calls), so it keeps the level busy;
a second apply is then answered ``429 Too Many Requests`` with a
``Retry-After``. Once the API server's own metrics count the rejection, the
webhook lets the first apply go, and the second must land: sent again after
the server's ``Retry-After``, as client-go does, not reported as a failure
that a reconcile would turn into a Failed sync.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.render.lookup_server import _tls
from tests.fixtures.devcluster import Kubectl, kubectl_for
from tests.integration.test_install_scope import service_account_kubeconfig

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

FLOW = "flowcontrol.apiserver.k8s.io/v1"
ADMISSION = "admissionregistration.k8s.io/v1"
MANAGER = "driftless-test"
NAMESPACE = "shed"
LEVEL = "shed"
HOLD = {"driftless.dev/test-hold": "yes"}


@pytest.fixture(scope="module")
def flow_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    """A dev cluster with API Priority and Fairness on; no nodes: only the API server
    is asked anything here."""
    with DevCluster(
        "pytest-apf",
        state_dir=tmp_path_factory.mktemp("devcluster-apf"),
        nodes=0,
        flow_control=True,
    ) as cluster:
        yield cluster


async def test_an_apply_shed_with_429_is_sent_again_and_lands(
    flow_cluster: DevCluster, tmp_path: Path
) -> None:
    kubectl = kubectl_for(flow_cluster)
    kube = await KubeClient.from_kubeconfig(str(flow_cluster.kubeconfig))
    writer = await _writer(flow_cluster, kube, kubectl, tmp_path)
    try:
        await _shed_all_but_one_request_of_the_writer(kube)
        async with _holding_webhook() as (held, release, url, ca):
            await _send_held_objects_to(kube, url, ca)
            first = asyncio.create_task(
                writer.apply(_configmap("held", HOLD), field_manager=MANAGER)
            )
            await asyncio.wait_for(held.wait(), timeout=30)  # the level's one request runs
            second = asyncio.create_task(writer.apply(_configmap("kept"), field_manager=MANAGER))
            await _until_rejected(kubectl, second.done)
            assert not second.done(), f"the 429 was reported, not sent again: {second!r}"
            release.set()
            await asyncio.wait_for(asyncio.gather(first, second), timeout=60)
        for name in ("held", "kept"):
            live = await kube.get("v1", "ConfigMap", name, NAMESPACE)
            assert live is not None and live["data"] == {"a": "1"}, name
    finally:
        await writer.close()
        await kube.close()


async def _writer(
    cluster: DevCluster, kube: KubeClient, kubectl: Kubectl, tmp_path: Path
) -> KubeClient:
    """A client with the token of ServiceAccount ``writer``, who may edit ``NAMESPACE``."""
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        field_manager=MANAGER,
    )
    kubectl("create", "sa", "writer", "-n", NAMESPACE)
    kubectl("create", "rolebinding", "writer", "-n", NAMESPACE, "--clusterrole=edit",
            f"--serviceaccount={NAMESPACE}:writer")  # fmt: skip
    token = kubectl("create", "token", "writer", "-n", NAMESPACE, "--duration", "1h")
    config = service_account_kubeconfig(cluster, token.stdout.strip(), tmp_path / "sa.yaml")
    return await KubeClient.from_kubeconfig(str(config))


def _configmap(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"a": "1"}}


async def _shed_all_but_one_request_of_the_writer(kube: KubeClient) -> None:
    """A priority level with no seats that rejects, and a flow schema sending the
    ``writer`` account to it; returns once flow control took them in."""
    limited = {
        "nominalConcurrencyShares": 0,
        "lendablePercent": 0,
        "borrowingLimitPercent": 0,
        "limitResponse": {"type": "Reject"},
    }
    await kube.apply(
        {
            "apiVersion": FLOW,
            "kind": "PriorityLevelConfiguration",
            "metadata": {"name": LEVEL},
            "spec": {"type": "Limited", "limited": limited},
        },
        field_manager=MANAGER,
    )
    writer = {
        "kind": "ServiceAccount",
        "serviceAccount": {"name": "writer", "namespace": NAMESPACE},
    }
    everything = {
        "verbs": ["*"],
        "apiGroups": ["*"],
        "resources": ["*"],
        "namespaces": ["*"],
        "clusterScope": True,
    }
    await kube.apply(
        {
            "apiVersion": FLOW,
            "kind": "FlowSchema",
            "metadata": {"name": LEVEL},
            "spec": {
                "priorityLevelConfiguration": {"name": LEVEL},
                "matchingPrecedence": 50,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{"subjects": [writer], "resourceRules": [everything]}],
            },
        },
        field_manager=MANAGER,
    )
    for _ in range(300):
        live = await kube.get(FLOW, "FlowSchema", LEVEL)
        conditions = ((live or {}).get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Dangling" and c.get("status") == "False" for c in conditions):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"flow control never took FlowSchema {LEVEL} in")


Holding = tuple[asyncio.Event, asyncio.Event, str, str]


@asynccontextmanager
async def _holding_webhook() -> AsyncIterator[Holding]:
    """An HTTPS validating webhook on loopback that answers "allowed" only once
    ``release`` is set; ``held`` is set when a review arrives. Yields (held,
    release, its URL, its CA bundle in PEM)."""
    held, release = asyncio.Event(), asyncio.Event()

    async def review(request: web.Request) -> web.Response:
        body = await request.json()
        held.set()
        await release.wait()
        uid = body["request"]["uid"]
        answer = {"apiVersion": body["apiVersion"], "kind": "AdmissionReview"}
        return web.json_response({**answer, "response": {"uid": uid, "allowed": True}})

    app = web.Application()
    app.router.add_post("/validate", review)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    context, ca = _tls()
    await web.SockSite(runner, sock, ssl_context=context).start()
    try:
        yield held, release, f"https://127.0.0.1:{sock.getsockname()[1]}/validate", ca
    finally:
        release.set()
        await runner.cleanup()


async def _send_held_objects_to(kube: KubeClient, url: str, ca: str) -> None:
    """Register the webhook for ConfigMaps labelled ``HOLD`` (nothing else waits on it)."""
    await kube.apply(
        {
            "apiVersion": ADMISSION,
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "driftless-test-hold"},
            "webhooks": [
                {
                    "name": "hold.driftless.dev",
                    "clientConfig": {
                        "url": url,
                        "caBundle": base64.b64encode(ca.encode()).decode(),
                    },
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["configmaps"],
                        }
                    ],
                    "objectSelector": {"matchLabels": HOLD},
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "failurePolicy": "Fail",
                    "timeoutSeconds": 30,
                }
            ],
        },
        field_manager=MANAGER,
    )


async def _until_rejected(kubectl: Kubectl, gave_up: Callable[[], bool]) -> None:
    """Wait until the API server's metrics count a request it rejected at ``LEVEL``."""
    pattern = re.compile(
        r"^apiserver_flowcontrol_rejected_requests_total\{[^}]*"
        rf'priority_level="{LEVEL}"[^}}]*\}} (\S+)$',
        re.MULTILINE,
    )
    for _ in range(100):
        metrics = await asyncio.to_thread(kubectl, "get", "--raw", "/metrics")
        if sum(float(count) for count in pattern.findall(metrics.stdout)) >= 1 or gave_up():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the API server never shed a request at priority level {LEVEL}")
