"""Ingress health.

Healthy once the ingress controller has published an address in
``status.loadBalancer.ingress``; Progressing until then — the behaviour Argo CD
users know, and what a sync wave needs before anything depends on the Ingress's
address (DNS records, certificates).

Caveat, said in the message: some ingress controllers never publish an address
(ingress-nginx without ``--publish-service``, or no controller at all in a test
cluster); those Ingresses stay Progressing. Override the verdict with a custom
health check for ``networking.k8s.io/Ingress`` (e.g. a single rule
``when: "true"``, ``status: Healthy``).
"""

from __future__ import annotations

from driftless.health import _fields as f
from driftless.health.result import HealthResult, healthy, progressing
from driftless.health.service import load_balancer_address


def assess(obj: f.Obj) -> HealthResult:
    """The health of a ``networking.k8s.io/v1`` Ingress."""
    ingress = (f.status(obj).get("loadBalancer") or {}).get("ingress") or []
    if not ingress:
        return progressing(
            "waiting for the ingress controller to publish an address"
            " (if yours never does, override with a custom health check)"
        )
    return healthy(f"address {load_balancer_address(ingress)}")
