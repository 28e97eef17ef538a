"""Chart downloads against real loopback HTTP servers that record what they receive.

What an attacker would observe is what is asserted: the headers a second
server (another port = another origin) received, whether a local file came
back, whether a chart fetched with credentials is handed to an app without
them.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from driftless.core.errors import SourceError
from driftless.render import chart_http
from driftless.render.chart_http import BasicAuth
from driftless.render.chart_repo import HELM_CHART_LAYER, fetch_chart

USER, PASSWORD = "reader", "s3cr3t-p@ss"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

Answer = tuple[int, dict[str, str], bytes]
Route = Callable[[str | None], Answer]


@dataclass
class Server:
    """A loopback HTTP server: ``routes`` by path; every request recorded."""

    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def authorizations(self, path: str) -> list[str | None]:
        return [auth for seen_path, auth in self.seen if seen_path == path]


@pytest.fixture
def serve() -> Iterator[Callable[[], Server]]:
    started: list[http.server.ThreadingHTTPServer] = []

    def start() -> Server:
        state = Server()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                auth = self.headers.get("Authorization")
                state.seen.append((path, auth))
                route = state.routes.get(path)
                status, headers, body = route(auth) if route else (404, {}, b"not found")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        state.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return state

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def ok(body: bytes, **headers: str) -> Route:
    return lambda auth: (200, headers, body)


def protected(body: bytes) -> Route:
    """200 with the right Basic credentials, 401 (Basic challenge) otherwise."""

    def route(auth: str | None) -> Answer:
        if auth == BASIC:
            return 200, {}, body
        return 401, {"WWW-Authenticate": 'Basic realm="charts"'}, b"unauthorized"

    return route


def redirect(location: str) -> Route:
    return lambda auth: (302, {"Location": location}, b"")


def chart_archive(version: str = "1.0.0") -> bytes:
    """A chart archive as ``helm package`` lays it out: ``demo/Chart.yaml`` and templates."""
    files = {
        "demo/Chart.yaml": f"apiVersion: v2\nname: demo\nversion: {version}\n",
        "demo/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: private\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def index(url: str, archive: bytes, version: str = "1.0.0") -> bytes:
    digest = hashlib.sha256(archive).hexdigest()
    return (
        "apiVersion: v1\nentries:\n  demo:\n"
        f"  - name: demo\n    version: {version}\n    digest: {digest}\n    urls:\n"
        f"    - {url}\n"
    ).encode()


def get(url: str, auth: BasicAuth | None = None) -> bytes:
    return chart_http.get(url, timeout=10, max_bytes=1 << 20, auth=auth).body


def auth_for(server: Server) -> BasicAuth:
    return BasicAuth(origin=server.origin, username=USER, password=PASSWORD)


# --------------------------------------------------------------- redirects


def test_redirect_to_another_host_drops_the_credentials(serve: Callable[[], Server]) -> None:
    registered, elsewhere = serve(), serve()
    registered.routes["/demo.tgz"] = lambda auth: (
        (302, {"Location": f"{elsewhere.url}/demo.tgz"}, b"") if auth == BASIC else (401, {}, b"")
    )
    elsewhere.routes["/demo.tgz"] = ok(b"archive")
    assert get(f"{registered.url}/demo.tgz", auth_for(registered)) == b"archive"
    assert registered.authorizations("/demo.tgz") == [BASIC]
    assert elsewhere.authorizations("/demo.tgz") == [None]


def test_redirect_on_the_same_origin_keeps_the_credentials(serve: Callable[[], Server]) -> None:
    registered = serve()
    registered.routes["/old.tgz"] = redirect("/new.tgz")
    registered.routes["/new.tgz"] = protected(b"archive")
    assert get(f"{registered.url}/old.tgz", auth_for(registered)) == b"archive"
    assert registered.authorizations("/new.tgz") == [BASIC]


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "data:,hello"])
def test_redirect_to_a_local_file_or_other_scheme_is_refused(
    serve: Callable[[], Server], target: str
) -> None:
    server = serve()
    server.routes["/demo.tgz"] = redirect(target)
    with pytest.raises(SourceError, match=r"non-http\(s\) URL"):
        get(f"{server.url}/demo.tgz")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "/etc/passwd"])
def test_get_refuses_anything_but_http(url: str) -> None:
    with pytest.raises(SourceError, match=r"not an http\(s\) URL; refused"):
        get(url)


def test_credentials_are_not_sent_to_another_origin(serve: Callable[[], Server]) -> None:
    registered, elsewhere = serve(), serve()
    elsewhere.routes["/x"] = ok(b"x")
    get(f"{elsewhere.url}/x", auth_for(registered))
    # Another scheme or port on the same host is another origin too.
    assert elsewhere.authorizations("/x") == [None]
    assert not auth_for(registered).allows(f"https://127.0.0.1:{registered.port}/x")


# ------------------------------------------------------------- token realms


def _token_registry(registry: Server, realm: Server, path: str) -> None:
    registry.routes[path] = lambda auth: (
        (200, {}, b"manifest")
        if auth == "Bearer tok"
        else (401, {"WWW-Authenticate": f'Bearer realm="{realm.url}/token",service="r"'}, b"")
    )
    realm.routes["/token"] = ok(b'{"token": "tok"}')


def test_bearer_realm_on_another_host_gets_no_basic_credentials(
    serve: Callable[[], Server],
) -> None:
    registry, realm = serve(), serve()
    _token_registry(registry, realm, "/v2/demo/manifests/1.0.0")
    assert get(f"{registry.url}/v2/demo/manifests/1.0.0", auth_for(registry)) == b"manifest"
    assert realm.authorizations("/token") == [None]
    assert registry.authorizations("/v2/demo/manifests/1.0.0") == [BASIC, "Bearer tok"]


def test_bearer_realm_on_the_registry_itself_gets_the_credentials(
    serve: Callable[[], Server],
) -> None:
    registry = serve()
    _token_registry(registry, registry, "/v2/demo/manifests/1.0.0")
    assert get(f"{registry.url}/v2/demo/manifests/1.0.0", auth_for(registry)) == b"manifest"
    assert registry.authorizations("/token") == [BASIC]


def test_bearer_realm_must_be_http(serve: Callable[[], Server]) -> None:
    registry = serve()
    registry.routes["/v2/x"] = lambda auth: (
        401,
        {"WWW-Authenticate": 'Bearer realm="file:///var/run/secrets/token"'},
        b"",
    )
    with pytest.raises(SourceError, match=r"token realm: 'file:///var/run/secrets/token' is not"):
        get(f"{registry.url}/v2/x")


# ------------------------------------------------------------ chart indexes


async def test_index_entry_on_another_host_gets_no_credentials(
    serve: Callable[[], Server], tmp_path: Path
) -> None:
    repo, mirror = serve(), serve()
    archive = chart_archive()
    repo.routes["/index.yaml"] = protected(index(f"{mirror.url}/demo-1.0.0.tgz", archive))
    mirror.routes["/demo-1.0.0.tgz"] = ok(archive)
    repo_url = f"http://{USER}:{PASSWORD.replace('@', '%40')}@127.0.0.1:{repo.port}/"
    fetched = await fetch_chart(repo_url, "demo", "1.0.0", cache_root=tmp_path)
    assert (fetched.path / "Chart.yaml").is_file()
    assert repo.authorizations("/index.yaml") == [BASIC]
    assert mirror.authorizations("/demo-1.0.0.tgz") == [None]


@pytest.mark.parametrize(
    "entry",
    ["file:///etc/passwd", "file://localhost/etc/passwd", "ftp://127.0.0.1/demo.tgz"],
)
async def test_index_entry_with_a_local_file_is_refused(
    serve: Callable[[], Server], tmp_path: Path, entry: str
) -> None:
    repo = serve()
    repo.routes["/index.yaml"] = ok(index(entry, chart_archive()))
    with pytest.raises(SourceError, match=r"the index entry's URL: '.*' is not an http\(s\) URL"):
        await fetch_chart(f"{repo.url}/", "demo", "1.0.0", cache_root=tmp_path)


async def test_absolute_path_in_an_index_resolves_against_the_index_url(
    serve: Callable[[], Server], tmp_path: Path
) -> None:
    repo = serve()
    repo.routes["/index.yaml"] = ok(index("/etc/passwd", chart_archive()))
    with pytest.raises(SourceError, match=r"not found \(HTTP 404"):
        await fetch_chart(f"{repo.url}/", "demo", "1.0.0", cache_root=tmp_path)
    assert repo.authorizations("/etc/passwd") == [None]  # asked the server, not the disk


@pytest.mark.parametrize(
    "repo_url", ["file:///srv/charts", "/srv/charts", "ftp://127.0.0.1/charts", "charts"]
)
async def test_chart_repository_must_be_http_or_oci(repo_url: str, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"must be an https://, http:// or oci:// URL"):
        await fetch_chart(repo_url, "demo", "1.0.0", cache_root=tmp_path)


# -------------------------------------------------------- private chart cache


async def test_private_chart_is_not_served_from_cache_without_credentials(
    serve: Callable[[], Server], tmp_path: Path
) -> None:
    repo = serve()
    archive = chart_archive()
    repo.routes["/index.yaml"] = protected(index("demo-1.0.0.tgz", archive))
    repo.routes["/demo-1.0.0.tgz"] = protected(archive)
    with_credentials = f"http://{USER}:{PASSWORD.replace('@', '%40')}@127.0.0.1:{repo.port}/"
    fetched = await fetch_chart(with_credentials, "demo", "1.0.0", cache_root=tmp_path)
    assert repo.authorizations("/demo-1.0.0.tgz") == [BASIC]

    anonymous = f"{repo.url}/"
    with pytest.raises(SourceError, match="the server requires credentials"):
        await fetch_chart(anonymous, "demo", "1.0.0", cache_root=tmp_path)
    wrong = f"http://{USER}:guess@127.0.0.1:{repo.port}/"
    with pytest.raises(SourceError, match=r"the server refused the credentials \(HTTP 401\)"):
        await fetch_chart(wrong, "demo", "1.0.0", cache_root=tmp_path)

    # The app holding the credential still gets its cached copy, without the network.
    requests = len(repo.seen)
    again = await fetch_chart(with_credentials, "demo", "1.0.0", cache_root=tmp_path)
    assert again.path == fetched.path and len(repo.seen) == requests
    # The render cache key (identity) separates them too, and never holds the password.
    assert fetched.access and fetched.identity != f"{anonymous} demo@1.0.0"
    assert PASSWORD not in fetched.identity and "guess" not in str(list(tmp_path.rglob("*")))


async def test_oci_credentials_go_to_the_registry_and_not_to_blob_storage(
    serve: Callable[[], Server], tmp_path: Path
) -> None:
    registry, storage = serve(), serve()
    archive = chart_archive()
    digest = "sha256:" + hashlib.sha256(archive).hexdigest()
    manifest = {"layers": [{"mediaType": HELM_CHART_LAYER, "digest": digest}]}
    registry.routes["/v2/charts/demo/tags/list"] = protected(b'{"tags": ["1.0.0"]}')
    registry.routes["/v2/charts/demo/manifests/1.0.0"] = protected(json.dumps(manifest).encode())
    registry.routes[f"/v2/charts/demo/blobs/{digest}"] = lambda auth: (
        (307, {"Location": f"{storage.url}/blob"}, b"") if auth == BASIC else (401, {}, b"")
    )
    storage.routes["/blob"] = ok(archive)
    host = f"127.0.0.1:{registry.port}"
    fetched = await fetch_chart(
        f"oci://{USER}:{PASSWORD.replace('@', '%40')}@{host}/charts",
        "demo",
        "^1",
        cache_root=tmp_path,
        plain_http_registries=frozenset({host}),
    )
    assert (fetched.path / "Chart.yaml").is_file()
    assert set(registry.authorizations("/v2/charts/demo/tags/list")) == {BASIC}
    assert storage.authorizations("/blob") == [None]
    with pytest.raises(SourceError, match="the server requires credentials"):
        await fetch_chart(
            f"oci://{host}/charts",
            "demo",
            "1.0.0",
            cache_root=tmp_path,
            plain_http_registries=frozenset({host}),
        )
