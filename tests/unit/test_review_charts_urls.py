"""Review items 3 and 5: bad chart repository URLs and query strings of real downloads.

Item 3: a malformed repository URL (bad port, broken IPv6 bracket, a ``/`` in
the password) is a ``SourceError`` whose message holds no part of the
password, never an untyped exception. Item 5: what is fetched keeps its query
(registry pagination with ``?last=``, signed archive URLs in an index); only
messages are redacted.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from driftless.core import repourl
from driftless.core.errors import SourceError
from driftless.render import chart_http
from driftless.render.chart_repo import _Repository, fetch_chart


@pytest.mark.parametrize(
    "url",
    [
        "https://charts.example.com:abc/",
        "https://[abc/charts",
        "https://user:s3cr/et@charts.example.com/charts",
        "https://user:s3cr@[::1/charts",
    ],
)
async def test_malformed_repository_url_is_a_source_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(SourceError) as caught:
        await fetch_chart(url, "demo", "1.0.0", cache_root=tmp_path, timeout=5)
    assert "s3cr" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["https://h:abc/x", "https://[abc/x", "https://u:p/w@h/x", "http://h:99999/x"]
)
def test_malformed_url_in_get_is_a_source_error(url: str) -> None:
    with pytest.raises(SourceError) as caught:
        chart_http.get(url, timeout=5, max_bytes=10)
    assert "p/w" not in str(caught.value)


def test_redaction_removes_userinfo_holding_a_slash() -> None:
    shown = repourl.redact("fetch https://user:s3cr/et@charts.example.com/x failed")
    assert "s3cr" not in shown and "et@" not in shown
    assert "charts.example.com/x" in shown


def _chart_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"apiVersion: v2\nname: demo\nversion: 1.2.3\n"
        info = tarfile.TarInfo("demo/Chart.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


ARCHIVE = _chart_archive()
SIGNATURE = "s1g+n/ed=="


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        if parts.path == "/v2/charts/demo/tags/list":
            if not query:
                link = '</v2/charts/demo/tags/list?last=1.0.0&n=1>; rel="next"'
                self._send(200, b'{"tags": ["1.0.0"]}', {"Link": link})
            elif query == {"last": ["1.0.0"], "n": ["1"]}:
                self._send(200, b'{"tags": ["1.2.3"]}')
            else:
                self._send(400, b"bad page")
        elif parts.path == "/index.yaml":
            digest = hashlib.sha256(ARCHIVE).hexdigest()
            signed = urllib.parse.urlencode({"X-Amz-Signature": SIGNATURE, "n": "1"})
            body = (
                "apiVersion: v1\nentries:\n  demo:\n    - version: 1.2.3\n"
                f"      digest: {digest}\n      urls: ['demo-1.2.3.tgz?{signed}']\n"
            )
            self._send(200, body.encode())
        elif parts.path == "/demo-1.2.3.tgz":
            ok = query.get("X-Amz-Signature") == [SIGNATURE]
            self._send(200, ARCHIVE) if ok else self._send(403, b"bad signature")
        else:
            self._send(404, b"")


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_registry_tag_pagination_keeps_the_query(server: str) -> None:
    repo = _Repository.parse(f"oci://{server}/charts", "demo", frozenset({server}))
    versions = sorted(c.version for c in repo.candidates(10))
    assert versions == ["1.0.0", "1.2.3"]


async def test_signed_archive_url_in_an_index_is_fetched_as_signed(
    tmp_path: Path, server: str
) -> None:
    fetched = await fetch_chart(
        f"http://{server}", "demo", "1.2.3", cache_root=tmp_path, timeout=10
    )
    assert (fetched.path / "Chart.yaml").read_bytes().startswith(b"apiVersion: v2")
