"""The manifests that run the controller inside a cluster. Pure.

``controller_manifests(namespace, image)`` returns the ServiceAccount, the
RBAC and the Deployment that ``driftless install`` applies (and prints with
``--dry-run -o yaml``, for those who manage driftless itself with GitOps).

RBAC: a GitOps controller applies whatever kinds its apps contain, so it gets
every verb on every resource cluster-wide (as Argo CD's application
controller does); Projects, not RBAC, fence what each app may do. Narrow the
ClusterRole if your apps only ever manage a known set of kinds.
"""

from __future__ import annotations

from typing import Any

from driftless import __version__

JSON = dict[str, Any]
NAME = "driftless-controller"
DEFAULT_IMAGE = f"ghcr.io/driftless-dev/driftless:v{__version__}"
LABELS = {"app.kubernetes.io/name": "driftless", "app.kubernetes.io/component": "controller"}


def controller_manifests(namespace: str, image: str = DEFAULT_IMAGE) -> list[JSON]:
    meta = {"name": NAME, "namespace": namespace, "labels": LABELS}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": NAME, "labels": LABELS},
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": NAME, "labels": LABELS},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": NAME,
            },
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
        _deployment(meta, namespace, image),
    ]


def _deployment(meta: JSON, namespace: str, image: str) -> JSON:
    container = {
        "name": "controller",
        "image": image,
        "args": ["controller", "--namespace", namespace],
        "env": [{"name": "DRIFTLESS_CACHE_DIR", "value": "/cache"}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"memory": "1Gi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "cache", "mountPath": "/cache"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            # One writer at a time: a rolling update would briefly run two controllers.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": {"runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532},
                    "containers": [container],
                    "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }
