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

from driftless.devcluster.binaries import Tools, ensure_tools, tool
from driftless.devcluster.cluster import ClusterStatus, DevCluster
from driftless.devcluster.errors import BuildError, DevClusterError

__all__ = [
    "BuildError",
    "ClusterStatus",
    "DevCluster",
    "DevClusterError",
    "Tools",
    "ensure_tools",
    "tool",
]
