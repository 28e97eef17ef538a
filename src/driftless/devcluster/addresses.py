"""The dev cluster's cloud-provider stand-in: addresses for LoadBalancer Services and Ingresses.

A bare cluster has no cloud controller and no ingress controller, so a
``type: LoadBalancer`` Service and an Ingress never get an address and stay
Progressing for good. Local-cluster tools ship a small stand-in for this (kind's
cloud-provider-kind, k3s's servicelb); ours is a set of kwok *Stages* — the
kwok process that already plays the kubelet also patches these status
subresources, so the stand-in costs no extra process and no start time.

Contract, when a dev cluster runs with addresses (the default):

* a Service with ``spec.type: LoadBalancer``, no ``spec.loadBalancerClass`` and
  no ``status.loadBalancer.ingress`` gets ``status.loadBalancer.ingress:
  [{ip: 127.0.0.1, ipMode: VIP, ports: <one per spec port>}]`` within moments;
  a Service naming a ``loadBalancerClass`` is left to that (absent) provider,
  as Kubernetes' own service controller does;
* a Service that is not (or no longer) ``LoadBalancer`` and shows the loopback
  address loses it, as Kubernetes' service controller releases the address of
  a Service whose type changes (kwok cannot tell who wrote an address, so one
  written by hand on such a Service goes too);
* an Ingress gets ``status.loadBalancer.ingress: [{ip: 127.0.0.1}]`` when it
  names :data:`INGRESS_CLASS` (``spec.ingressClassName`` or the legacy
  ``kubernetes.io/ingress.class`` annotation) or names no class at all, like an
  ingress controller started with ``--watch-ingress-without-class``. An Ingress
  naming any other class (``nginx``, ...) is left alone: no controller of that
  class runs here, and on a real cluster it would stay without an address too.
  The :data:`INGRESS_CLASS` IngressClass object exists so ``kubectl get
  ingressclass`` shows what is served; it is deliberately *not* the default
  class, because the apiserver would then write ``spec.ingressClassName`` into
  classless Ingresses at creation, a field git never had;
* a LoadBalancer Service or an Ingress whose status already carries an
  address (set by someone else, or by us before) is never touched: an Ingress
  that later moves to another class keeps the address it got, which is what
  an ingress controller that stopped watching it would leave behind too.

With ``addresses=False`` none of these stages is loaded and the IngressClass is
not created: the cluster behaves as a bare one, which is what tests of "an
object that never turns Healthy" need.
"""

from __future__ import annotations

import json
from typing import Any, Final

#: The address handed out: the only one a test or a user on this machine can reach.
LOOPBACK: Final = "127.0.0.1"
#: The IngressClass the stand-in serves (besides classless Ingresses).
INGRESS_CLASS: Final = "driftless-devcluster"
#: ``spec.controller`` of that IngressClass.
INGRESS_CONTROLLER: Final = "driftless.dev/devcluster-ingress"
#: File name of the stage config, in the cluster's state dir.
STAGES_FILE: Final = "kwok-addresses.yaml"

_LEGACY_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"
_NO_ADDRESS: Final = {"key": ".status.loadBalancer.ingress", "operator": "DoesNotExist"}
_NOT_DELETING: Final = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}

# kwok renders these Go templates against the live object; the result is the
# status patch. Only schema-validated fields reach them (port numbers, protocol
# enums), so a user's object cannot inject anything into the patch.
_SERVICE_STATUS: Final = (
    '{"loadBalancer": {"ingress": [{"ip": "' + LOOPBACK + '", "ipMode": "VIP", "ports": ['
    "{{ range $i, $p := .spec.ports }}{{ if $i }}, {{ end }}"
    '{"port": {{ $p.port }}, "protocol": {{ or $p.protocol "TCP" | Quote }}}'
    "{{ end }}]}]}}"
)
_INGRESS_STATUS: Final = '{"loadBalancer": {"ingress": [{"ip": "' + LOOPBACK + '"}]}}'
# A strategic merge patch: null removes the key.
_RELEASED_STATUS: Final = '{"loadBalancer": {"ingress": null}}'


def _stage(name: str, api_group: str, kind: str, match: list[dict[str, Any]], status: str) -> Any:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": api_group, "kind": kind},
            "selector": {"matchExpressions": match},
            "next": {"statusTemplate": status},
        },
    }


def _in(key: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": "In", "values": list(values)}


def _absent(key: str) -> dict[str, Any]:
    return {"key": key, "operator": "DoesNotExist"}


def stages() -> list[dict[str, Any]]:
    """The kwok Stage objects of the stand-in (see the module docstring)."""
    legacy_class = f'.metadata.annotations["{_LEGACY_CLASS_ANNOTATION}"]'
    ingress_pending = [_NO_ADDRESS, _NOT_DELETING]
    return [
        _stage(
            "driftless-service-load-balancer",
            "v1",
            "Service",
            [
                _in(".spec.type", "LoadBalancer"),
                _absent(".spec.loadBalancerClass"),
                _NO_ADDRESS,
                _NOT_DELETING,
            ],
            _SERVICE_STATUS,
        ),
        _stage(
            "driftless-service-load-balancer-release",
            "v1",
            "Service",
            [
                {"key": ".spec.type", "operator": "NotIn", "values": ["LoadBalancer"]},
                _in(".status.loadBalancer.ingress[]?.ip", LOOPBACK),
            ],
            _RELEASED_STATUS,
        ),
        _stage(
            "driftless-ingress-class",
            "networking.k8s.io/v1",
            "Ingress",
            [_in(".spec.ingressClassName", INGRESS_CLASS), *ingress_pending],
            _INGRESS_STATUS,
        ),
        _stage(
            "driftless-ingress-legacy-class",
            "networking.k8s.io/v1",
            "Ingress",
            [
                _absent(".spec.ingressClassName"),
                _in(legacy_class, INGRESS_CLASS),
                *ingress_pending,
            ],
            _INGRESS_STATUS,
        ),
        _stage(
            "driftless-ingress-classless",
            "networking.k8s.io/v1",
            "Ingress",
            [_absent(".spec.ingressClassName"), _absent(legacy_class), *ingress_pending],
            _INGRESS_STATUS,
        ),
    ]


def stages_yaml() -> str:
    """:func:`stages` as one multi-document YAML file (JSON documents, which YAML reads)."""
    return "\n---\n".join(json.dumps(stage, indent=2) for stage in stages()) + "\n"


def ingress_class() -> dict[str, Any]:
    """The IngressClass object naming what the stand-in serves (not the default class)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": INGRESS_CLASS},
        "spec": {"controller": INGRESS_CONTROLLER},
    }
