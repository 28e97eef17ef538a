"""kube.client looks the API server's proxy up in the environment once per client, with
aiohttp's own rules, and stops aiohttp from doing it (and reading ~/.netrc) per request."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio import client as k8s_client

from driftless.kube.client import KubeClient

SERVER = "https://api.example.test:6443"


def session_of(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[str | None, bool]:
    """(the proxy the client will use, whether aiohttp still reads the environment)."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                 "no_proxy", "ALL_PROXY", "all_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    async def build() -> tuple[str | None, bool]:
        configuration = k8s_client.Configuration(host=SERVER)
        client = KubeClient(k8s_client.ApiClient(configuration))
        try:
            rest = client._api.rest_client
            return rest.proxy, rest.pool_manager.trust_env
        finally:
            await client.close()

    return asyncio.run(build())


def test_no_proxy_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert session_of({}, monkeypatch) == (None, False)


def test_the_https_proxy_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy, per_request = session_of({"HTTPS_PROXY": "http://proxy.test:3128"}, monkeypatch)
    assert (proxy, per_request) == ("http://proxy.test:3128", False)


def test_no_proxy_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"HTTPS_PROXY": "http://proxy.test:3128", "NO_PROXY": ".example.test"}
    assert session_of(env, monkeypatch) == (None, False)


def test_a_proxy_with_credentials_keeps_aiohttp_looking(monkeypatch: pytest.MonkeyPatch) -> None:
    # kubernetes_asyncio passes no proxy credentials: aiohttp's own per-request path does.
    env = {"HTTPS_PROXY": "http://user:secret@proxy.test:3128"}
    assert session_of(env, monkeypatch) == (None, True)


def test_a_garbage_proxy_variable_is_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # A client is still made (no crash at start); what aiohttp would have done is moot.
    proxy, _ = session_of({"HTTPS_PROXY": "::not a url::"}, monkeypatch)
    assert proxy is None or isinstance(proxy, str)
