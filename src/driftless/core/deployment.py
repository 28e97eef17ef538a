"""The manifests that run the controller and the API server inside a cluster. Pure.

``controller_manifests(namespace, image, scope=)`` returns the
ServiceAccount, the RBAC and the Deployment that ``driftless install``
applies (and prints with ``--dry-run``, for those who manage driftless itself
with GitOps); ``server_manifests(namespace, image, scope=)`` the same for
``driftless server`` (``install --with-server``) plus its ClusterIP Service.

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
A chart that may Helm ``lookup`` (opted in by app and Project) reaches the
controller's read-only lookup proxy over the Pod's loopback with a token
valid for that render only (``render.lookup_proxy``): still no credential.
Both run as non-root with a read-only root file system, no capabilities,
no privilege escalation, the runtime's default seccomp profile, and
resource limits. The controller serves ``/metrics`` on port ``metrics``
(8080), where its probes ask: liveness ``/healthz``, readiness ``/readyz``
(the Applications are listed); the server serves its ``/metrics`` on a port
of its own, ``metrics`` (8084), not on the Service's.

Updates (``strategy``, ``safe_strategy``): ``Recreate`` for one controller
(it holds no Lease, so an old and a new pod must never overlap),
``RollingUpdate`` (one pod more, none less) for replicas that hold Leases
(``core.replication``); a rollout from Lease-less pods to Lease-holding ones
is ``Recreate`` too (``driftless install`` reads the live Deployment). The
pod gets ``terminationGracePeriodSeconds`` 15: SIGTERM ends the controller
within ~5 s, so the kubelet's SIGKILL never cuts the release of its Leases.

The server (``driftless-server``) has its own ServiceAccount and a pod of the
same shape: the ``server`` container alone holds the token; its ``renderer``
renders the diffs and manifests the UI shows, with no token, reading the
server's own clones read-only. Probes: liveness ``/healthz``, readiness
``/readyz`` (its caches are listed). Its RBAC is least privilege, for what
the server does and nothing else:

* read Applications and Projects, write only Applications (the write routes:
  sync, rollback, refresh, terminate, create, edit, delete);
* read the live objects of the apps' trees through the Kubernetes ``view``
  ClusterRole -- read-only, and it never grants Secrets -- and Events;
  create Events (the audit trail of writes and logins);
* Secrets only in its own namespace: read (repository credentials and
  clusters, shown as views; a label selector cannot be granted by RBAC),
  update and patch only the Secrets it owns (``SERVER_SECRETS``); never
  create, never Secrets cluster-wide, never delete. RBAC cannot limit
  ``create`` by name, and a created Secret of type
  ``kubernetes.io/service-account-token`` annotated for the controller's
  ServiceAccount would be filled by Kubernetes with that (cluster-wide)
  token, which the server could then read: so the install makes the
  server's Secrets, empty (``server_secrets``), and the server only patches
  them. (A server run outside an install, with an administrator's
  kubeconfig, still creates them when they are missing.)

By ``scope`` as for the controller: ``cluster`` binds the ClusterRoles
(named per install namespace); ``namespace`` grants the same in the install
namespace only (the server is then started with ``--scope namespace``).

``aggregated_roles(prefix, resources)``: kinds meant for tenants (the
notification objects) get two ClusterRoles bound to no one, like other tools
that ship CRDs: ``<prefix>-edit`` (every write but ``status``, labelled to
aggregate into Kubernetes' ``edit`` and ``admin`` roles) and ``<prefix>-view``
(read-only, into ``view``, ``edit`` and ``admin``). Whoever an administrator
grants ``edit`` in a namespace can then manage those objects there. They are
the CRDs' roles, the same for every install (one shared name, applied with the
CRDs). Applications and Projects get none on purpose: an Application acts with
the controller's rights within its Project, so who may create one is the
administrator's explicit grant, never a side effect of ``edit``.
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
# SIGTERM ends the controller within ~5 s in every state (``controller.shutdown``):
# Kubernetes' SIGKILL comes well after, so the Leases are always freed, not left to expire.
CONTROLLER_GRACE_SECONDS = 15
_RULES_ALL = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
_RBAC_API = "rbac.authorization.k8s.io"

SERVER_NAME = "driftless-server"
#: Optional ConfigMap whose keys become the server's environment (``DRIFTLESS_OIDC_ISSUER``,
#: ``DRIFTLESS_SECURE_COOKIES``, …: every ``driftless server`` option has its variable), so
#: single sign-on is configured in the cluster, not by editing the Deployment.
SERVER_CONFIGMAP = "driftless-server"
SERVER_LABELS = {"app.kubernetes.io/name": "driftless", "app.kubernetes.io/component": "server"}
SERVER_PORT = 8080
# Prometheus ``/metrics`` (port name ``metrics``): the controller's also answers its probes;
# the server's is a listener of its own, never the public port (app names are not public).
CONTROLLER_METRICS_PORT = 8080
SERVER_METRICS_PORT = 8084
ADMIN_SECRET = "driftless-admin"
INITIAL_ADMIN_SECRET = "driftless-initial-admin"
SESSIONS_SECRET = "driftless-sessions"
# Project API tokens' signing keys and records (``driftless.pipeline.tokens``):
# written by ``driftless project token``, only read (watched) by the server.
TOKENS_SECRET = "driftless-api-tokens"
# The Secrets the server writes (``driftless.server.auth``, ``.sessions``).
SERVER_SECRETS = (ADMIN_SECRET, INITIAL_ADMIN_SECRET, SESSIONS_SECRET)
# Kubernetes' own read-only role: most namespaced kinds, never Secrets.
VIEW_ROLE = "view"
_READ = ["get", "list", "watch"]
_SERVER_RULES = [
    {
        "apiGroups": ["driftless.dev"],
        "resources": ["applications"],
        # Every write route patches (merge or server-side apply, which creates).
        "verbs": [*_READ, "create", "patch", "delete"],
    },
    {"apiGroups": ["driftless.dev"], "resources": ["projects"], "verbs": _READ},
    # Events: read for the UI, created for the audit trail (``server.audit``).
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": [*_READ, "create"]},
]
_SERVER_SECRET_RULES = [
    {"apiGroups": [""], "resources": ["secrets"], "verbs": _READ},
    {
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": list(SERVER_SECRETS),
        "verbs": ["update", "patch"],
    },
]


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


def _pod_security_context() -> JSON:
    return {
        "runAsNonRoot": True,
        "runAsUser": USER_ID,
        "runAsGroup": USER_ID,
        "fsGroup": USER_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _controller(namespace: str, image: str, scope: Scope) -> JSON:
    args = ["controller", "--namespace", namespace, "--render-socket", RENDER_SOCKET]
    if scope == "namespace":
        args += ["--scope", "namespace"]
    args.append(f"--metrics-address=:{CONTROLLER_METRICS_PORT}")
    return {
        "name": "controller",
        "image": image,
        "args": args,
        "env": [{"name": "DRIFTLESS_CACHE_DIR", "value": CACHE_DIR}],
        "ports": [_metrics_port(CONTROLLER_METRICS_PORT)],
        # Alive while its event loop answers; ready once the Applications are listed.
        "livenessProbe": {**_metrics_probe("/healthz", 20), "initialDelaySeconds": 10},
        "readinessProbe": _metrics_probe("/readyz", 5),
        "startupProbe": {**_metrics_probe("/healthz", 2), "failureThreshold": 60},
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


def _metrics_port(port: int) -> JSON:
    return {"name": "metrics", "containerPort": port, "protocol": "TCP"}


def _metrics_probe(path: str, period: int) -> JSON:
    return {
        "httpGet": {"path": path, "port": "metrics"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
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


def _pod_spec(account: str, main: JSON, image: str) -> JSON:
    """The pod both Deployments share: ``main`` (the only container with the
    token, its ``<name>-tmp`` scratch) beside the token-less renderer."""
    return {
        "serviceAccountName": account,
        "automountServiceAccountToken": False,
        "securityContext": _pod_security_context(),
        "containers": [main, _renderer(image)],
        "volumes": [
            {"name": "cache", "emptyDir": {}},
            {"name": "render-socket", "emptyDir": {"medium": "Memory"}},
            {"name": f"{main['name']}-tmp", "emptyDir": {}},
            {"name": "renderer-tmp", "emptyDir": {}},
            _token_volume(),
        ],
    }


def _deployment(meta: JSON, namespace: str, image: str, scope: Scope) -> JSON:
    pod = _pod_spec(NAME, _controller(namespace, image, scope), image)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            # One replica runs without Leases (``--shards``): see ``strategy``.
            "strategy": strategy(leases=False),
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {**pod, "terminationGracePeriodSeconds": CONTROLLER_GRACE_SECONDS},
            },
        },
    }


def strategy(*, leases: bool) -> JSON:
    """The controller Deployment's update strategy: rolling only where pods hold Leases.

    Controllers with Leases (``--shards``/``--ha``) may overlap: an app is
    reconciled only under its shard's Lease, and replicas started with another
    number of shards all stand by while both are alive. So a new pod comes up
    (and becomes ready) before an old one is stopped: no pause in reconciling.
    A controller without Leases reconciles every app whatever else runs, so
    an old and a new one side by side would both write: ``Recreate`` stops the
    old pod first.
    """
    if not leases:
        return {"type": "Recreate"}
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def holds_leases(deployment: JSON | None) -> bool:
    """Whether the pods of a controller ``deployment`` (as applied or live) hold Leases."""
    pod = (((deployment or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = pod.get("containers")
    for container in containers if isinstance(containers, list) else []:
        if isinstance(container, dict) and container.get("name") == "controller":
            args = container.get("args")
            return isinstance(args, list) and ("--shards" in args or "--ha" in args)
    return False


def safe_strategy(live: JSON | None, wanted: JSON) -> JSON:
    """``wanted`` (the controller Deployment) with a strategy safe from the ``live`` one.

    A rollout runs with the new spec's strategy, so one from pods without
    Leases (one replica) to pods with Leases (``--replicas N``) would overlap
    a controller that ignores Leases with those that obey them: that rollout
    is ``Recreate``. Pure; ``wanted`` is not changed.
    """
    leases = holds_leases(wanted) and (live is None or holds_leases(live))
    return {**wanted, "spec": {**wanted["spec"], "strategy": strategy(leases=leases)}}


# ---------------------------------------------------------------- the API server


def server_manifests(
    namespace: str, image: str = DEFAULT_IMAGE, *, scope: Scope = "cluster"
) -> list[JSON]:
    """ServiceAccount, RBAC of ``scope``, its Secrets (empty), Deployment and Service of
    ``driftless server``."""
    meta = {"name": SERVER_NAME, "namespace": namespace, "labels": SERVER_LABELS}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        *server_rbac(namespace, scope),
        *server_secrets(namespace),
        _server_deployment(meta, namespace, image, scope),
        _server_service(meta),
    ]


def server_secrets(namespace: str) -> list[JSON]:
    """The Secrets the server writes, with no data: it may patch them, never create them.

    Applied (server-side) they own no ``data``, so installing again keeps
    the admin account and the sessions the server wrote into them.
    """
    labels = {"app.kubernetes.io/part-of": "driftless"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "type": "Opaque",
        }
        for name in SERVER_SECRETS
    ]


def server_rbac(namespace: str, scope: Scope) -> list[JSON]:
    """The server's roles and bindings (see the module docstring)."""
    subjects = [{"kind": "ServiceAccount", "name": SERVER_NAME, "namespace": namespace}]
    own = {"name": SERVER_NAME, "namespace": namespace, "labels": SERVER_LABELS}
    if scope == "namespace":
        view = {**own, "name": f"{SERVER_NAME}-view"}
        return [
            _role("Role", own, [*_SERVER_RULES, *_SERVER_SECRET_RULES]),
            _binding("Role", own, SERVER_NAME, subjects),
            _binding("ClusterRole", view, VIEW_ROLE, subjects),  # in this namespace only
        ]
    name = server_cluster_rbac_name(namespace)
    cluster = {"name": name, "labels": SERVER_LABELS}
    view = {"name": f"{SERVER_NAME}-view-{namespace}", "labels": SERVER_LABELS}
    return [
        _role("Role", own, _SERVER_SECRET_RULES),
        _binding("Role", own, SERVER_NAME, subjects),
        _role("ClusterRole", cluster, _SERVER_RULES),
        _binding("ClusterRole", cluster, name, subjects),
        _binding("ClusterRole", view, VIEW_ROLE, subjects),
    ]


def server_cluster_rbac_name(namespace: str) -> str:
    """Name of the server's ClusterRole and ClusterRoleBinding of the install in ``namespace``."""
    return f"{SERVER_NAME}-{namespace}"


def all_server_rbac(namespace: str) -> list[JSON]:
    """The server's RBAC objects of either scope (what uninstall removes)."""
    seen: dict[tuple[str, str, str], JSON] = {}
    for obj in [*server_rbac(namespace, "cluster"), *server_rbac(namespace, "namespace")]:
        meta = obj["metadata"]
        seen[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
    return list(seen.values())


_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
_WRITE = ["create", "update", "patch", "delete", "deletecollection"]


def aggregated_roles(prefix: str, resources: list[str], group: str = "driftless.dev") -> list[JSON]:
    """``<prefix>-edit`` and ``<prefix>-view`` (see the module docstring). Pure."""
    labels = {"app.kubernetes.io/name": "driftless"}

    def role(suffix: str, verbs: list[str], into: tuple[str, ...]) -> JSON:
        meta = {
            "name": f"{prefix}-{suffix}",
            "labels": {**labels, **{f"{_AGGREGATE}{r}": "true" for r in into}},
        }
        # Plain resource names only: ``<kind>/status`` is the controller's to write.
        rules = [{"apiGroups": [group], "resources": resources, "verbs": verbs}]
        return _role("ClusterRole", meta, rules)

    return [
        role("edit", [*_READ, *_WRITE], ("edit", "admin")),
        role("view", _READ, ("view", "edit", "admin")),
    ]


def _role(kind: str, meta: JSON, rules: list[JSON]) -> JSON:
    return {"apiVersion": f"{_RBAC_API}/v1", "kind": kind, "metadata": meta, "rules": rules}


def _binding(role_kind: str, meta: JSON, role: str, subjects: list[JSON]) -> JSON:
    """A binding of ``role``: a RoleBinding when ``meta`` has a namespace."""
    return {
        "apiVersion": f"{_RBAC_API}/v1",
        "kind": "RoleBinding" if "namespace" in meta else "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": _RBAC_API, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def _server(namespace: str, image: str, scope: Scope) -> JSON:
    args = [
        "server",
        "--address",
        "0.0.0.0",
        "--port",
        str(SERVER_PORT),
        "--namespace",
        namespace,
        "--render-socket",
        RENDER_SOCKET,
    ]
    if scope == "namespace":
        args += ["--scope", "namespace"]
    args.append(f"--metrics-address=:{SERVER_METRICS_PORT}")

    def probe(path: str, period: int) -> JSON:
        return {
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }

    return {
        "name": "server",
        "image": image,
        "args": args,
        # Its clones go under the cache the renderer reads. Behind a
        # TLS-terminating ingress add DRIFTLESS_SECURE_COOKIES=true.
        "env": [{"name": "DRIFTLESS_CACHE_DIR", "value": CACHE_DIR}],
        # Settings an admin keeps in the cluster (optional: absent, the defaults hold);
        # ``env`` above wins over it. Never a secret: the OIDC client secret is a Secret ref.
        "envFrom": [{"configMapRef": {"name": SERVER_CONFIGMAP, "optional": True}}],
        "ports": [
            {"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"},
            _metrics_port(SERVER_METRICS_PORT),
        ],
        "livenessProbe": {**probe("/healthz", 20), "initialDelaySeconds": 10},
        # Ready once the caches are listed: at 10,000 apps, ~10 s.
        "readinessProbe": probe("/readyz", 5),
        "startupProbe": {**probe("/healthz", 2), "failureThreshold": 60},
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "securityContext": _security_context(),
        "volumeMounts": [
            {"name": "cache", "mountPath": CACHE_DIR},
            {"name": "render-socket", "mountPath": SOCKET_DIR},
            {"name": "server-tmp", "mountPath": "/tmp"},
            # Only this container can reach the API server as the server.
            {"name": "api-token", "mountPath": TOKEN_PATH, "readOnly": True},
        ],
    }


def _server_deployment(meta: JSON, namespace: str, image: str, scope: Scope) -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            # Sessions live in a Secret: replicas may be added, and a rolling
            # update logs nobody out.
            "replicas": 1,
            "selector": {"matchLabels": SERVER_LABELS},
            "template": {
                "metadata": {"labels": SERVER_LABELS},
                "spec": _pod_spec(SERVER_NAME, _server(namespace, image, scope), image),
            },
        },
    }


def _server_service(meta: JSON) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": SERVER_LABELS,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
