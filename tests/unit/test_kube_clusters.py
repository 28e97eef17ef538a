"""kubeconfig context → cluster Secret → connection, without a cluster."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from driftless.kube import clusters
from driftless.kube.clusters import ClusterConfigError

CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN EC PRIVATE KEY-----\nsecret-key-material\n-----END EC PRIVATE KEY-----\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(user: dict[str, Any], cluster: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": cluster
                or {"server": "https://10.0.0.5:6443", "certificate-authority-data": b64(CA)},
            }
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [
            {"name": "prod", "context": {"cluster": "c", "user": "u"}},
            {"name": "other", "context": {"cluster": "c", "user": "u"}},
        ],
        "current-context": "other",
    }


def no_files(path: str) -> bytes:
    raise FileNotFoundError(2, "No such file or directory", path)


def test_client_certificate_round_trips_through_the_secret() -> None:
    config = kubeconfig({"client-certificate-data": b64(CERT), "client-key-data": b64(KEY)})
    conn = clusters.connection_from_kubeconfig(config, "prod", read_file=no_files)
    assert (conn.name, conn.server, conn.auth_type) == (
        "prod",
        "https://10.0.0.5:6443",
        "client-certificate",
    )
    assert (conn.tls.ca_data, conn.tls.cert_data, conn.tls.key_data) == (CA, CERT, KEY)

    secret = clusters.cluster_secret(conn, "driftless")
    assert secret["metadata"]["labels"] == {"driftless.dev/secret-type": "cluster"}
    assert secret["metadata"]["namespace"] == "driftless"
    assert secret["metadata"]["name"].startswith("cluster-10-0-0-5-6443-")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["name"] == "prod"
    assert data["server"] == "https://10.0.0.5:6443"
    assert json.loads(data["config"]) == {
        "tlsClientConfig": {
            "insecure": False,
            "caData": b64(CA),
            "certData": b64(CERT),
            "keyData": b64(KEY),
        }
    }
    assert clusters.connection_from_secret(secret) == conn


def test_current_context_files_token_file_and_name() -> None:
    files = {"/etc/ca.pem": CA, "/etc/token": b"tok-123\n"}
    config = kubeconfig(
        {"tokenFile": "/etc/token"},
        {"server": "https://k8s.example.com", "certificate-authority": "/etc/ca.pem",
         "tls-server-name": "api.internal"},
    )  # fmt: skip
    conn = clusters.connection_from_kubeconfig(
        config, None, read_file=files.__getitem__, name="prod-eu"
    )
    assert (conn.name, conn.bearer_token, conn.auth_type) == ("prod-eu", "tok-123", "token")
    assert conn.tls.ca_data == CA and conn.tls.server_name == "api.internal"
    assert clusters.connection_from_secret(clusters.cluster_secret(conn, "ns")) == conn
    kc = clusters.kubeconfig_for(conn)
    assert kc["users"][0]["user"] == {"token": "tok-123"}
    assert kc["clusters"][0]["cluster"]["tls-server-name"] == "api.internal"


def test_basic_auth_and_insecure() -> None:
    config = kubeconfig(
        {"username": "admin", "password": "pw"},
        {"server": "https://x:6443", "insecure-skip-tls-verify": True},
    )
    conn = clusters.connection_from_kubeconfig(config, "prod", read_file=no_files)
    assert conn.auth_type == "basic" and conn.tls.insecure
    assert clusters.connection_from_secret(clusters.cluster_secret(conn, "ns")) == conn
    assert clusters.kubeconfig_for(conn)["clusters"][0]["cluster"] == {
        "server": "https://x:6443",
        "insecure-skip-tls-verify": True,
    }


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"exec": {"command": "aws", "args": ["eks", "get-token"]}}, "exec plugin \\(aws\\)"),
        ({"auth-provider": {"name": "oidc", "config": {}}}, "oidc auth-provider"),
        ({"token": "t", "as": "someone"}, "impersonation"),
        ({}, "no credentials"),
        ({"client-certificate-data": b64(CERT)}, "needs its key"),
        ({"client-key-data": "%%%"}, "client-key-data is not valid base64"),
        ({"client-certificate": "/missing", "client-key": "/missing"}, "cannot read"),
    ],
)
def test_unusable_credentials_are_refused(user: dict[str, Any], message: str) -> None:
    with pytest.raises(ClusterConfigError, match=message):
        clusters.connection_from_kubeconfig(kubeconfig(user), "prod", read_file=no_files)


def test_unknown_context_lists_the_known_ones() -> None:
    with pytest.raises(ClusterConfigError, match=r"no context 'nope' \(contexts: other, prod\)"):
        clusters.connection_from_kubeconfig(kubeconfig({"token": "t"}), "nope", read_file=no_files)


def test_in_cluster_cannot_be_registered() -> None:
    conn = clusters.ClusterConnection(name="x", server=clusters.IN_CLUSTER_SERVER, bearer_token="t")
    with pytest.raises(ClusterConfigError, match="built in"):
        clusters.cluster_secret(conn, "ns")


def test_secret_with_string_data_argo_style() -> None:
    secret = {
        "metadata": {"name": "argo-style"},
        "stringData": {
            "name": "remote",
            "server": "https://remote:6443",
            "config": json.dumps({"bearerToken": "t", "tlsClientConfig": {"insecure": True}}),
        },
    }
    conn = clusters.connection_from_secret(secret)
    assert (conn.name, conn.server, conn.bearer_token, conn.tls.insecure) == (
        "remote",
        "https://remote:6443",
        "t",
        True,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no server"),
        ({"server": b64(b"https://s"), "config": b64(b"{not json")}, "not valid JSON"),
        ({"server": b64(b"https://s"), "config": b64(b"[]")}, "not a JSON object"),
        ({"server": "%%%"}, "data.server is not valid base64"),
        (
            {"server": b64(b"https://s"), "config": b64(b'{"execProviderConfig": {"x": 1}}')},
            "not supported",
        ),
        (
            {"server": b64(b"https://s"), "config": b64(b'{"tlsClientConfig": {"keyData": "%"}}')},
            "keyData is not valid base64",
        ),
    ],
)
def test_broken_secrets_name_the_secret_not_its_content(data: dict[str, str], message: str) -> None:
    with pytest.raises(ClusterConfigError, match=message) as caught:
        clusters.connection_from_secret({"metadata": {"name": "bad"}, "data": data})
    assert "cluster Secret bad" in str(caught.value)


def test_repr_hides_credentials() -> None:
    conn = clusters.connection_from_kubeconfig(
        kubeconfig({"client-certificate-data": b64(CERT), "client-key-data": b64(KEY),
                    "token": "tok-secret", "username": "u", "password": "pw-secret"}),
        "prod",
        read_file=no_files,
    )  # fmt: skip
    shown = repr(conn)
    for secret in ("secret-key-material", "tok-secret", "pw-secret", b64(KEY)):
        assert secret not in shown


def test_secret_names_are_valid_and_stable() -> None:
    name = clusters.secret_name_for("https://API.Example.com:6443/path")
    assert name == clusters.secret_name_for("https://API.Example.com:6443/path")
    assert name.startswith("cluster-api-example-com-6443-") and len(name) <= 63
    assert name != clusters.secret_name_for("https://api.example.com:6444")
