"""The embedded local Kubernetes control plane (``driftless devcluster``).

Public surface:

* :class:`DevCluster` — ``up(attached=True)``, ``down()``, ``status()``,
  ``kubeconfig``, ``server``: etcd, kube-apiserver, kube-controller-manager,
  kube-scheduler and kwok as plain processes on 127.0.0.1 (see ``cluster``),
  with a cloud-provider stand-in giving LoadBalancer Services and Ingresses
  the address 127.0.0.1 unless ``addresses=False`` (see ``addresses``);
* :func:`ensure_tools` / :func:`tool` — paths of the pinned kubectl, kustomize
  and helm, built from the Go module proxy on first use (see ``binaries``);
* :class:`DevClusterError`, :class:`BuildError`.

This package depends on nothing in driftless but ``driftless.core``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftless.devcluster.binaries import Tools, ensure_tools, tool
from driftless.devcluster.errors import BuildError, DevClusterError

if TYPE_CHECKING:
    from driftless.devcluster.cluster import ClusterStatus, DevCluster


def __getattr__(name: str) -> Any:
    # The cluster (its PKI: ``cryptography``, ~10 MiB) loads on first use only:
    # the controller imports this package for ``binaries`` alone.
    if name in ("ClusterStatus", "DevCluster"):
        from driftless.devcluster import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BuildError",
    "ClusterStatus",
    "DevCluster",
    "DevClusterError",
    "Tools",
    "ensure_tools",
    "tool",
]
