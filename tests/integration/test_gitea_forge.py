"""A real Gitea (tests.fixtures.gitea): its push webhook and its commit-status API.

Besides showing that a real push to a real forge reaches a loopback receiver
signed as Gitea documents it, these tests hold the loopback forge
(tests.fixtures.forge) to the real thing: the same push produces the same
headers and the payload fields receivers read, and the same status requests
get the same HTTP codes from both.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.forge import Forge
from tests.fixtures.forge_payloads import ZERO
from tests.fixtures.git import MakeGitRepo, git
from tests.fixtures.gitea import ADMIN, Gitea
from tests.fixtures.http_recorder import HttpRecorder, Recorded

_names = itertools.count()


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    with HttpRecorder() as started:
        yield started


def _wait_for(recorder: HttpRecorder, count: int, timeout: float = 30.0) -> list[Recorded]:
    """Gitea delivers from a queue after the push: wait for ``count`` requests."""
    deadline = time.monotonic() + timeout
    while len(recorder.requests) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return list(recorder.requests)


def _repo_name() -> str:
    return f"app{next(_names)}-{time.monotonic_ns() % 100000}"


def test_a_push_to_gitea_delivers_a_signed_push_webhook(
    gitea: Gitea, recorder: HttpRecorder, make_git_repo: MakeGitRepo
) -> None:
    name = _repo_name()
    clone_url = gitea.create_repo(name)
    gitea.add_hook(name, recorder.url("/gitea"), "hook-secret")
    work = make_git_repo({"app/cm.yaml": "a: 1\n"})
    gitea.push(work.path, name, "main")

    (request,) = _wait_for(recorder, 1)
    assert request.header("X-Gitea-Event") == request.header("X-GitHub-Event") == "push"
    expected = hmac.new(b"hook-secret", request.body, hashlib.sha256).hexdigest()
    assert request.header("X-Gitea-Signature") == expected
    assert request.header("X-Hub-Signature-256") == "sha256=" + expected
    body = request.json()
    assert (body["ref"], body["before"], body["after"]) == ("refs/heads/main", ZERO, work.head())
    assert body["repository"]["clone_url"] == clone_url == gitea.repo_url(name)
    assert body["repository"]["full_name"] == f"{ADMIN}/{name}"
    assert body["repository"]["default_branch"] == "main"
    assert body["head_commit"]["id"] == work.head()

    work.commit({"app/cm.yaml": "a: 2\n"}, "two")
    work.tag("v1.0.0")
    gitea.push(work.path, name, "main", "v1.0.0")
    refs = sorted(r.json()["ref"] for r in _wait_for(recorder, 3)[1:])
    assert refs == ["refs/heads/main", "refs/tags/v1.0.0"]


def test_the_loopback_forge_sends_what_gitea_sends(
    gitea: Gitea, forge: Forge, recorder: HttpRecorder, make_git_repo: MakeGitRepo
) -> None:
    name = _repo_name()
    gitea.create_repo(name)
    gitea.add_hook(name, recorder.url("/real"), "s")
    forge.create_repo(f"{ADMIN}/{name}")
    forge.add_hook("gitea", recorder.url("/emulated"), "s")
    work = make_git_repo({"a.txt": "1"})
    gitea.push(work.path, name, "main")
    git("push", "--quiet", forge.repo_url(f"{ADMIN}/{name}"), "main", cwd=work.path)

    _wait_for(recorder, 2)
    (real,) = recorder.at("/real")
    (emulated,) = recorder.at("/emulated")
    assert {k.lower() for k in emulated.headers if k.lower().startswith("x-")} == {
        k.lower() for k in real.headers if k.lower().startswith("x-")
    }
    mine, theirs = emulated.json(), real.json()
    assert set(mine) == set(theirs)
    assert set(mine["repository"]) <= set(theirs["repository"])
    assert set(mine["head_commit"]) == set(theirs["head_commit"])
    for key in ("ref", "before", "after", "total_commits"):
        assert mine[key] == theirs[key], key
    assert mine["head_commit"]["added"] == theirs["head_commit"]["added"] == ["a.txt"]


def _post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_commit_statuses_on_gitea_and_on_the_loopback_forge_answer_alike(
    gitea: Gitea, forge: Forge, make_git_repo: MakeGitRepo
) -> None:
    name = _repo_name()
    gitea.create_repo(name)
    forge.create_repo(f"{ADMIN}/{name}")
    work = make_git_repo({"a.txt": "1"})
    gitea.push(work.path, name, "main")
    git("push", "--quiet", forge.repo_url(f"{ADMIN}/{name}"), "main", cwd=work.path)
    sha = work.head()
    tokens = {
        "real": (gitea.token, gitea.issue_token("read:repository")),
        "emulated": (forge.issue_token(), forge.issue_token(write=False)),
    }
    bases = {"real": gitea.api_url, "emulated": forge.api_url("gitea")}
    good = json.dumps(
        {"state": "success", "context": "driftless/ns/app", "target_url": "http://ui/a"}
    ).encode()

    def cases(which: str) -> list[tuple[str, int]]:
        writer, reader = tokens[which]
        url = f"{bases[which]}/repos/{ADMIN}/{name}/statuses"
        json_type = {"Content-Type": "application/json"}
        answers = {
            "no token": _post(f"{url}/{sha}", json_type, good),
            "bad token": _post(f"{url}/{sha}", {**json_type, "Authorization": "token x"}, good),
            "read-only": _post(
                f"{url}/{sha}", {**json_type, "Authorization": f"token {reader}"}, good
            ),
            "unknown repo": _post(
                f"{bases[which]}/repos/{ADMIN}/nope/statuses/{sha}",
                {**json_type, "Authorization": f"token {writer}"},
                good,
            ),
            "unknown commit": _post(
                f"{url}/{'f' * 40}", {**json_type, "Authorization": f"token {writer}"}, good
            ),
            "not json": _post(
                f"{url}/{sha}", {**json_type, "Authorization": f"token {writer}"}, b"{x"
            ),
            "good": _post(f"{url}/{sha}", {**json_type, "Authorization": f"Bearer {writer}"}, good),
        }
        return [(case, status) for case, (status, _) in answers.items()]

    real, emulated = cases("real"), cases("emulated")
    assert emulated == real
    assert dict(real)["good"] == 201

    for which, base in bases.items():
        request = urllib.request.Request(f"{base}/repos/{ADMIN}/{name}/commits/main/statuses")
        with urllib.request.urlopen(request, timeout=30) as response:
            listed = json.loads(response.read())
        assert [(s["status"], s["context"], s["target_url"]) for s in listed] == [
            ("success", "driftless/ns/app", "http://ui/a")
        ], which
