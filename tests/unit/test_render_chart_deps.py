"""Helm chart dependencies from chart repositories (``render.chart_deps``).

Pure parts by table; ``prepare`` against a real HTTP server on 127.0.0.1
serving an ``index.yaml`` and chart archives built here (no helm needed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from driftless.core.errors import RenderError
from driftless.core.models import ApplicationSource, HelmSource
from driftless.core.project import ProjectViolationError
from driftless.render import KubeTarget, chart_deps, chart_repo, helm, wire
from driftless.render.chart_deps import Requirement
from driftless.render.context import RenderTools
from driftless.render.detect import Renderer

# --------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("repository", "words"),
    [
        ("-https://evil", "must be an https://"),
        ("--set-file=x", "must be an https://"),
        ("ftp://host/charts", "must be an https://"),
        ("@stable", "alias"),
        ("alias:stable", "alias"),
        ("https://user:pw@host/charts", "credentials"),
    ],
)
def test_hostile_repository_urls_are_refused(repository: str, words: str) -> None:
    entries = [{"name": "dep", "version": "1.0.0", "repository": repository}]
    with pytest.raises(RenderError) as caught:
        chart_deps.declared_requirements(entries, "chart/Chart.yaml")
    assert words in caught.value.message
    assert caught.value.file == "chart/Chart.yaml"
    assert "pw" not in str(caught.value)


def test_local_and_vendored_dependencies_are_not_fetched(tmp_path: Path) -> None:
    chart = tmp_path / "umbrella"
    (chart / "charts" / "vendored").mkdir(parents=True)
    (chart / "charts" / "vendored" / "Chart.yaml").write_text("name: vendored\nversion: 1.0.0\n")
    (chart / "charts" / "packed-2.0.0.tgz").write_bytes(b"")
    deps = [
        {"name": "vendored", "version": "1.0.0", "repository": "https://h/c"},
        {"name": "packed", "version": "2.0.0", "repository": "https://h/c"},
        {"name": "local", "repository": "file://../local"},
        {"name": "remote", "version": "^1", "repository": "oci://h/c"},
    ]
    (chart / "Chart.yaml").write_text(yaml.safe_dump({"name": "u", "dependencies": deps}))
    declared = chart_deps.read_declared(chart, "umbrella")
    assert declared.fetch == (Requirement("remote", "^1", "oci://h/c"),)


def test_requirements_yaml_of_v1_charts(tmp_path: Path) -> None:
    chart = tmp_path / "old"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v1\nname: old\nversion: 1.0.0\n")
    (chart / "requirements.yaml").write_text(
        "dependencies:\n- name: dep\n  version: ~1.2\n  repository: https://h/c\n"
    )
    (chart / "requirements.lock").write_text(
        "dependencies:\n- name: dep\n  version: 1.2.7\n  repository: https://h/c\n"
    )
    declared = chart_deps.read_declared(chart, "old")
    assert declared.file == "requirements.yaml"
    assert declared.locked == {("dep", "https://h/c"): "1.2.7"}


REQ = (Requirement("a", "^1.0", "https://h/c"), Requirement("b", "", "oci://r/c"))


@pytest.mark.parametrize(
    ("lock", "expected"),
    [
        (
            [
                {"name": "a", "version": "1.4.0", "repository": "https://h/c"},
                {"name": "b", "version": "0.1.0", "repository": "oci://r/c"},
            ],
            {("a", "https://h/c"): "1.4.0", ("b", "oci://r/c"): "0.1.0"},
        ),
        # The range moved past the lock: the lock is stale, ranges are resolved.
        (
            [
                {"name": "a", "version": "2.0.0", "repository": "https://h/c"},
                {"name": "b", "version": "0.1.0", "repository": "oci://r/c"},
            ],
            {},
        ),
        # Another repository for the same name: not this lock's dependency.
        (
            [
                {"name": "a", "version": "1.4.0", "repository": "https://other/c"},
                {"name": "b", "version": "0.1.0", "repository": "oci://r/c"},
            ],
            {},
        ),
        ([{"name": "a", "version": "1.4.0", "repository": "https://h/c"}], {}),
        ("not a list", {}),
        ([{"name": "a", "version": "^1", "repository": "https://h/c"}], {}),
    ],
)
def test_lock_is_honoured_only_when_it_matches(lock: Any, expected: dict[Any, str]) -> None:
    assert chart_deps.matching_lock(REQ, {"dependencies": lock}) == expected


def test_file_dependency_outside_the_chart_repository_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    chart = root / "umbrella"
    chart.mkdir(parents=True)
    deps = [{"name": "x", "repository": "file://../../outside"}]
    (chart / "Chart.yaml").write_text(yaml.safe_dump({"name": "u", "dependencies": deps}))
    with pytest.raises(RenderError) as caught:
        helm._inspect_chart(root.resolve(), chart.resolve(), "umbrella", HelmSource(), True)
    assert "outside the repository" in caught.value.message


# ---------------------------------------------- a real repository on 127.0.0.1


@dataclass
class Repo:
    url: str
    files: dict[str, bytes]
    requests: list[tuple[str, str | None]] = field(default_factory=list)


def chart_archive(name: str, version: str, deps: list[dict[str, str]] | None = None) -> bytes:
    meta: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version}
    if deps:
        meta["dependencies"] = deps
    files = {
        f"{name}/Chart.yaml": yaml.safe_dump(meta).encode(),
        f"{name}/templates/cm.yaml": (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-{version}\n"
        ).encode(),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for path, body in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return out.getvalue()


def publish(repo: Repo, charts: dict[tuple[str, str], bytes]) -> None:
    entries: dict[str, list[dict[str, Any]]] = {}
    for (name, version), body in charts.items():
        path = f"{name}-{version}.tgz"
        repo.files[f"/{path}"] = body
        digest = hashlib.sha256(body).hexdigest()
        entries.setdefault(name, []).append(
            {"name": name, "version": version, "urls": [path], "digest": digest}
        )
    repo.files["/index.yaml"] = yaml.safe_dump({"apiVersion": "v1", "entries": entries}).encode()


@contextlib.contextmanager
def serving() -> Iterator[Repo]:
    """A repository on 127.0.0.1 serving ``files``; it records every request."""
    state = Repo(url="", files={})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Authorization")))
            body = state.files.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def repo() -> Iterator[Repo]:
    chart_deps.forget_resolutions()
    with serving() as state:
        yield state


def umbrella(tmp_path: Path, deps: list[dict[str, str]], lock: list[Any] | None = None) -> Path:
    chart = tmp_path / "repo" / "umbrella"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": "umbrella", "dependencies": deps})
    )
    if lock is not None:
        (chart / "Chart.lock").write_text(yaml.safe_dump({"dependencies": lock}))
    return chart


def tools_for(tmp_path: Path, **changes: Any) -> RenderTools:
    return RenderTools(chart_cache=tmp_path / "cache", download_limit=20.0, **changes)


def fetched(prepared: chart_deps.Prepared | None) -> list[str]:
    assert prepared is not None
    return sorted(p.name for p in prepared.charts.iterdir())


async def test_ranges_are_resolved_and_the_lock_honoured(repo: Repo, tmp_path: Path) -> None:
    publish(repo, {("db", v): chart_archive("db", v) for v in ("1.0.0", "1.1.0", "2.0.0")})
    deps = [{"name": "db", "version": "^1", "repository": repo.url}]
    prepared = await chart_deps.prepare(umbrella(tmp_path / "a", deps), "u", tools_for(tmp_path))
    assert fetched(prepared) == ["db-1.1.0"]
    lock = [{"name": "db", "version": "1.0.0", "repository": repo.url}]
    chart = umbrella(tmp_path / "b", deps, lock)
    locked = await chart_deps.prepare(chart, "u", tools_for(tmp_path))
    assert fetched(locked) == ["db-1.0.0"]
    assert locked is not None and prepared is not None
    assert locked.identity != prepared.identity
    # A lock that no longer matches the declared range is not followed.
    stale = [{"name": "db", "version": "2.0.0", "repository": repo.url}]
    chart = umbrella(tmp_path / "c", deps, stale)
    assert fetched(await chart_deps.prepare(chart, "u", tools_for(tmp_path))) == ["db-1.1.0"]


async def test_locked_charts_are_served_from_the_cache(repo: Repo, tmp_path: Path) -> None:
    publish(repo, {("db", "1.0.0"): chart_archive("db", "1.0.0")})
    deps = [{"name": "db", "version": "1.0.0", "repository": repo.url}]
    chart = umbrella(tmp_path, deps, deps)
    first = await chart_deps.prepare(chart, "u", tools_for(tmp_path))
    repo.files.clear()  # the repository is gone
    again = await chart_deps.prepare(chart, "u", tools_for(tmp_path))
    assert first == again


async def test_repository_not_allowed_is_never_contacted(repo: Repo, tmp_path: Path) -> None:
    publish(repo, {("db", "1.0.0"): chart_archive("db", "1.0.0")})
    chart = umbrella(tmp_path, [{"name": "db", "version": "1.0.0", "repository": repo.url}])

    def refuse(url: str) -> None:
        raise ProjectViolationError(f"repository {url} is not permitted in project team")

    with pytest.raises(RenderError) as caught, chart_deps.checking_repositories(refuse):
        await chart_deps.prepare(chart, "umbrella", tools_for(tmp_path))
    assert "not permitted in project team" in caught.value.message
    assert caught.value.file == "umbrella/Chart.yaml"
    assert repo.requests == []


async def test_unfetchable_dependency_names_repository_and_version(
    repo: Repo, tmp_path: Path
) -> None:
    publish(repo, {("db", "1.0.0"): chart_archive("db", "1.0.0")})
    chart = umbrella(tmp_path, [{"name": "db", "version": "9.9.9", "repository": repo.url}])
    with pytest.raises(RenderError) as caught:
        await chart_deps.prepare(chart, "umbrella", tools_for(tmp_path))
    assert f"dependency db 9.9.9 from {repo.url}" in caught.value.message
    down = umbrella(
        tmp_path / "down", [{"name": "db", "version": "1.0.0", "repository": "http://127.0.0.1:9"}]
    )
    with pytest.raises(RenderError) as caught:
        await chart_deps.prepare(down, "umbrella", tools_for(tmp_path))
    assert "dependency db 1.0.0 from http://127.0.0.1:9 cannot be fetched" in caught.value.message


async def test_a_huge_index_is_refused(repo: Repo, tmp_path: Path) -> None:
    repo.files["/index.yaml"] = b"#" * (chart_repo.MAX_INDEX_BYTES + 1)
    chart = umbrella(tmp_path, [{"name": "db", "version": "^1", "repository": repo.url}])
    with pytest.raises(RenderError) as caught:
        await chart_deps.prepare(chart, "umbrella", tools_for(tmp_path))
    assert "larger than" in caught.value.message


async def test_a_dependency_cycle_is_refused(repo: Repo, tmp_path: Path) -> None:
    publish(
        repo,
        {
            ("a", "1.0.0"): chart_archive(
                "a", "1.0.0", [{"name": "b", "version": "1.0.0", "repository": repo.url}]
            ),
            ("b", "1.0.0"): chart_archive(
                "b", "1.0.0", [{"name": "a", "version": "1.0.0", "repository": repo.url}]
            ),
        },
    )
    chart = umbrella(tmp_path, [{"name": "a", "version": "1.0.0", "repository": repo.url}])
    with pytest.raises(RenderError) as caught:
        await chart_deps.prepare(chart, "umbrella", tools_for(tmp_path))
    assert "dependency cycle" in caught.value.message


async def test_nested_dependencies_are_placed_in_their_parent(repo: Repo, tmp_path: Path) -> None:
    publish(
        repo,
        {
            ("app", "1.0.0"): chart_archive(
                "app", "1.0.0", [{"name": "lib", "version": "~2", "repository": repo.url}]
            ),
            ("lib", "2.3.0"): chart_archive("lib", "2.3.0"),
        },
    )
    chart = umbrella(tmp_path, [{"name": "app", "version": "1.0.0", "repository": repo.url}])
    prepared = await chart_deps.prepare(chart, "umbrella", tools_for(tmp_path))
    assert prepared is not None
    assert (prepared.charts / "app-1.0.0" / "charts" / "lib-2.3.0" / "Chart.yaml").is_file()


async def test_credentials_go_to_the_repository_only(repo: Repo, tmp_path: Path) -> None:
    publish(repo, {("db", "1.0.0"): chart_archive("db", "1.0.0")})
    asked: list[str] = []

    async def credentials(url: str) -> tuple[str, str] | None:
        asked.append(url)
        return ("robot", "pa55")

    chart = umbrella(tmp_path, [{"name": "db", "version": "1.0.0", "repository": repo.url}])
    await chart_deps.prepare(chart, "u", tools_for(tmp_path, chart_credentials=credentials))
    assert asked == [repo.url]
    assert repo.requests and all(auth and auth.startswith("Basic ") for _, auth in repo.requests)


def test_chart_files_leading_out_of_the_repository_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "host-file"
    secret.write_text("dependencies: [{name: x, repository: 'https://h/c'}]\n")
    chart = tmp_path / "repo" / "umbrella"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").symlink_to(secret)
    with pytest.raises(RenderError) as caught:
        chart_deps.read_declared(chart, "umbrella", tmp_path / "repo")
    assert caught.value.file == "umbrella/Chart.yaml"
    assert "outside the repository" in caught.value.message
    assert str(tmp_path) not in str(caught.value)


def test_the_render_server_is_told_where_the_dependencies_are(tmp_path: Path) -> None:
    request = wire.RenderRequest(
        Renderer.HELM,
        ApplicationSource(repoURL="https://git.example.com/r.git"),
        tmp_path,
        tmp_path / "chart",
        "app",
        "ns",
        KubeTarget("v1.36.3"),
        30.0,
        dependencies=tmp_path / "deps",
    )
    assert wire.RenderRequest.from_json(request.to_json()) == request
    plain = dataclasses.replace(request, dependencies=None)
    assert wire.RenderRequest.from_json(plain.to_json()).dependencies is None


async def test_credentials_never_follow_an_archive_to_another_host(
    repo: Repo, tmp_path: Path
) -> None:
    async def credentials(url: str) -> tuple[str, str] | None:
        return ("robot", "pa55")

    with serving() as elsewhere:
        publish(elsewhere, {("db", "1.0.0"): chart_archive("db", "1.0.0")})
        index = yaml.safe_load(elsewhere.files["/index.yaml"])
        index["entries"]["db"][0]["urls"] = [f"{elsewhere.url}/db-1.0.0.tgz"]
        repo.files["/index.yaml"] = yaml.safe_dump(index).encode()
        chart = umbrella(tmp_path, [{"name": "db", "version": "1.0.0", "repository": repo.url}])
        tools = tools_for(tmp_path, chart_credentials=credentials)
        prepared = await chart_deps.prepare(chart, "u", tools)
        assert fetched(prepared) == ["db-1.0.0"]
        assert [auth is not None for _, auth in repo.requests] == [True]
        assert elsewhere.requests == [("/db-1.0.0.tgz", None)]


async def test_a_range_is_resolved_again_range_ttl_after_resolving_however_often_rendered(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(chart_deps, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    publish(repo, {("db", "1.1.0"): chart_archive("db", "1.1.0")})
    chart = umbrella(tmp_path, [{"name": "db", "version": "^1", "repository": repo.url}])
    tools = tools_for(tmp_path)
    with chart_deps.noting_resolutions() as first:
        assert fetched(await chart_deps.prepare(chart, "u", tools)) == ["db-1.1.0"]
    assert first.changes_at == 1000.0 + chart_deps.RANGE_TTL
    publish(repo, {("db", v): chart_archive("db", v) for v in ("1.1.0", "1.2.0")})
    clock[0] = 1200.0  # rendered again within the TTL: the remembered resolution
    with chart_deps.noting_resolutions() as again:
        assert fetched(await chart_deps.prepare(chart, "u", tools)) == ["db-1.1.0"]
    assert again.changes_at == 1000.0 + chart_deps.RANGE_TTL  # not pushed back
    clock[0] = 1000.0 + chart_deps.RANGE_TTL + 1  # the new release is picked up
    with chart_deps.noting_resolutions() as later:
        assert fetched(await chart_deps.prepare(chart, "u", tools)) == ["db-1.2.0"]
    assert later.changes_at == clock[0] + chart_deps.RANGE_TTL


async def test_a_matching_lock_never_expires(repo: Repo, tmp_path: Path) -> None:
    publish(repo, {("db", "1.0.0"): chart_archive("db", "1.0.0")})
    deps = [{"name": "db", "version": "^1", "repository": repo.url}]
    lock = [{"name": "db", "version": "1.0.0", "repository": repo.url}]
    with chart_deps.noting_resolutions() as notes:
        await chart_deps.prepare(umbrella(tmp_path, deps, lock), "u", tools_for(tmp_path))
    assert notes.changes_at is None
