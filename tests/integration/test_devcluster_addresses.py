"""The dev cluster's cloud-provider stand-in, on the real control plane.

On the default cluster a LoadBalancer Service and a served Ingress get the
address 127.0.0.1 moments after creation, and driftless's health assessment
says Healthy for the live objects. Objects the stand-in must not serve (a
foreign ``loadBalancerClass``, a foreign IngressClass, an address somebody else
set) are left alone. On the cluster started without the stand-in, nothing ever
gets an address.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftless.core.models import HealthStatusCode
from driftless.devcluster import addresses
from driftless.devcluster.cluster import DevCluster
from driftless.health import registry
from tests.fixtures.devcluster import Kubectl, kubectl_for

pytestmark = pytest.mark.integration

DEADLINE = 60.0  # generous: 2 shared cores, several clusters at once
GRACE = 3.0  # how long a left-alone object is watched after a served one got its address
NS = "addresses-test"
NS_BARE = "addresses-bare"


def _service(name: str, ns: str, *, extra_spec: str = "") -> str:
    return f"""\
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: 8080}}
  - {{name: dns, port: 53, protocol: UDP}}
{extra_spec}"""


def _ingress(name: str, ns: str, *, class_line: str = "", annotations: str = "{}") -> str:
    return f"""\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: {ns}, annotations: {annotations}}}
spec:
{class_line}
  rules:
  - host: shop.example.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {{service: {{name: front, port: {{number: 80}}}}}}
"""


def _apply(kubectl: Kubectl, *docs: str) -> None:
    kubectl("apply", "-f", "-", input="\n---\n".join(docs))


def _get(kubectl: Kubectl, kind: str, name: str, ns: str) -> dict[str, Any]:
    result = json.loads(kubectl("get", kind, name, "-n", ns, "-o", "json").stdout)
    assert isinstance(result, dict)
    return result


def _ingress_ips(obj: dict[str, Any]) -> list[str]:
    entries = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(entry.get("ip")) for entry in entries]


def _wait_for(what: str, probe: Callable[[], dict[str, Any]], ok: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + DEADLINE
    while True:
        obj = probe()
        if ok(obj):
            return obj
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {json.dumps(obj.get('status'))}")
        time.sleep(0.2)


def _wait_for_address(kubectl: Kubectl, kind: str, name: str, ns: str) -> dict[str, Any]:
    obj: dict[str, Any] = _wait_for(
        f"{kind} {ns}/{name} never got an address",
        lambda: _get(kubectl, kind, name, ns),
        lambda o: bool(_ingress_ips(o)),
    )
    return obj


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl) -> str:
    kubectl("create", "namespace", NS)
    return NS


def test_load_balancer_service_gets_the_loopback_address_and_is_healthy(
    devcluster: DevCluster, kubectl: Kubectl, namespace: str
) -> None:
    _apply(kubectl, _service("web", namespace))
    live = _wait_for_address(kubectl, "service", "web", namespace)
    # What the bare cluster's test looks for: kwok watching Services and Ingresses.
    assert "watching stages" in (devcluster.logs_dir / "kwok.log").read_text()
    assert devcluster.status().addresses is True

    (entry,) = live["status"]["loadBalancer"]["ingress"]
    assert entry["ip"] == addresses.LOOPBACK
    assert entry["ports"] == [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]
    verdict = registry.assess(live)
    assert verdict.status == HealthStatusCode.HEALTHY, verdict
    assert "127.0.0.1" in verdict.message


def test_ingress_without_class_and_with_the_served_class_get_an_address_and_are_healthy(
    kubectl: Kubectl, namespace: str
) -> None:
    served = addresses.INGRESS_CLASS
    _apply(
        kubectl,
        _ingress("classless", namespace),
        _ingress("named", namespace, class_line=f"  ingressClassName: {served}"),
        _ingress("legacy", namespace, annotations=f"{{kubernetes.io/ingress.class: {served}}}"),
    )
    for name in ("classless", "named", "legacy"):
        live = _wait_for_address(kubectl, "ingress", name, namespace)
        assert _ingress_ips(live) == [addresses.LOOPBACK]
        verdict = registry.assess(live)
        assert verdict.status == HealthStatusCode.HEALTHY, (name, verdict)
    # The served class is a real object a user can list.
    found = json.loads(kubectl("get", "ingressclass", served, "-o", "json").stdout)
    assert found["spec"]["controller"] == addresses.INGRESS_CONTROLLER
    default = "ingressclass.kubernetes.io/is-default-class"
    assert default not in (found["metadata"].get("annotations") or {})
    # Not the default class: a classless Ingress keeps no class (git never had one).
    classless = _get(kubectl, "ingress", "classless", namespace)
    assert "ingressClassName" not in classless["spec"]


def test_objects_for_another_provider_or_class_are_left_alone(
    kubectl: Kubectl, namespace: str
) -> None:
    """Hostile to the stand-in: it must not claim what a real cluster would leave pending."""
    _apply(
        kubectl,
        _service("other-lb", namespace, extra_spec="  loadBalancerClass: example.com/metal\n"),
        _ingress("nginx", namespace, class_line="  ingressClassName: nginx"),
        _ingress("legacy-nginx", namespace, annotations="{kubernetes.io/ingress.class: nginx}"),
    )
    # Served controls created afterwards: once they have addresses, the stand-in
    # has seen the others too.
    _apply(kubectl, _service("control-lb", namespace), _ingress("control", namespace))
    _wait_for_address(kubectl, "service", "control-lb", namespace)
    _wait_for_address(kubectl, "ingress", "control", namespace)
    time.sleep(GRACE)

    left_alone = [("service", "other-lb"), ("ingress", "nginx"), ("ingress", "legacy-nginx")]
    for kind, name in left_alone:
        live = _get(kubectl, kind, name, namespace)
        assert _ingress_ips(live) == [], (kind, name)
        verdict = registry.assess(live)
        assert verdict.status == HealthStatusCode.PROGRESSING, (name, verdict)


def test_an_address_set_by_someone_else_is_never_overwritten(
    kubectl: Kubectl, namespace: str
) -> None:
    _apply(kubectl, _service("taken", namespace))
    _wait_for_address(kubectl, "service", "taken", namespace)
    foreign = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}
    kubectl(
        "patch", "service", "taken", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", json.dumps(foreign),
    )  # fmt: skip
    # A later change to the Service gives the stand-in a fresh look at it.
    kubectl("label", "service", "taken", "-n", namespace, "touched=yes")
    time.sleep(GRACE)
    assert _ingress_ips(_get(kubectl, "service", "taken", namespace)) == ["192.0.2.10"]


def test_a_service_that_stops_being_a_load_balancer_releases_the_address(
    kubectl: Kubectl, namespace: str
) -> None:
    _apply(kubectl, _service("shrinking", namespace))
    _wait_for_address(kubectl, "service", "shrinking", namespace)
    kubectl(
        "patch", "service", "shrinking", "-n", namespace, "--type=merge",
        "-p", json.dumps({"spec": {"type": "ClusterIP"}}),
    )  # fmt: skip
    _wait_for(
        "the ClusterIP Service kept its load-balancer address",
        lambda: _get(kubectl, "service", "shrinking", namespace),
        lambda o: not _ingress_ips(o),
    )


def test_without_the_stand_in_nothing_gets_an_address(
    devcluster_without_addresses: DevCluster, kubectl_without_addresses: Kubectl
) -> None:
    kubectl = kubectl_without_addresses
    assert devcluster_without_addresses.status().addresses is False
    kubectl("create", "namespace", NS_BARE)
    _apply(kubectl, _service("web", NS_BARE), _ingress("classless", NS_BARE))
    # A Deployment's Pods turn Running only through kwok: once they do, kwok has
    # been running (and would have patched the others) for a while.
    kubectl("create", "deployment", "probe", "-n", NS_BARE, "--image=registry.invalid/x:1")
    kubectl("rollout", "status", "deployment/probe", "-n", NS_BARE, "--timeout=60s")
    time.sleep(GRACE)

    for kind, name in (("service", "web"), ("ingress", "classless")):
        live = _get(kubectl, kind, name, NS_BARE)
        assert _ingress_ips(live) == [], (kind, name)
        assert registry.assess(live).status == HealthStatusCode.PROGRESSING
    missing = kubectl("get", "ingressclass", addresses.INGRESS_CLASS, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    # The stand-in was not merely slow: kwok never loaded its stages.
    kwok_log = (devcluster_without_addresses.logs_dir / "kwok.log").read_text()
    assert "watching stages" not in kwok_log


def test_the_stand_in_keeps_serving_after_an_apiserver_restart(tmp_path: Path) -> None:
    """kwok's watches of Services and Ingresses outlive an apiserver outage."""
    with DevCluster(
        "addresses-restart", state_dir=tmp_path / "state", progress=lambda _: None
    ) as cluster:
        kubectl = kubectl_for(cluster)
        cluster.stop_apiserver()
        cluster.start_apiserver()
        _apply(kubectl, _service("after-restart", "default"), _ingress("after-restart", "default"))
        for kind in ("service", "ingress"):
            live = _wait_for_address(kubectl, kind, "after-restart", "default")
            assert _ingress_ips(live) == [addresses.LOOPBACK]
