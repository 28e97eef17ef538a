"""The manifests that run the controller inside a cluster. Pure.

``controller_manifests(namespace, image, scope=)`` returns the
ServiceAccount, the RBAC and the Deployment that ``driftless install``
applies (and prints with ``--dry-run``, for those who manage driftless itself
with GitOps).

RBAC, by ``scope``:

* ``cluster`` (default): a GitOps controller applies whatever kinds its apps
  contain, so it gets every verb on every resource cluster-wide (as Argo CD's
  application controller does); Projects, not RBAC, fence what each app may
  do.
  The ClusterRole and its binding are named after the install namespace
  (``driftless-controller-<namespace>``): cluster-scoped names are shared by
  every install, so two installs (or uninstalling one of them) must never
  touch each other's binding.
* ``namespace`` (single tenant): a Role and RoleBinding in ``namespace`` only.
  The controller cannot read or write any other namespace, nor any
  cluster-scoped object: apps deploy into that namespace or fail with a
  permission error.

Least privilege inside the pod: the pod does not automount its token
(``automountServiceAccountToken: false``). The token, the cluster CA and the
namespace are projected into the ``controller`` container only, at the path
client libraries expect. Rendering (helm, kustomize, Jsonnet, YAML parsing of
repository content) runs in a second container, ``renderer``
(``driftless render-server``), which has no token and sees the git/chart
cache read-only; the two talk over a Unix socket in a shared ``emptyDir``.
Both run as non-root with a read-only root file system, no capabilities,
no privilege escalation, the runtime's default seccomp profile, and
resource limits.
"""

from __future__ import annotations

from typing import Any, Literal

from driftless import __version__

JSON = dict[str, Any]
Scope = Literal["cluster", "namespace"]
NAME = "driftless-controller"
DEFAULT_IMAGE = f"ghcr.io/driftless-dev/driftless:v{__version__}"
LABELS = {"app.kubernetes.io/name": "driftless", "app.kubernetes.io/component": "controller"}
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
SOCKET_DIR = "/run/driftless"
RENDER_SOCKET = f"{SOCKET_DIR}/render.sock"
CACHE_DIR = "/cache"
USER_ID = 65532
TOKEN_SECONDS = 3607  # what the kubelet uses for automounted tokens
_RULES_ALL = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]


def controller_manifests(
    namespace: str, image: str = DEFAULT_IMAGE, *, scope: Scope = "cluster"
) -> list[JSON]:
    """ServiceAccount, RBAC of ``scope`` and the Deployment (see the module docstring)."""
    meta = {"name": NAME, "namespace": namespace, "labels": LABELS}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        *rbac(namespace, scope),
        _deployment(meta, namespace, image, scope),
    ]


def rbac(namespace: str, scope: Scope) -> list[JSON]:
    """The role and its binding to the controller's ServiceAccount."""
    subjects = [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]
    if scope == "namespace":
        meta = {"name": NAME, "namespace": namespace, "labels": LABELS}
        role_kind = "Role"
        rules = _RULES_ALL
    else:
        meta = {"name": cluster_rbac_name(namespace), "labels": LABELS}
        role_kind = "ClusterRole"
        rules = [*_RULES_ALL, {"nonResourceURLs": ["*"], "verbs": ["get"]}]
    api = "rbac.authorization.k8s.io"
    return [
        {"apiVersion": f"{api}/v1", "kind": role_kind, "metadata": meta, "rules": rules},
        {
            "apiVersion": f"{api}/v1",
            "kind": f"{role_kind}Binding",
            "metadata": meta,
            "roleRef": {"apiGroup": api, "kind": role_kind, "name": meta["name"]},
            "subjects": subjects,
        },
    ]


def cluster_rbac_name(namespace: str) -> str:
    """Name of the ClusterRole and ClusterRoleBinding of the install in ``namespace``."""
    return f"{NAME}-{namespace}"


def binds_this_install(binding: JSON | None, namespace: str) -> bool:
    """Whether a ClusterRoleBinding grants only this install's ServiceAccount.

    Used for the binding an earlier version named plainly ``driftless-controller``:
    it belongs to this install (and may be removed with it) only when its sole
    subject is the controller's ServiceAccount in ``namespace``.
    """
    if binding is None:
        return False
    subject = {"kind": "ServiceAccount", "name": NAME, "namespace": namespace}
    return bool(binding.get("subjects") == [subject])


def all_rbac(namespace: str) -> list[JSON]:
    """The RBAC objects of either scope (what uninstall removes)."""
    return [*rbac(namespace, "cluster"), *rbac(namespace, "namespace")]


def _security_context() -> JSON:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _controller(namespace: str, image: str, scope: Scope) -> JSON:
    args = ["controller", "--namespace", namespace, "--render-socket", RENDER_SOCKET]
    if scope == "namespace":
        args += ["--scope", "namespace"]
    return {
        "name": "controller",
        "image": image,
        "args": args,
        "env": [{"name": "DRIFTLESS_CACHE_DIR", "value": CACHE_DIR}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "securityContext": _security_context(),
        "volumeMounts": [
            {"name": "cache", "mountPath": CACHE_DIR},
            {"name": "render-socket", "mountPath": SOCKET_DIR},
            {"name": "controller-tmp", "mountPath": "/tmp"},
            # Only this container can reach the API server as the controller.
            {"name": "api-token", "mountPath": TOKEN_PATH, "readOnly": True},
        ],
    }


def _renderer(image: str) -> JSON:
    return {
        "name": "renderer",
        "image": image,
        "args": ["render-server", "--socket", RENDER_SOCKET],
        "env": [{"name": "HOME", "value": "/tmp"}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        },
        "securityContext": _security_context(),
        "volumeMounts": [
            # Repository and chart content, as fetched by the controller: read-only here.
            {"name": "cache", "mountPath": CACHE_DIR, "readOnly": True},
            {"name": "render-socket", "mountPath": SOCKET_DIR},
            {"name": "renderer-tmp", "mountPath": "/tmp"},
        ],
    }


def _token_volume() -> JSON:
    """What automounting would give, as a volume only the controller mounts."""
    return {
        "name": "api-token",
        "projected": {
            "defaultMode": 0o444,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_SECONDS}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


def _deployment(meta: JSON, namespace: str, image: str, scope: Scope) -> JSON:
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
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": USER_ID,
                        "runAsGroup": USER_ID,
                        "fsGroup": USER_ID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_controller(namespace, image, scope), _renderer(image)],
                    "volumes": [
                        {"name": "cache", "emptyDir": {}},
                        {"name": "render-socket", "emptyDir": {"medium": "Memory"}},
                        {"name": "controller-tmp", "emptyDir": {}},
                        {"name": "renderer-tmp", "emptyDir": {}},
                        _token_volume(),
                    ],
                },
            },
        },
    }
