"""A watch loop meeting a "not found": expired (410) is routine, gone (404) is told.

A 410 says the resource version a watch started from is too old: the loop
re-lists quietly, as Kubernetes clients do. A 404 on a list or watch says
the kind itself is not served any more (its CRD was deleted): re-listing
silently forever would hide that, so the loop logs a warning each time.
The client here is a stand-in whose first list fails with the error (no API
server); this tests the loop's handling, not Kubernetes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest

from driftless.controller import manager
from driftless.kube import cache
from driftless.kube.client import KubeApiError, KubeClient, KubeExpiredError, KubeNotFoundError
from driftless.sources.git import GitCache

JSON = dict[str, Any]


class Lister:
    """The first list raises ``error``; the second one blocks (the test is over)."""

    def __init__(self, error: KubeApiError) -> None:
        self.error = error
        self.calls = 0
        self.relisted = asyncio.Event()

    async def list_with_version(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> tuple[list[JSON], str]:
        self.calls += 1
        if self.calls == 1:
            raise self.error
        self.relisted.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("error", "warned"),
    [
        pytest.param(KubeExpiredError(410, "too old resource version: 5 (9)"), False, id="410"),
        pytest.param(
            KubeNotFoundError(404, "the server could not find the requested resource"), True,
            id="404",
        ),
    ],
)  # fmt: skip
async def test_the_informer_relists_and_warns_only_when_the_kind_is_gone(
    error: KubeApiError, warned: bool, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    monkeypatch.setattr(cache, "RELIST_DELAY_SECONDS", 0.0)
    lister = Lister(error)
    informer = cache._Informer(
        cast(KubeClient, lister), ("example.com/v1", "Widget"), lambda *_: None, None
    )
    with caplog.at_level(logging.DEBUG, logger=cache.__name__):
        informer.start()
        await asyncio.wait_for(lister.relisted.wait(), 5)
        assert informer.task is not None
        informer.task.cancel()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if warned:
        assert warnings == [
            "cannot list or watch Widget (was its CRD deleted?): the server could not find "
            "the requested resource"
        ]
    else:
        assert warnings == []


@pytest.mark.parametrize(
    ("error", "warned"),
    [
        pytest.param(KubeExpiredError(410, "too old resource version: 5 (9)"), False, id="410"),
        pytest.param(
            KubeNotFoundError(404, "the server could not find the requested resource"), True,
            id="404",
        ),
    ],
)  # fmt: skip
async def test_the_application_watch_relists_and_warns_only_when_the_crd_is_gone(
    error: KubeApiError,
    warned: bool,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: Any,
    tmp_path: Any,
) -> None:
    monkeypatch.setattr(manager, "RELIST_DELAY_SECONDS", 0.0)
    lister = Lister(error)
    settings = manager.ControllerSettings(namespace="apps")
    controller = manager.Controller(cast(KubeClient, lister), GitCache(tmp_path), settings)
    with caplog.at_level(logging.DEBUG, logger=manager.__name__):
        task = asyncio.create_task(controller._watch_apps())
        await asyncio.wait_for(lister.relisted.wait(), 5)
        task.cancel()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    expected = ["watching Applications failed: the server could not find the requested resource"]
    assert warnings == (expected if warned else [])


def test_an_expired_watch_is_still_a_not_found_for_callers_catching_that() -> None:
    assert issubclass(KubeExpiredError, KubeNotFoundError)
    assert not hasattr(KubeApiError(404, "x"), "not_found")
