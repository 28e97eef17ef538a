"""Refusals keep their narrow meaning where code falls back or keeps quiet.

A 403 (``KubeForbiddenError``) is RBAC saying no to this identity: listing
cluster-wide may fall back to one namespace, and an informer that may not
list a kind reports "not allowed to list". Any other refusal (400, an
admission webhook's) means something else and is not dressed up as RBAC.
Clearing a finished operation request stays quiet only for what is
expected there (404 gone, 409 changed, 422 the resourceVersion test failed);
anything else refused is logged. Stand-in clients raise the classes of
``driftless.kube.errors``; no API server.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, cast

import pytest

from driftless.cli.project import _apps
from driftless.controller.reconciler import Reconciler
from driftless.core.models import Operation, SyncOperation
from driftless.kube import cache
from driftless.kube.client import (
    KubeApiError,
    KubeClient,
    KubeConflictError,
    KubeForbiddenError,
    KubeInvalidError,
    KubeNotFoundError,
    KubeRefusedError,
)
from driftless.sources.git import GitCache

JSON = dict[str, Any]
FORBIDDEN = KubeForbiddenError(403, 'applications is forbidden: User "dev" cannot list')
BAD = KubeRefusedError(400, "bad request: unknown field selector")


class AppLister:
    """Listing Applications cluster-wide fails with ``error``; one namespace works."""

    def __init__(self, error: KubeApiError) -> None:
        self.error = error

    async def list(self, api_version: str, kind: str, namespace: str | None) -> list[JSON]:
        if namespace is None:
            raise self.error
        return [{"metadata": {"name": "mine", "namespace": namespace}}]


async def test_project_listing_falls_back_to_one_namespace_only_when_forbidden() -> None:
    apps = await _apps(cast(KubeClient, AppLister(FORBIDDEN)), "team")
    assert [a["metadata"]["name"] for a in apps] == ["mine"]
    with pytest.raises(KubeRefusedError) as raised:
        await _apps(cast(KubeClient, AppLister(BAD)), "team")
    assert raised.value is BAD


class FailingList:
    def __init__(self, error: KubeApiError) -> None:
        self.error = error
        self.calls = 0
        self.relisted = asyncio.Event()

    async def list_with_version(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> tuple[list[JSON], str]:
        self.calls += 1
        if self.calls > 1:
            self.relisted.set()
            await asyncio.Event().wait()
        raise self.error


async def test_an_informer_says_not_allowed_to_list_only_for_a_403(monkeypatch: Any) -> None:
    monkeypatch.setattr(cache, "RELIST_DELAY_SECONDS", 0.0)
    kind = ("example.com/v1", "Widget")
    forbidden = cache._Informer(cast(KubeClient, FailingList(FORBIDDEN)), kind, print, None)
    forbidden.start()
    await asyncio.wait_for(forbidden.synced.wait(), 5)
    assert isinstance(forbidden.failed, cache.ListForbiddenError)
    assert "not allowed to list kind 'Widget'" in str(forbidden.failed)

    lister = FailingList(BAD)
    refused = cache._Informer(cast(KubeClient, lister), kind, print, None)
    refused.start()
    await asyncio.wait_for(lister.relisted.wait(), 5)  # retried, not reported as RBAC
    assert refused.failed is None
    assert refused.task is not None
    refused.task.cancel()


RAN = Operation(sync=SyncOperation(prune=True))


class StoredRequest:
    """The app still carries the finished request; removing it fails with ``error``."""

    def __init__(self, error: KubeApiError) -> None:
        self.error = error

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> JSON:
        meta = {"name": name, "namespace": namespace, "resourceVersion": "7"}
        return {"metadata": meta, "operation": RAN.to_api()}

    async def json_patch(self, *args: Any, **kwargs: Any) -> JSON:
        raise self.error


@pytest.mark.parametrize(
    ("error", "warned"),
    [
        pytest.param(KubeNotFoundError(404, "gone"), False, id="404 app gone"),
        pytest.param(KubeConflictError(409, "changed"), False, id="409 changed"),
        pytest.param(KubeInvalidError(422, "testing value failed"), False, id="422 test failed"),
        pytest.param(FORBIDDEN, True, id="403 told"),
        pytest.param(KubeRefusedError(400, "denied by webhook"), True, id="400 told"),
    ],
)
async def test_clearing_a_finished_request_keeps_quiet_only_when_expected(
    error: KubeApiError, warned: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reconciler = Reconciler(cast(KubeClient, StoredRequest(error)), GitCache(tmp_path))
    raw = {"metadata": {"name": "shop", "namespace": "team"}}
    with caplog.at_level(logging.WARNING):
        await reconciler._clear_operation(raw, RAN)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if warned:
        assert warnings == [
            f"app team/shop: cannot clear the finished operation request: {error.message}"
        ]
    else:
        assert warnings == []
