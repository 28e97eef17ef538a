"""Service health.

``type: LoadBalancer`` without any ``status.loadBalancer.ingress`` entry →
Progressing: the cloud (or MetalLB, ...) has not provisioned the address yet.
Every other Service is Healthy once it exists: ClusterIP, NodePort, headless and
ExternalName Services have nothing to wait for (endpoints are the pods' concern).
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, healthy, progressing


def assess(obj: f.Obj) -> HealthResult:
    """The health of a ``v1`` Service."""
    if f.spec(obj).get("type") != "LoadBalancer":
        return healthy()
    ingress = (f.status(obj).get("loadBalancer") or {}).get("ingress") or []
    if not ingress:
        return progressing("waiting for the load balancer to get an address")
    return healthy(f"load balancer at {load_balancer_address(ingress)}")


def load_balancer_address(ingress: list[dict[str, object]]) -> str:
    """The published addresses of a ``status.loadBalancer.ingress`` list, comma-joined."""
    return ", ".join(str(i.get("hostname") or i.get("ip") or "?") for i in ingress)
