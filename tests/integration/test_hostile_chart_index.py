"""A chart repository that turns hostile: its index.yaml attacks the YAML parser.

The index is fetched and parsed by the controller itself (it needs the
network and the repository's credentials), so the bounded parser is all that
stands between it and the controller process. Served over real HTTP on
127.0.0.1 and rendered through ``driftless.render.render`` as an app with
``spec.source.chart`` would be.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftless.cli.tools import render_tools
from driftless.core.errors import SourceError
from driftless.core.models import ApplicationSource
from driftless.render import KubeTarget, render

pytestmark = pytest.mark.integration

SECRET = "index-secret-value"


def billion_laughs() -> str:
    lines = ['  l0: &l0 ["lol"]']
    for i in range(1, 10):
        lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return "apiVersion: v1\nentries:\n  demo:\n  - version: 1.0.0\n    urls: [x.tgz]\n" + (
        "lol:\n" + "\n".join(lines) + "\n"
    )


INDEXES = {
    "100k-brackets": ("entries: " + "[" * 100_000 + "]" * 100_000, "nesting deeper than"),
    "billion-laughs": (billion_laughs(), "expands to more than"),
    "recursive-alias": ("entries: &e {demo: [*e]}\n", "recursive alias"),
    "tagged-value": (f"apiVersion: v1\nentries: !{SECRET}\n", "unknown tag"),
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def index_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", tmp_path
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", INDEXES)
async def test_a_hostile_index_is_a_source_error(
    index_server: tuple[str, Path], tmp_path: Path, name: str
) -> None:
    url, root = index_server
    text, expected = INDEXES[name]
    (root / "index.yaml").write_text(text)
    tools = dataclasses.replace(render_tools(), chart_cache=tmp_path / "charts")
    source = ApplicationSource.model_validate(
        {"repoURL": url, "chart": "demo", "targetRevision": "1.0.0"}
    )
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        await render(
            source, None, None, revision=None, app_name="demo", namespace="default",
            kube=KubeTarget("v1.36.3"), tools=tools,
        )  # fmt: skip
    assert time.monotonic() - started < 20
    message = str(caught.value)
    assert message.startswith(f"index of chart repository {url.rstrip('/')}"), message
    assert expected in message
    assert SECRET not in message
