"""Authenticated git: SSH (key + known_hosts) through a real sshd, https basic auth through
``git http-backend``; credentials never reach process arguments or messages (no Kubernetes)."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from driftless.core.errors import SourceUnavailableError
from driftless.sources import gitexec
from driftless.sources.credentials import RepoCredential
from driftless.sources.credstore import static_auth
from driftless.sources.git import GitCache
from tests.fixtures.git import GitRepo, MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.fixtures.ssh_server import SshServer, keygen

pytestmark = pytest.mark.integration

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
TOKEN = "dlt-token-7f3c9a1e5b2d4c6f8a0b"
# A refused credential must fail well before the caches' 60 s timeout would end a hang.
FAST = 45.0


@pytest.fixture
def repo(make_git_repo: MakeGitRepo) -> GitRepo:
    made = make_git_repo({"app/cm.yaml": CM.format(name="one")})
    made.tag("v1.0.0")
    return made


def ssh_credential(server: SshServer, **overrides: Any) -> RepoCredential:
    values: dict[str, Any] = {
        "name": "ssh-cred",
        "url": f"ssh://{server.host}:{server.port}/",
        "ssh_private_key": server.client_key,
        "known_hosts": server.known_hosts,
    }
    values.update(overrides)
    return RepoCredential(**values)


def https_url(server: GitHttpServer, repo: GitRepo, password: str = TOKEN) -> str:
    name = f"private-{repo.path.parent.name}-{repo.path.name}"
    return server.publish(repo.path, name, credentials=("any-user", password))


def cache_with(tmp_path: Path, *credentials: RepoCredential) -> GitCache:
    return GitCache(tmp_path / "cache", credentials=static_auth(credentials), timeout=60)


# -- SSH -----------------------------------------------------------------------------


async def test_ssh_with_key_and_known_hosts_resolves_and_checks_out(
    tmp_path: Path, repo: GitRepo, ssh_server: SshServer
) -> None:
    cache = cache_with(tmp_path, ssh_credential(ssh_server))
    url = ssh_server.url(repo.path)
    assert await cache.resolve(url, "main") == repo.head()
    assert await cache.resolve(url, "v1.0.0") == repo.head()
    artifact = await cache.checkout(url, "main")
    assert (artifact.path / "app/cm.yaml").read_text() == CM.format(name="one")

    new = repo.commit({"app/cm.yaml": CM.format(name="two")})
    assert await cache.resolve(url, "main") == new
    assert cache.stats.fetches == 2


async def test_credential_files_exist_only_while_git_runs(
    tmp_path: Path,
    repo: GitRepo,
    ssh_server: SshServer,
    git_http_server: GitHttpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Key, known_hosts and credential helper: private while git runs, gone afterwards."""
    seen: list[Path] = []
    real_run_git = gitexec.run_git

    async def spy(args: Any, **kwargs: Any) -> bytes:
        env = kwargs.get("extra_env") or {}
        command = env.get("GIT_SSH_COMMAND", "")
        helpers = [v for k, v in kwargs.get("config") or () if k == "credential.helper"]
        files = [Path(shlex.split(v.removeprefix("!"))[0]) for v in helpers]
        if " -i " in command:
            files.append(Path(command.split(" -i ", 1)[1].split()[0]))
        for path in files:
            assert path.parent.stat().st_mode & 0o777 == 0o700
            assert path.stat().st_mode & 0o077 == 0, path  # nobody else may read it
            seen.append(path)
        return await real_run_git(args, **kwargs)

    monkeypatch.setattr("driftless.sources.git.run_git", spy)
    cache = cache_with(tmp_path, ssh_credential(ssh_server), https_credential(git_http_server))
    await cache.resolve(ssh_server.url(repo.path), "main")
    await cache.resolve(https_url(git_http_server, repo), "main")
    assert {p.name for p in seen} == {"id", "credential-helper.sh"}
    for path in seen:
        assert not path.exists() and not path.parent.exists()


async def test_ssh_with_a_wrong_host_key_fails_clearly(
    tmp_path: Path, repo: GitRepo, ssh_server: SshServer
) -> None:
    _, other_pub = keygen(tmp_path / "impostor", "impostor")
    wrong = f"[{ssh_server.host}]:{ssh_server.port} {' '.join(other_pub.split()[:2])}"
    cache = cache_with(tmp_path, ssh_credential(ssh_server, known_hosts=wrong))
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError) as caught:
        await cache.resolve(ssh_server.url(repo.path), "main")
    assert time.monotonic() - started < FAST
    message = str(caught.value)
    assert message.startswith("host key verification failed for ssh://")
    assert "'ssh-cred'" in message


async def test_ssh_without_known_hosts_is_refused_unless_explicitly_insecure(
    tmp_path: Path, repo: GitRepo, ssh_server: SshServer
) -> None:
    url = ssh_server.url(repo.path)
    strict = cache_with(tmp_path / "strict", ssh_credential(ssh_server, known_hosts=""))
    with pytest.raises(SourceUnavailableError, match="has no knownHosts"):
        await strict.resolve(url, "main")
    assert strict.stats.ls_remotes == 0  # refused before any connection

    insecure = cache_with(
        tmp_path / "insecure",
        ssh_credential(ssh_server, known_hosts="", insecure_ignore_host_key=True),
    )
    assert await insecure.resolve(url, "main") == repo.head()


async def test_ssh_with_an_unknown_key_is_an_authentication_failure(
    tmp_path: Path, repo: GitRepo, ssh_server: SshServer
) -> None:
    stranger, _ = keygen(tmp_path / "stranger", "stranger")
    cache = cache_with(tmp_path, ssh_credential(ssh_server, ssh_private_key=stranger))
    with pytest.raises(SourceUnavailableError) as caught:
        await cache.resolve(ssh_server.url(repo.path), "main")
    message = str(caught.value)
    # userinfo is redacted from every URL in a message, even a plain user name
    assert message.startswith(f"authentication failed for ssh://{ssh_server.host}:")
    assert_no_secret(message, stranger)


async def test_ssh_without_any_credential_fails_without_prompting(
    tmp_path: Path, repo: GitRepo, ssh_server: SshServer
) -> None:
    cache = GitCache(tmp_path / "cache", timeout=60)
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError, match=r"verification failed|authentication"):
        await cache.resolve(ssh_server.url(repo.path), "main")
    assert time.monotonic() - started < FAST


# -- https basic auth ----------------------------------------------------------------------


def https_credential(server: GitHttpServer, password: str = TOKEN) -> RepoCredential:
    return RepoCredential(
        name="http-cred", url=server.base_url + "/", username="any-user", password=password
    )


async def test_https_with_a_token_works(
    tmp_path: Path, repo: GitRepo, git_http_server: GitHttpServer
) -> None:
    url = https_url(git_http_server, repo)
    cache = cache_with(tmp_path, https_credential(git_http_server))
    assert await cache.resolve(url, "main") == repo.head()
    artifact = await cache.checkout(url, "v1.0.0")
    assert (artifact.path / "app/cm.yaml").is_file()
    # The clone never records the credential anywhere on disk.
    clone_files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    for path in clone_files:
        assert TOKEN.encode() not in path.read_bytes(), path


async def test_https_without_a_credential_fails_fast(
    tmp_path: Path, repo: GitRepo, git_http_server: GitHttpServer
) -> None:
    url = https_url(git_http_server, repo)
    cache = GitCache(tmp_path / "cache", timeout=60)
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError) as caught:
        await cache.resolve(url, "main")
    assert time.monotonic() - started < FAST
    assert str(caught.value) == (
        f"authentication failed for {url}: no repository credential matches this URL"
        " (see `driftless repo add`)"
    )


async def test_https_with_a_wrong_token_names_the_credential_not_the_token(
    tmp_path: Path, repo: GitRepo, git_http_server: GitHttpServer
) -> None:
    url = https_url(git_http_server, repo)
    wrong = "dlt-wrong-token-0a1b2c3d4e5f"
    cache = cache_with(tmp_path, https_credential(git_http_server, password=wrong))
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError) as caught:
        await cache.resolve(url, "main")
    assert time.monotonic() - started < FAST
    message = str(caught.value)
    assert (
        message
        == f"authentication failed for {url}: the server refused repository credential 'http-cred'"
    )
    assert_no_secret(message, wrong)


async def test_credentials_never_appear_in_process_arguments(
    tmp_path: Path,
    repo: GitRepo,
    git_http_server: GitHttpServer,
    ssh_server: SshServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every argv driftless starts, and every command line seen in /proc meanwhile."""
    recorded: list[tuple[str, ...]] = []
    real_exec = asyncio.create_subprocess_exec

    async def recording_exec(*argv: Any, **kwargs: Any) -> Any:
        recorded.append(tuple(str(a) for a in argv))
        return await real_exec(*argv, **kwargs)

    monkeypatch.setattr(gitexec.asyncio, "create_subprocess_exec", recording_exec)
    ssh = ssh_credential(ssh_server)
    cache = cache_with(tmp_path, https_credential(git_http_server), ssh)
    https = https_url(git_http_server, repo)
    shims = PathShims(tmp_path / "shims", ("git", "ssh"))
    monkeypatch.setenv("PATH", f"{shims.directory}{os.pathsep}{os.environ['PATH']}")
    for _ in range(3):
        repo.commit({"app/cm.yaml": CM.format(name=f"n{time.monotonic_ns()}")})
        await cache.checkout(https, "main")
        await cache.checkout(ssh_server.url(repo.path), "main")
    seen = shims.calls()
    assert any("ls-remote" in argv for argv in recorded)
    assert any(argv[0] == "ssh" for argv in seen), "git never ran ssh"
    secrets = [TOKEN, *ssh.secret_values()]
    for argv in [*recorded, *seen]:
        for secret in secrets:
            assert secret not in " ".join(argv)


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        for line in secret.splitlines():
            if line.strip() and not line.startswith("-----"):
                assert line.strip() not in text


class PathShims:
    """Scripts first on PATH that log their argv, one file per call, then run the real tool.

    Every git the controller starts and every ssh git starts (through
    ``GIT_SSH_COMMAND``, run by the shell) is seen, however short-lived: no
    sampling of /proc that a busy machine could outrun.
    """

    def __init__(self, directory: Path, names: tuple[str, ...]) -> None:
        self.directory = directory
        self.log = directory / "calls"
        self.log.mkdir(parents=True)
        for name in names:
            real = shutil.which(name)
            assert real is not None, f"{name} is not installed"
            shim = directory / name
            shim.write_text(
                "#!/bin/sh\n"
                f'printf \'%s\\0\' {name} "$@" > "$(mktemp {self.log}/call.XXXXXX)"\n'
                f'exec {shlex.quote(real)} "$@"\n'
            )
            shim.chmod(0o755)

    def calls(self) -> list[tuple[str, ...]]:
        return [
            tuple(arg.decode(errors="replace") for arg in path.read_bytes().split(b"\0") if arg)
            for path in sorted(self.log.iterdir())
        ]
