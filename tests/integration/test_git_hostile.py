"""Hostile repositories and servers against the real git source (real git, real
``git http-backend``, loopback servers; no Kubernetes).

Credentials only reach their host, local repositories need an explicit permission
and never reach driftless's own cache, git work is bounded, and nothing a user
writes is ever read by git as an option.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from driftless.core.errors import SourceError, SourceUnavailableError
from driftless.sources import gitexec
from driftless.sources.credentials import RepoCredential
from driftless.sources.credstore import static_auth
from driftless.sources.git import NETWORK_PROTOCOLS, GitCache, GitLimits, resolve_app_path
from driftless.sources.gitauth import git_auth
from tests.fixtures.git import GitRepo, MakeGitRepo
from tests.fixtures.git_http import GitHttpServer

pytestmark = pytest.mark.integration

TOKEN = "dlt-redirect-token-5e1f0c9b7a3d"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


# -- a loopback server that redirects every request to another port -----------------


class Redirector:
    """Answers every request with ``302`` to ``target`` + the same path (name swapped)."""

    def __init__(self, target_base: str, rename: tuple[str, str]) -> None:
        self.authorizations: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.authorizations += [self.headers.get("Authorization") or ""]
                location = target_base + self.path.replace(*rename, 1)
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                self.do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Redirector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def recorded_authorizations(
    git_http_server: GitHttpServer, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Every Authorization header the real git server receives."""
    seen: list[str] = []
    real = git_http_server.authorized

    def recording(path: str, authorization: str | None) -> bool:
        seen.append(authorization or "")
        return real(path, authorization)

    monkeypatch.setattr(git_http_server, "authorized", recording)
    return seen


@pytest.fixture
def private_repo(
    make_git_repo: MakeGitRepo, git_http_server: GitHttpServer
) -> Iterator[tuple[GitRepo, str]]:
    """A repository on the real git server that the token *would* open."""
    repo = make_git_repo({"cm.yaml": CM.format(name="private")})
    name = f"victim-{uuid.uuid4().hex[:8]}"
    url = git_http_server.publish(repo.path, name, credentials=("any", TOKEN))
    yield repo, url


def credential_for(url: str) -> RepoCredential:
    return RepoCredential(name="redirector-cred", url=url, username="any", password=TOKEN)


async def test_the_token_opens_the_repository_on_its_own_host(
    tmp_path: Path, private_repo: tuple[GitRepo, str], recorded_authorizations: list[str]
) -> None:
    """Control: the credential helper does answer git for the host it was registered for."""
    repo, url = private_repo
    cache = GitCache(tmp_path / "cache", credentials=static_auth([credential_for(url)]))
    assert await cache.resolve(url, "main") == repo.head()
    assert any(a.startswith("Basic ") for a in recorded_authorizations)


async def test_a_redirect_to_another_port_never_receives_the_token(
    tmp_path: Path,
    git_http_server: GitHttpServer,
    private_repo: tuple[GitRepo, str],
    recorded_authorizations: list[str],
) -> None:
    _, victim_url = private_repo
    victim = victim_url.rsplit("/", 1)[1]
    with Redirector(git_http_server.base_url, ("/public.git", f"/{victim}")) as redirector:
        url = f"{redirector.base_url}/public.git"
        cache = GitCache(tmp_path / "cache", credentials=static_auth([credential_for(url)]))
        with pytest.raises(SourceUnavailableError) as caught:
            await cache.resolve(url, "main")
    assert TOKEN not in str(caught.value)
    assert redirector.authorizations, "git should have asked the redirector"
    # git did not follow the redirect at all while holding a credential...
    assert recorded_authorizations == []


async def test_even_a_followed_redirect_gets_no_answer_from_the_credential_helper(
    git_http_server: GitHttpServer,
    private_repo: tuple[GitRepo, str],
    recorded_authorizations: list[str],
) -> None:
    """Defence in depth: force git to follow redirects; the helper still stays silent."""
    _, victim_url = private_repo
    victim = victim_url.rsplit("/", 1)[1]
    with Redirector(git_http_server.base_url, ("/public.git", f"/{victim}")) as redirector:
        url = f"{redirector.base_url}/public.git"
        async with git_auth(credential_for(url), url) as auth:
            with pytest.raises(gitexec.GitCommandError) as caught:
                await gitexec.run_git(
                    ["ls-remote", "--end-of-options", url],
                    time_limit=60,
                    extra_env=auth.env,
                    config=(*auth.config, ("http.followRedirects", "true")),
                    secrets=auth.secrets,
                )
    assert "could not read Username" in caught.value.stderr
    # The redirect was followed (the git server was asked) but never with the token.
    assert recorded_authorizations, "git should have followed the redirect"
    assert all(TOKEN not in a and not a.startswith("Basic ") for a in recorded_authorizations)


async def test_a_credential_never_answers_for_another_host_of_the_same_server(
    tmp_path: Path, git_http_server: GitHttpServer, private_repo: tuple[GitRepo, str]
) -> None:
    """The helper matches the host exactly: localhost:P's token is not for 127.0.0.1:P."""
    _, victim_url = private_repo
    port = git_http_server.base_url.rsplit(":", 1)[1]
    other = f"http://localhost:{port}/x.git"
    async with git_auth(credential_for(other), other) as auth:
        with pytest.raises(gitexec.GitCommandError):
            await gitexec.run_git(
                ["ls-remote", "--end-of-options", victim_url],
                time_limit=60,
                extra_env=auth.env,
                config=auth.config,
                secrets=auth.secrets,
            )


# -- local repositories --------------------------------------------------------------


async def test_local_repositories_are_refused_by_default(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(name="local")})
    cache = GitCache(tmp_path / "cache")
    for url in (repo.url, str(repo.path), f"file://localhost{repo.path}"):
        with pytest.raises(SourceError) as caught:
            await cache.resolve(url, "main")
        assert "--allow-local-repositories" in str(caught.value)
    assert cache.stats.ls_remotes == 0


async def test_a_cache_that_is_not_the_controllers_refuses_in_its_own_name(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    """The server's cache (no way to allow local repositories) names neither the
    controller nor its flag: a user would look for the refusal in the wrong place."""
    repo = make_git_repo({"cm.yaml": CM.format(name="local")})
    cache = GitCache(tmp_path / "cache", owner="driftless server", local_flag=None)
    with pytest.raises(SourceError) as caught:
        await cache.resolve(repo.url, "main")
    message = str(caught.value)
    assert message.startswith(f"local repository {repo.url} refused: driftless server does not")
    assert "controller" not in message and "--allow" not in message


async def test_git_itself_refuses_file_transport_without_the_permission(
    make_git_repo: MakeGitRepo,
) -> None:
    repo = make_git_repo({"cm.yaml": CM.format(name="local")})
    with pytest.raises(gitexec.GitCommandError) as caught:
        await gitexec.run_git(
            ["ls-remote", "--end-of-options", repo.url],
            time_limit=60,
            allow_protocols=NETWORK_PROTOCOLS,
        )
    assert "transport 'file' not allowed" in caught.value.stderr


async def test_allowed_local_repositories_never_include_the_cache_itself(
    tmp_path: Path,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = make_git_repo({"cm.yaml": CM.format(name="someone-elses")})
    url = git_http_server.publish(secret.path, f"secret-{uuid.uuid4().hex[:8]}")
    cache = GitCache(tmp_path / "cache", allow_local=True)
    assert await cache.resolve(url, "main") == secret.head()
    (clone,) = [p for p in (tmp_path / "cache").iterdir() if p.name.startswith("secret")]
    link = tmp_path / "innocent-looking"
    link.symlink_to(clone)
    for hostile in (
        clone.as_uri(),
        str(clone),
        f"{tmp_path}/elsewhere/../cache/{clone.name}",
        link.as_uri(),
    ):
        with pytest.raises(SourceError, match="inside driftless's own cache"):
            await cache.resolve(hostile, "main")
    # Another cache's clones (a second controller, a dev cluster's) are refused too.
    other = GitCache(tmp_path / "other-cache", allow_local=True)
    with pytest.raises(SourceError, match="inside driftless's own cache"):
        await other.resolve(clone.as_uri(), "main")

    # Any repository under $DRIFTLESS_CACHE_DIR (chart caches, the CLI's clones) too.
    monkeypatch.setenv("DRIFTLESS_CACHE_DIR", str(secret.path.parent))
    with pytest.raises(SourceError, match="inside driftless's own cache"):
        await cache.resolve(secret.url, "main")
    monkeypatch.delenv("DRIFTLESS_CACHE_DIR")
    # ...while an ordinary local repository works when allowed.
    assert await cache.resolve(secret.url, "main") == secret.head()


# -- bounded work ------------------------------------------------------------------------


async def test_a_fetch_past_the_repository_size_limit_is_stopped_and_dropped(
    tmp_path: Path, make_git_repo: MakeGitRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_git_repo({"blob.bin": os.urandom(3 << 20)})  # incompressible
    url = git_http_server.publish(repo.path, f"big-{uuid.uuid4().hex[:8]}")
    small = GitLimits(max_repo_bytes=1 << 20)
    cache = GitCache(tmp_path / "cache", limits=small)
    with pytest.raises(SourceError, match=r"too large.*DRIFTLESS_GIT_MAX_REPO_SIZE"):
        await cache.resolve(url, "main")
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in leftovers) < 1 << 20
    # A bigger limit (an administrator's decision) lets it through.
    assert await GitCache(tmp_path / "cache").resolve(url, "main") == repo.head()


async def test_a_checkout_with_too_many_files_is_refused(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo({f"many/f{i}.yaml": f"n: {i}\n" for i in range(40)})
    cache = GitCache(tmp_path / "cache", allow_local=True, limits=GitLimits(max_checkout_files=30))
    with pytest.raises(SourceError, match=r"more than 30 files.*CHECKOUT_FILES"):
        await cache.checkout(repo.url, "main")
    assert not (tmp_path / "cache" / "trees" / repo.head()).exists()


async def test_a_checkout_bomb_is_never_written(tmp_path: Path, make_git_repo: MakeGitRepo) -> None:
    # 16 MiB of zeros: a few KiB over the wire, 16 MiB once checked out.
    repo = make_git_repo({"bomb.yaml": b"\0" * (16 << 20)})
    cache = GitCache(
        tmp_path / "cache", allow_local=True, limits=GitLimits(max_checkout_bytes=4 << 20)
    )
    with pytest.raises(SourceError, match=r"more than the limit.*CHECKOUT_SIZE"):
        await cache.checkout(repo.url, "main")
    assert not (tmp_path / "cache" / "trees" / repo.head()).exists()


async def test_git_output_is_bounded(make_git_repo: MakeGitRepo) -> None:
    repo = make_git_repo({"a.yaml": "a: 1\n"})
    for i in range(50):
        repo.tag(f"v0.0.{i}")
    with pytest.raises(gitexec.GitCommandError) as caught:
        await gitexec.run_git(
            ["ls-remote", "--end-of-options", repo.url], time_limit=60, max_stdout=1000
        )
    assert caught.value.limit is not None and "output exceeded" in caught.value.limit


# -- argv: nothing a user writes is an option ------------------------------------------------


@pytest.mark.parametrize(
    "revision",
    [
        "--upload-pack=touch {marker}",
        "--upload-pack=touch",
        "-x",
        "--end-of-options",
        "--output={marker}",
    ],
)
async def test_revisions_that_look_like_options_never_reach_git(
    tmp_path: Path, make_git_repo: MakeGitRepo, revision: str
) -> None:
    marker = tmp_path / "pwned"
    repo = make_git_repo({"a.yaml": "a: 1\n"})
    cache = GitCache(tmp_path / "cache", allow_local=True)
    with pytest.raises(SourceError):
        await cache.checkout(repo.url, revision.format(marker=marker))
    assert not marker.exists()


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch {marker}",
        "ssh://-oProxyCommand=touch {marker}/r",
        "ssh://-oProxyCommand=touch%20{marker}/r",
        "-oProxyCommand=touch:{marker}",
        "ext::sh -c touch% {marker}",
    ],
)
async def test_urls_that_look_like_options_never_reach_git(tmp_path: Path, url: str) -> None:
    marker = tmp_path / "pwned"
    cache = GitCache(tmp_path / "cache", allow_local=True)
    with pytest.raises(SourceError):
        await cache.resolve(url.format(marker=marker), "main")
    assert not marker.exists()
    assert cache.stats.ls_remotes == 0


async def test_every_user_value_follows_end_of_options(
    tmp_path: Path, make_git_repo: MakeGitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_git_repo({"-x/cm.yaml": CM.format(name="dash")})
    sha = repo.head()
    calls: list[list[str]] = []
    real = gitexec.run_git

    async def spy(args: Any, **kwargs: Any) -> bytes:
        calls.append(list(args))
        return await real(args, **kwargs)

    monkeypatch.setattr("driftless.sources.git.run_git", spy)
    cache = GitCache(tmp_path / "cache", allow_local=True)
    artifact = await cache.checkout(repo.url, sha[:12])
    # A path like "-x" is resolved in Python, never handed to git; it is just a directory.
    assert (resolve_app_path(artifact, "-x") / "cm.yaml").is_file()
    user_values = {repo.url, sha, sha[:12], f"{sha[:12]}^{{commit}}", f"{sha}^{{commit}}"}
    checked = 0
    for args in calls:
        for value in user_values & set(args):
            assert "--end-of-options" in args, args
            assert args.index("--end-of-options") < args.index(value), args
            checked += 1
    assert checked >= 3
