"""The render server's wire format: requests round-trip, errors keep their type and
location, and a hostile or broken answer is a TransientError, never a crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from driftless.core.errors import (
    DriftlessError,
    RenderError,
    SourceError,
    TransientError,
)
from driftless.core.models import ApplicationSource
from driftless.core.resources import Manifest
from driftless.render import KubeTarget, wire
from driftless.render.detect import Renderer


def request() -> wire.RenderRequest:
    source = ApplicationSource.model_validate(
        {
            "repoURL": "https://git.example.com/r.git",
            "path": "charts/demo",
            "helm": {"releaseName": "demo", "parameters": [{"name": "a", "value": "1"}]},
        }
    )
    return wire.RenderRequest(
        renderer=Renderer.HELM,
        source=source,
        tree=Path("/cache/trees/abc"),
        app_dir=Path("/cache/trees/abc/charts/demo"),
        app_name="demo",
        namespace="prod",
        kube=KubeTarget("v1.36.3", ("apps/v1", "v1")),
        time_limit=12.5,
        display="demo@1.0.0",
    )


def test_request_round_trips_through_json() -> None:
    original = request()
    body = wire.encode_frame(original.to_json())[wire.HEADER.size :]
    assert wire.RenderRequest.from_json(wire.decode_body(body)) == original


def test_manifests_round_trip() -> None:
    manifests = [Manifest({"apiVersion": "v1", "kind": "ConfigMap"}, "a.yaml", 3, {"k": 1})]
    assert wire.reply_manifests(wire.manifests_reply(manifests)) == manifests


@pytest.mark.parametrize(
    "error",
    [
        RenderError("invalid YAML: nesting deeper than 200 levels", file="app/x.yaml", line=4),
        RenderError("render exceeded the memory limit of 2048 MiB"),
        TransientError("render exceeded the 120 s time limit"),
        SourceError("no such chart"),
        DriftlessError("the renderer failed"),
    ],
)
def test_errors_keep_their_type_message_and_location(error: DriftlessError) -> None:
    with pytest.raises(type(error)) as caught:
        wire.reply_manifests(wire.error_reply(error))
    assert type(caught.value) is type(error)
    assert str(caught.value) == str(error)
    assert caught.value.reason == error.reason
    if isinstance(error, RenderError):
        assert isinstance(caught.value, RenderError)
        assert (caught.value.file, caught.value.line) == (error.file, error.line)


@pytest.mark.parametrize(
    "reply",
    [
        None,
        [],
        "manifests",
        {},
        {"manifests": "x"},
        {"manifests": [1]},
        {"manifests": [{"obj": []}]},
        {"error": "boom"},
        {"error": {"type": "RenderError"}},
    ],
)
def test_malformed_replies_are_transient_errors(reply: object) -> None:
    with pytest.raises(TransientError, match="malformed answer"):
        wire.reply_manifests(reply)


def test_an_unknown_error_type_is_a_plain_driftless_error() -> None:
    with pytest.raises(DriftlessError) as caught:
        wire.reply_manifests({"error": {"type": "SystemExit", "message": "m"}})
    assert type(caught.value) is DriftlessError


async def feed(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_an_oversized_frame_is_refused_before_it_is_read() -> None:
    reader = await feed(wire.HEADER.pack(10**12))
    with pytest.raises(wire.FrameError, match="exceeds the limit"):
        await wire.read_frame(reader, 1024)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x00", wire.HEADER.pack(10) + b"{}", wire.HEADER.pack(3) + b"{{{"],
    ids=["empty", "short header", "cut short", "not JSON"],
)
async def test_broken_frames_are_frame_errors(data: bytes) -> None:
    with pytest.raises(wire.FrameError):
        await wire.read_frame(await feed(data), 1024)


async def test_deeply_nested_json_is_a_frame_error() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(wire.FrameError):
        await wire.read_frame(await feed(wire.HEADER.pack(len(body)) + body), len(body))
