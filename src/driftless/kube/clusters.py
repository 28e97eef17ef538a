"""Destination clusters: kubeconfig context → cluster Secret → connection.

A registered cluster is a Secret in the apps namespace labelled
``driftless.dev/secret-type: cluster`` whose data holds (the format of Argo CD's
cluster secrets, so existing tooling and habits carry over)::

    name:    a short name apps may use as spec.destination.name
    server:  the API server URL apps use as spec.destination.server
    config:  JSON {"bearerToken": ..., "username": ..., "password": ...,
                   "tlsClientConfig": {"insecure": false, "serverName": ...,
                                       "caData": b64 PEM, "certData": b64 PEM,
                                       "keyData": b64 PEM}}

Contracts:

* ``connection_from_kubeconfig`` and ``cluster_secret`` /
  ``connection_from_secret`` are pure (files a kubeconfig names are read
  through the ``read_file`` the caller passes) and round-trip exactly.
* Only credentials the controller can present by itself are accepted:
  client certificates, bearer tokens (inline or ``tokenFile``, read once) and
  basic auth. ``exec`` plugins and ``auth-provider`` entries need programs or
  refresh flows that do not exist in the controller's Pod, so they are refused
  with ``ClusterConfigError`` saying what to use instead.
* No message and no ``repr`` ever contains a credential: errors name the
  context, the Secret and the field, never its value.
* The in-cluster destination (``in-cluster``, ``https://kubernetes.default.svc``)
  needs no Secret; it always exists and cannot be registered or removed.

``connect`` turns a connection into a ``KubeClient`` (the only I/O here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from driftless.core.errors import StallingError
from driftless.core.project import LOCAL_NAME, LOCAL_SERVER
from driftless.core.wellknown import CLUSTER_SECRET_TYPE, SECRET_TYPE_LABEL
from driftless.kube.client import KubeClient

JSON = dict[str, Any]

CLUSTER_SECRET_SELECTOR = f"{SECRET_TYPE_LABEL}={CLUSTER_SECRET_TYPE}"
IN_CLUSTER_NAME = LOCAL_NAME
IN_CLUSTER_SERVER = LOCAL_SERVER

ReadFile = Callable[[str], bytes]


class ClusterConfigError(StallingError):
    """A kubeconfig context or cluster Secret cannot be used (message has no secrets)."""


@dataclass(frozen=True)
class TlsClientConfig:
    """TLS settings; the ``*_data`` fields hold PEM bytes (not base64)."""

    insecure: bool = False
    server_name: str | None = None
    ca_data: bytes | None = field(default=None, repr=False)
    cert_data: bytes | None = field(default=None, repr=False)
    key_data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ClusterConnection:
    """How to reach and authenticate to one cluster; ``repr`` shows no credentials."""

    name: str
    server: str
    tls: TlsClientConfig = field(default_factory=TlsClientConfig)
    bearer_token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def auth_type(self) -> str:
        """``client-certificate``, ``token``, ``basic`` or ``none`` (for listings)."""
        if self.tls.cert_data:
            return "client-certificate"
        if self.bearer_token:
            return "token"
        if self.username:
            return "basic"
        return "none"


# -- kubeconfig → connection -------------------------------------------------------------


def _named(config: Mapping[str, Any], section: str, name: str) -> JSON:
    for entry in config.get(section) or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            body = entry.get(section.rstrip("s"))
            return dict(body) if isinstance(body, Mapping) else {}
    raise ClusterConfigError(f"kubeconfig has no {section.rstrip('s')} named {name!r}")


def _file_or_data(
    entry: Mapping[str, Any], key: str, read_file: ReadFile, where: str
) -> bytes | None:
    """``<key>-data`` (base64) or the file ``<key>`` names, as bytes; None when neither."""
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except (binascii.Error, ValueError):
            raise ClusterConfigError(f"{where}: {key}-data is not valid base64") from None
    path = entry.get(key)
    if path:
        try:
            return read_file(str(path))
        except OSError as exc:
            raise ClusterConfigError(
                f"{where}: cannot read {key} file {path}: {exc.strerror}"
            ) from None
    return None


def connection_from_kubeconfig(
    config: Mapping[str, Any],
    context: str | None,
    *,
    read_file: ReadFile,
    name: str | None = None,
) -> ClusterConnection:
    """The connection a kubeconfig context describes (``None``: the current context).

    ``read_file`` reads the files the kubeconfig names (certificates, keys,
    token files), relative paths resolved by the caller. ``name`` defaults to
    the context's name. Raises ``ClusterConfigError`` for an unknown context,
    missing server, or credentials the controller cannot use.
    """
    context = context or config.get("current-context")
    if not context:
        raise ClusterConfigError("kubeconfig has no current-context; name a context")
    contexts = [str(c.get("name")) for c in config.get("contexts") or [] if isinstance(c, Mapping)]
    if context not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise ClusterConfigError(f"kubeconfig has no context {context!r} (contexts: {known})")
    ctx = _named(config, "contexts", context)
    cluster = _named(config, "clusters", str(ctx.get("cluster", "")))
    user = _named(config, "users", str(ctx.get("user", ""))) if ctx.get("user") else {}
    where = f"context {context}"
    server = str(cluster.get("server") or "")
    if not server:
        raise ClusterConfigError(f"{where}: its cluster has no server URL")
    if cluster.get("proxy-url"):
        raise ClusterConfigError(f"{where}: proxy-url is not supported for destinations")
    _refuse_unusable_auth(user, where)
    tls = TlsClientConfig(
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        server_name=cluster.get("tls-server-name") or None,
        ca_data=_file_or_data(cluster, "certificate-authority", read_file, where),
        cert_data=_file_or_data(user, "client-certificate", read_file, where),
        key_data=_file_or_data(user, "client-key", read_file, where),
    )
    if bool(tls.cert_data) != bool(tls.key_data):
        raise ClusterConfigError(f"{where}: a client certificate needs its key, and vice versa")
    token = user.get("token") or None
    if not token and user.get("tokenFile"):
        raw = _file_or_data({"token": user["tokenFile"]}, "token", read_file, where) or b""
        token = raw.decode(errors="replace").strip() or None
    connection = ClusterConnection(
        name=name or context,
        server=server,
        tls=tls,
        bearer_token=token,
        username=user.get("username") or None,
        password=user.get("password") or None,
    )
    if connection.auth_type == "none":
        raise ClusterConfigError(
            f"{where}: no credentials (client certificate, token or username/password)"
        )
    return connection


def _refuse_unusable_auth(user: Mapping[str, Any], where: str) -> None:
    if user.get("exec"):
        command = (user["exec"] or {}).get("command", "a plugin")
        raise ClusterConfigError(
            f"{where} authenticates with an exec plugin ({command}), which the controller"
            " cannot run; create a ServiceAccount token for driftless in that cluster and"
            " use a context with `token:` instead"
        )
    if user.get("auth-provider"):
        provider = (user["auth-provider"] or {}).get("name", "an auth provider")
        raise ClusterConfigError(
            f"{where} authenticates with the {provider} auth-provider, which the controller"
            " cannot refresh; use a context with a ServiceAccount token or client certificate"
        )
    if user.get("as") or user.get("as-groups"):
        raise ClusterConfigError(f"{where}: impersonation (as/as-groups) is not supported")


# -- connection ↔ Secret -----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def secret_name_for(server: str) -> str:
    """A stable, valid Secret name for a server URL: ``cluster-<host>-<hash>``."""
    host = re.sub(r"^[a-z]+://", "", server.lower()).split("/", 1)[0]
    slug = re.sub(r"[^a-z0-9]+", "-", host).strip("-")[:40].strip("-") or "server"
    digest = hashlib.sha256(server.encode()).hexdigest()[:8]
    return f"cluster-{slug}-{digest}"


def connection_config(connection: ClusterConnection) -> JSON:
    """The ``config`` JSON of a cluster Secret (Argo CD's field names)."""
    tls: JSON = {"insecure": connection.tls.insecure}
    if connection.tls.server_name:
        tls["serverName"] = connection.tls.server_name
    for key, value in (
        ("caData", connection.tls.ca_data),
        ("certData", connection.tls.cert_data),
        ("keyData", connection.tls.key_data),
    ):
        if value:
            tls[key] = _b64(value)
    config: JSON = {"tlsClientConfig": tls}
    for key, text in (
        ("bearerToken", connection.bearer_token),
        ("username", connection.username),
        ("password", connection.password),
    ):
        if text:
            config[key] = text
    return config


def cluster_secret(connection: ClusterConnection, namespace: str) -> JSON:
    """The labelled Secret that registers ``connection`` in ``namespace``."""
    if connection.server == IN_CLUSTER_SERVER or connection.name == IN_CLUSTER_NAME:
        raise ClusterConfigError(
            f"{IN_CLUSTER_NAME} ({IN_CLUSTER_SERVER}) is built in and cannot be registered"
        )
    config = json.dumps(connection_config(connection), sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": secret_name_for(connection.server),
            "namespace": namespace,
            "labels": {SECRET_TYPE_LABEL: CLUSTER_SECRET_TYPE},
        },
        "data": {
            "name": _b64(connection.name.encode()),
            "server": _b64(connection.server.encode()),
            "config": _b64(config.encode()),
        },
    }


def _secret_field(secret: Mapping[str, Any], key: str, where: str) -> str:
    """``stringData[key]`` or base64-decoded ``data[key]``; '' when absent."""
    string_data = secret.get("stringData") or {}
    if key in string_data:
        return str(string_data[key])
    value = (secret.get("data") or {}).get(key)
    if value is None:
        return ""
    try:
        return base64.b64decode(str(value), validate=True).decode()
    except (binascii.Error, ValueError):
        raise ClusterConfigError(f"{where}: data.{key} is not valid base64 text") from None


def _tls_from_config(raw: Any, where: str) -> TlsClientConfig:
    if not isinstance(raw, Mapping):
        raise ClusterConfigError(f"{where}: config.tlsClientConfig is not an object")

    def pem(key: str) -> bytes | None:
        value = raw.get(key)
        if not value:
            return None
        try:
            return base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise ClusterConfigError(
                f"{where}: config.tlsClientConfig.{key} is not valid base64"
            ) from None

    return TlsClientConfig(
        insecure=bool(raw.get("insecure", False)),
        server_name=raw.get("serverName") or None,
        ca_data=pem("caData"),
        cert_data=pem("certData"),
        key_data=pem("keyData"),
    )


def connection_from_secret(secret: Mapping[str, Any]) -> ClusterConnection:
    """Parse a cluster Secret; ``ClusterConfigError`` (naming the Secret) if unusable."""
    where = f"cluster Secret {(secret.get('metadata') or {}).get('name', '?')}"
    server = _secret_field(secret, "server", where).strip()
    if not server:
        raise ClusterConfigError(f"{where}: no server")
    text = _secret_field(secret, "config", where) or "{}"
    try:
        config = json.loads(text)
    except ValueError:
        raise ClusterConfigError(f"{where}: config is not valid JSON") from None
    if not isinstance(config, Mapping):
        raise ClusterConfigError(f"{where}: config is not a JSON object")
    if config.get("execProviderConfig") or config.get("awsAuthConfig"):
        raise ClusterConfigError(f"{where}: exec and AWS credentials are not supported")
    return ClusterConnection(
        name=_secret_field(secret, "name", where).strip() or server,
        server=server,
        tls=_tls_from_config(config.get("tlsClientConfig") or {}, where),
        bearer_token=config.get("bearerToken") or None,
        username=config.get("username") or None,
        password=config.get("password") or None,
    )


# -- connection → client -----------------------------------------------------------------------


def kubeconfig_for(connection: ClusterConnection) -> JSON:
    """A one-context kubeconfig document with every credential inline."""
    cluster: JSON = {"server": connection.server}
    tls = connection.tls
    if tls.insecure:
        cluster["insecure-skip-tls-verify"] = True
    if tls.server_name:
        cluster["tls-server-name"] = tls.server_name
    if tls.ca_data:
        cluster["certificate-authority-data"] = _b64(tls.ca_data)
    user: JSON = {}
    if tls.cert_data and tls.key_data:
        user["client-certificate-data"] = _b64(tls.cert_data)
        user["client-key-data"] = _b64(tls.key_data)
    if connection.bearer_token:
        user["token"] = connection.bearer_token
    if connection.username:
        user["username"] = connection.username
        user["password"] = connection.password or ""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "destination", "cluster": cluster}],
        "users": [{"name": "destination", "user": user}],
        "contexts": [
            {"name": "destination", "context": {"cluster": "destination", "user": "destination"}}
        ],
        "current-context": "destination",
    }


async def connect(connection: ClusterConnection, *, pool_size: int = 16) -> KubeClient:
    """A ``KubeClient`` for the cluster; the caller closes it."""
    configuration = k8s_client.Configuration()
    await k8s_config.load_kube_config_from_dict(
        kubeconfig_for(connection), client_configuration=configuration
    )
    configuration.connection_pool_maxsize = pool_size
    return KubeClient(k8s_client.ApiClient(configuration))
