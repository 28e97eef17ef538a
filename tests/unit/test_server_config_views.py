"""What ``/repositories`` and ``/clusters`` show of a Secret: the listing, never a value."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from driftless.kube import clusters
from driftless.server.routes_config import cluster_view, repository_view
from driftless.sources import credentials as creds

SECRETS = ["pw-Zq8vN3xR7tL2", "KEYBODYLINE0123456789", "HOSTKEYAAAA0123", "tok-Vx91Lq", "CADATA42"]


def _secret(name: str, **data: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "driftless", "creationTimestamp": "2026-01-01"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def _pem(kind: str, body: str) -> bytes:
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n".encode()


def _clean(view: dict[str, Any]) -> None:
    text = json.dumps(view)
    for value in SECRETS:
        assert value not in text


def test_https_credential() -> None:
    credential = creds.RepoCredential(
        name="r", url="https://user-name-long@git.example/team", password=SECRETS[0]
    )
    view = repository_view(creds.repository_secret(credential, "driftless"))
    assert view == {
        "name": "r",
        "namespace": "driftless",
        "url": "https://git.example/team",
        "type": "https",
        "knownHosts": "-",
        "status": "Ok",
        "message": "",
        "created": None,
    }


def test_ssh_credential() -> None:
    credential = creds.RepoCredential(
        name="s",
        url="ssh://git@git.example/team",
        ssh_private_key=_pem("OPENSSH PRIVATE KEY", SECRETS[1]).decode(),
        known_hosts=f"git.example ssh-ed25519 {SECRETS[2]}\n",
    )
    view = repository_view(creds.repository_secret(credential, "driftless"))
    assert (view["type"], view["knownHosts"], view["status"]) == ("ssh", "set", "Ok")
    _clean(view)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"password": SECRETS[0]}, "url is missing"),
        ({"url": "ftp://git.example/x", "password": SECRETS[0]}, ""),
        ({"url": "https://git.example/x", "sshPrivateKey": SECRETS[1]}, ""),
    ],
)
def test_unusable_credential_says_why_without_values(data: dict[str, str], why: str) -> None:
    view = repository_view(_secret("bad", **data))
    assert (view["status"], view["type"], view["url"]) == ("Invalid", "invalid", "-")
    assert why in view["message"] and view["message"]
    assert view["created"] == "2026-01-01"
    _clean(view)


def test_cluster_with_token_and_ca() -> None:
    connection = clusters.ClusterConnection(
        name="prod",
        server="https://10.0.0.5:6443",
        tls=clusters.TlsClientConfig(ca_data=_pem("CERTIFICATE", SECRETS[4])),
        bearer_token=SECRETS[3],
    )
    secret = clusters.cluster_secret(connection, "driftless")
    view = cluster_view(secret)
    assert view == {
        "name": "prod",
        "server": "https://10.0.0.5:6443",
        "namespace": "driftless",
        "secret": secret["metadata"]["name"],
        "auth": "token",
        "status": "Ok",
        "message": "",
        "created": None,
    }


@pytest.mark.parametrize(
    "config",
    [
        '{"bearerToken": "tok-Vx91Lq"',  # cut short
        "[1]",
        '{"tlsClientConfig": {"caData": "CADATA42!!"}, "bearerToken": "tok-Vx91Lq"}',
        '{"execProviderConfig": {"command": "tok-Vx91Lq"}}',
    ],
)
def test_unusable_cluster_says_why_without_values(config: str) -> None:
    view = cluster_view(_secret("c", server="https://x.example", config=config))
    assert (view["status"], view["auth"], view["server"]) == ("Invalid", "invalid", "-")
    assert view["message"].startswith("cluster Secret c: ")
    _clean(view)
