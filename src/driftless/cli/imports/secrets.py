"""Argo CD repository and cluster Secrets -> driftless credential Secrets.

Argo CD marks them with the label ``argocd.argoproj.io/secret-type``:

* ``repository`` and ``repo-creds`` (a credential for every URL under a
  prefix) both become a driftless repository credential
  (``sources.credentials``): driftless matches credentials by the longest URL
  prefix, so a repo-creds template is an ordinary credential of its prefix.
  ``url``, ``username``, ``password``, ``sshPrivateKey`` carry over;
  ``insecure`` carries over for ssh URLs (host key not checked);
* ``cluster`` becomes a driftless cluster Secret (``kube.clusters``: the same
  ``name``/``server``/``config`` format).

Without ``include_secrets`` nothing is emitted and the Secret is listed as
skipped; the keys that have no equivalent are listed either way. Findings name
keys, never values: a message of ``CredentialError`` or ``ClusterConfigError``
never holds one either. No I/O.
"""

from __future__ import annotations

import base64
import binascii

from driftless.cli.imports.report import JSON, Conversion, describe, mapping
from driftless.kube.clusters import (
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    ClusterConfigError,
    cluster_secret,
    connection_from_secret,
)
from driftless.sources.credentials import (
    CredentialError,
    RepoCredential,
    parse_secret,
    repository_secret,
    secret_name_for,
)

ARGO_SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
REPOSITORY_TYPES = frozenset({"repository", "repo-creds"})
CLUSTER_TYPE = "cluster"
_SKIP = "holds credentials, use --include-secrets"
# Keys that describe the entry without changing access: nothing to carry.
_DESCRIPTIVE = frozenset({"type", "name", "enableOCI"})
_REPO_REASONS = {
    "project": "driftless credentials are not scoped to a project",
    "tlsClientCertData": "driftless has no TLS client certificates for repositories",
    "tlsClientCertKey": "driftless has no TLS client certificates for repositories",
    "githubAppID": "driftless has no GitHub App authentication",
    "githubAppInstallationID": "driftless has no GitHub App authentication",
    "githubAppPrivateKey": "driftless has no GitHub App authentication",
    "githubAppEnterpriseBaseUrl": "driftless has no GitHub App authentication",
    "proxy": "driftless uses the controller's proxy environment",
    "noProxy": "driftless uses the controller's proxy environment",
}


def secret_type(obj: JSON) -> str | None:
    """Argo CD's secret type of ``obj`` (None: not one of Argo CD's Secrets)."""
    meta = mapping(obj.get("metadata"))
    labels = mapping(meta.get("labels"))
    value = labels.get(ARGO_SECRET_TYPE_LABEL)
    return str(value) if value is not None else None


def _decoded(obj: JSON, where: str, out: Conversion) -> dict[str, str]:
    """``data`` (base64) and ``stringData`` as text; undecodable keys are listed."""
    values: dict[str, str] = {}
    data = mapping(obj.get("data"))
    for key, value in data.items():
        try:
            values[str(key)] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            out.unsupported(where, f"data.{key}", "not base64-encoded UTF-8")
    string_data = mapping(obj.get("stringData"))
    values.update({str(k): str(v) for k, v in string_data.items()})
    return values


def repository(obj: JSON, namespace: str, include_secrets: bool, out: Conversion) -> None:
    """Convert one Argo CD ``repository`` or ``repo-creds`` Secret."""
    where = describe(obj)
    values = _decoded(obj, where, out)
    url = values.get("url", "").strip()
    ssh = url.startswith("ssh://") or ("@" in url and "://" not in url)
    insecure = values.get("insecure", values.get("insecureIgnoreHostKey", "")).lower() == "true"
    for key in values:
        if key in _DESCRIPTIVE | {"url", "username", "password", "sshPrivateKey"}:
            continue
        if key in ("insecure", "insecureIgnoreHostKey") and (ssh or not insecure):
            continue
        reason = _REPO_REASONS.get(key, "driftless has no equivalent")
        if key == "insecure":
            reason = "driftless always verifies https certificates"
        out.unsupported(where, f"data.{key}", reason)
    if values.get("sshPrivateKey") and ssh and not insecure:
        out.note(
            where,
            "knownHosts",
            "Argo CD keeps them in argocd-ssh-known-hosts-cm; add them"
            " with `driftless repo add --known-hosts`",
        )
    credential = RepoCredential(
        name=secret_name_for(url) if url else "repo",
        url=url,
        username=values.get("username", ""),
        password=values.get("password", ""),
        ssh_private_key=values.get("sshPrivateKey", ""),
        insecure_ignore_host_key=ssh and insecure,
    )
    body = repository_secret(credential, namespace)
    try:
        parse_secret(body)
    except CredentialError as exc:
        out.unsupported(where, "", f"not a usable credential: {exc}")
        return
    _emit(body, where, include_secrets, out)


def cluster(obj: JSON, namespace: str, include_secrets: bool, out: Conversion) -> None:
    """Convert one Argo CD ``cluster`` Secret."""
    where = describe(obj)
    values = _decoded(obj, where, out)
    for key in values:
        if key not in ("name", "server", "config"):
            out.unsupported(where, f"data.{key}", "driftless has no equivalent")
    try:
        connection = connection_from_secret({"stringData": values, "metadata": obj.get("metadata")})
    except ClusterConfigError as exc:
        out.unsupported(where, "", str(exc))
        return
    if connection.server == IN_CLUSTER_SERVER or connection.name == IN_CLUSTER_NAME:
        out.note(where, "", f"{IN_CLUSTER_NAME} is built into driftless; nothing to register")
        return
    _emit(cluster_secret(connection, namespace), where, include_secrets, out)


def cluster_names(objects: list[JSON]) -> dict[str, str]:
    """name -> server of the Argo CD cluster Secrets among ``objects`` (not credentials)."""
    known: dict[str, str] = {}
    scratch = Conversion()
    for obj in objects:
        if obj.get("kind") == "Secret" and secret_type(obj) == CLUSTER_TYPE:
            values = _decoded(obj, "", scratch)
            server = values.get("server", "").strip()
            if server:
                known[values.get("name", "").strip() or server] = server
    return known


def _emit(body: JSON, where: str, include_secrets: bool, out: Conversion) -> None:
    if include_secrets:
        out.objects.append(body)
    else:
        out.skipped(where, "", _SKIP)
