"""Repositories and clusters over real HTTP, on the dev cluster: what is listed, never a secret.

Credential and cluster Secrets are created as ``driftless repo add`` and
``driftless cluster add`` store them (the same builders), plus hostile ones
(unusable, or holding secrets where the parser gives up); the server's watch
caches must show each change, answer without listing, and no response may
ever carry a password, token, key, known-hosts line or CA data.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from driftless.kube import clusters
from driftless.kube.client import KubeClient
from driftless.pipeline import token_store
from driftless.sources import credentials as creds
from tests.integration.helpers import APPS_NAMESPACE, unique
from tests.integration.server_inprocess import serving

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
DEADLINE = 60.0
PASSWORD = "pw-Zq8vN3xR7tL2"
USERNAME = "deploy-bot-user-7781"
SSH_KEY_LINE = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQSECRETKEYLINE"
HOST_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfTheGitServer0123"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.cluster-token-Vx91Lq"
CA_LINE = "MIIBszCCAVmgAwIBAgIUCAcertificateAuthorityData99"
CLIENT_KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAAclientKeyData42"
CLIENT_CERT_LINE = "MIIC2jCCAcKgAwIBAgIBADANBgclientCertData77"
SECRET_TEXTS = [
    PASSWORD,
    USERNAME,
    SSH_KEY_LINE,
    HOST_KEY,
    TOKEN,
    CA_LINE,
    CLIENT_KEY_LINE,
    CLIENT_CERT_LINE,
    "hostile-password-in-a-bad-secret",
    "hostile-token-in-bad-json",
]


def _pem(kind: str, line: str) -> bytes:
    return f"-----BEGIN {kind}-----\n{line}\n-----END {kind}-----\n".encode()


SSH_KEY = _pem("OPENSSH PRIVATE KEY", SSH_KEY_LINE).decode()
CA_PEM = _pem("CERTIFICATE", CA_LINE)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _labelled(name: str, label: str, data: dict[str, str]) -> JSON:
    key, value = label.split("=")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": APPS_NAMESPACE, "labels": {key: value}},
        "data": {k: _b64(v) for k, v in data.items()},
    }


class _Responses:
    """Every body the test received, to check no secret ever appeared in one."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url, self.bodies = http, url, list[str]()

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.url}{path}") as resp:
            text = await resp.text()
            self.bodies.append(text)
            return resp.status, json.loads(text)

    async def until(self, path: str, check: Callable[[list[JSON]], bool], what: str) -> list[JSON]:
        deadline = time.monotonic() + DEADLINE
        while True:
            status, body = await self.get(path)
            if status == 200 and check(body["items"]):
                items: list[JSON] = body["items"]
                return items
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {status} {body}"
            await asyncio.sleep(0.2)


def _by(items: list[JSON], field: str) -> dict[str, JSON]:
    return {item[field]: item for item in items}


async def test_repositories_and_clusters_never_show_a_secret(
    kube: KubeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = unique("cfg")
    https = creds.RepoCredential(
        name=f"https-{suffix}",
        url=f"https://git.example.invalid/{suffix}",
        username=USERNAME,
        password=PASSWORD,
    )
    ssh = creds.RepoCredential(
        name=f"ssh-{suffix}",
        url=f"ssh://git@git.example.invalid/{suffix}",
        ssh_private_key=SSH_KEY,
        known_hosts=f"git.example.invalid ssh-ed25519 {HOST_KEY}\n",
    )
    bad_repo = _labelled(
        f"bad-{suffix}",
        creds.REPOSITORY_SECRET_LABEL,
        {"password": "hostile-password-in-a-bad-secret"},  # no url: unusable
    )
    token_cluster = clusters.ClusterConnection(
        name=f"tok-{suffix}",
        server=f"https://{suffix}.example.invalid:6443",
        tls=clusters.TlsClientConfig(ca_data=CA_PEM),
        bearer_token=TOKEN,
    )
    cert_cluster = clusters.ClusterConnection(
        name=f"cert-{suffix}",
        server=f"https://cert-{suffix}.example.invalid:6443",
        tls=clusters.TlsClientConfig(
            cert_data=_pem("CERTIFICATE", CLIENT_CERT_LINE),
            key_data=_pem("PRIVATE KEY", CLIENT_KEY_LINE),
        ),
    )
    bad_cluster = _labelled(
        f"badc-{suffix}",
        clusters.CLUSTER_SECRET_SELECTOR,
        # The config is cut short: not JSON, and its token must not be quoted back.
        {"server": "https://bad.invalid", "config": '{"bearerToken": "hostile-token-in-bad-json"'},
    )
    # An unlabelled Secret in the same namespace is none of these routes' business.
    unlabelled = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"plain-{suffix}", "namespace": APPS_NAMESPACE},
        "data": {"url": _b64("https://plain.example.invalid"), "password": _b64(PASSWORD)},
    }
    for secret in [
        creds.repository_secret(https, APPS_NAMESPACE),
        bad_repo,
        clusters.cluster_secret(token_cluster, APPS_NAMESPACE),
        bad_cluster,
        unlabelled,
    ]:
        await kube.create(secret)

    secret_lists: list[str] = []
    list_pages = kube.list_pages

    def counting(api_version: str, kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "Secret":
            secret_lists.append(str(kwargs.get("label_selector")))
        return list_pages(api_version, kind, *args, **kwargs)

    monkeypatch.setattr(kube, "list_pages", counting)
    async with serving(kube) as served:
        async with aiohttp.ClientSession() as anonymous:
            for path in ["/api/v1/repositories", "/api/v1/clusters"]:
                async with anonymous.get(f"{served.url}{path}") as resp:
                    assert resp.status == 401
        http = await served.login()
        try:
            api = _Responses(http, served.url)
            repos = _by(
                await api.until(
                    "/api/v1/repositories",
                    lambda items: (
                        {https.name, bad_repo["metadata"]["name"]} <= {i["name"] for i in items}
                    ),
                    "the repository credentials",
                ),
                "name",
            )
            assert repos[https.name] == {
                "name": https.name,
                "namespace": APPS_NAMESPACE,
                "url": https.url,
                "type": "https",
                "knownHosts": "-",
                "status": "Ok",
                "message": "",
                "created": repos[https.name]["created"],
            }
            assert repos[https.name]["created"]
            bad = repos[bad_repo["metadata"]["name"]]
            assert (bad["type"], bad["url"], bad["status"]) == ("invalid", "-", "Invalid")
            assert "url is missing" in bad["message"]
            assert f"plain-{suffix}" not in repos

            found = await api.until(
                "/api/v1/clusters",
                lambda items: {token_cluster.name, f"badc-{suffix}"} <= {i["name"] for i in items},
                "the clusters",
            )
            assert found[0]["name"] == clusters.IN_CLUSTER_NAME
            assert found[0]["namespace"] is None and found[0]["secret"] is None
            by_name = _by(found, "name")
            registered = by_name[token_cluster.name]
            assert registered["server"] == token_cluster.server
            assert registered["namespace"] == APPS_NAMESPACE
            assert registered["auth"] == "token"
            assert registered["status"] == "Ok"
            invalid = by_name[f"badc-{suffix}"]
            assert (invalid["auth"], invalid["status"]) == ("invalid", "Invalid")
            assert "not valid JSON" in invalid["message"]

            # Changes arrive through the watches: added, replaced, removed.
            await kube.create(creds.repository_secret(ssh, APPS_NAMESPACE))
            await kube.create(clusters.cluster_secret(cert_cluster, APPS_NAMESPACE))
            await kube.delete("v1", "Secret", https.name, APPS_NAMESPACE)
            repos = _by(
                await api.until(
                    "/api/v1/repositories",
                    lambda items: (
                        ssh.name in {i["name"] for i in items}
                        and https.name not in {i["name"] for i in items}
                    ),
                    "the ssh credential in, the https one out",
                ),
                "name",
            )
            shown = repos[ssh.name]
            assert (shown["type"], shown["knownHosts"]) == ("ssh", "set")
            assert shown["url"] == f"ssh://git.example.invalid/{suffix}"  # no user name
            found = await api.until(
                "/api/v1/clusters",
                lambda items: cert_cluster.name in {i["name"] for i in items},
                "the certificate cluster",
            )
            assert _by(found, "name")[cert_cluster.name]["auth"] == "client-certificate"

            for _ in range(5):  # answered from memory: no list per request
                await api.get("/api/v1/repositories")
                await api.get("/api/v1/clusters")
            assert sorted(secret_lists) == sorted(
                [
                    creds.REPOSITORY_SECRET_LABEL,
                    clusters.CLUSTER_SECRET_SELECTOR,
                    token_store.TOKENS_SECRET_SELECTOR,
                ]
            )
            await api.get("/api/openapi.json")
        finally:
            await http.close()

    names = [https.name, ssh.name, bad_repo["metadata"]["name"], f"badc-{suffix}"]
    names += [f"plain-{suffix}", clusters.cluster_secret(token_cluster, "x")["metadata"]["name"]]
    names += [clusters.cluster_secret(cert_cluster, "x")["metadata"]["name"]]
    for name in names:
        await kube.delete("v1", "Secret", name, APPS_NAMESPACE)
    for body in api.bodies:
        for text in SECRET_TEXTS:
            assert text not in body, f"{text!r} leaked into a response"
