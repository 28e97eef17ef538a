"""Commit statuses sent by delivery to forges: a real Gitea, and the loopback forge's APIs.

A real Gitea (``tests.fixtures.gitea``, built from Go modules on first use)
takes the statuses of a commit pushed to it, read back through its API. The
loopback forge (``tests.fixtures.forge``) holds real repositories pushed with
real git and answers the GitHub, GitLab and Gitea statuses APIs as each
documents them (auth forms, states, the commit must exist, GitLab's state
transitions), so a status lands only when the request is right.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from driftless.notifications.delivery import Delivery, RetryPolicy
from driftless.notifications.message import Notification, Target
from driftless.notifications.services.egress import Egress
from tests.fixtures.forge import Forge
from tests.fixtures.git import MakeGitRepo, git
from tests.fixtures.gitea import ADMIN, Gitea

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

REPO = "acme/guestbook"


class Failures(list[str]):
    def __call__(self, n: Notification, t: Target, reason: str) -> None:
        self.append(reason)


@pytest.fixture
def failures() -> Failures:
    return Failures()


@pytest_asyncio.fixture(loop_scope="session")
async def delivery(failures: Failures) -> AsyncIterator[Delivery]:
    # The forge listens on 127.0.0.1: as --notifications-allow-private-networks allows.
    sender = Delivery(
        failures,
        retry=RetryPolicy(attempts=2, first_delay=0.05),
        egress_policy=Egress(allow_private=True),
    )
    yield sender
    await sender.close()


def _pushed(forge: Forge, make_git_repo: MakeGitRepo) -> str:
    url = forge.create_repo(REPO)
    work = make_git_repo({"app/cm.yaml": "a: 1\n"})
    git("push", "--quiet", url, "main", cwd=work.path)
    return work.head()


def _notification(repo_url: str, sha: str, status: str) -> Notification:
    return Notification(
        trigger="on-sync-running" if status == "pending" else "on-sync-succeeded",
        app_namespace="team-a",
        app_name="guestbook",
        project="default",
        repo_url=repo_url,
        revision=sha,
        title=f"guestbook sync {status}",
        body="",
        status=status,
        app_url="https://driftless.example.com/apps/team-a/guestbook",
    )


@pytest.mark.parametrize(
    ("flavour", "url_form", "states"),
    [
        ("github", "http", ["pending", "success"]),
        ("github", "ssh", ["pending", "success"]),
        ("gitlab", "http", ["running", "success"]),
        ("gitea", "ssh", ["pending", "success"]),
    ],
)
async def test_statuses_land_on_the_synced_commit(
    forge: Forge,
    make_git_repo: MakeGitRepo,
    delivery: Delivery,
    failures: Failures,
    flavour: str,
    url_form: str,
    states: list[str],
) -> None:
    sha = _pushed(forge, make_git_repo)
    repo_url = forge.repo_url(REPO) if url_form == "http" else forge.ssh_style_url(REPO, flavour)
    target = Target(
        type=flavour,
        name="status",
        namespace="team-a",
        # GitHub Enterprise is configured with its API root, the others with the host.
        address=forge.api_url(flavour) if flavour == "github" else forge.api_base_url,
        secrets={"token": forge.issue_token()},
    )
    delivery.submit(_notification(repo_url, sha, "pending"), target)
    delivery.submit(_notification(repo_url, sha, "success"), target)
    await delivery.idle()
    assert failures == []
    landed = forge.statuses.of(flavour, REPO, sha)
    assert [(s.state, s.context) for s in landed] == [
        (state, "driftless/team-a/guestbook") for state in states
    ]
    assert landed[-1].description == "guestbook sync success"
    assert landed[-1].target_url == "https://driftless.example.com/apps/team-a/guestbook"


async def test_forge_refusals_are_permanent_and_name_the_status_only(
    forge: Forge, make_git_repo: MakeGitRepo, delivery: Delivery, failures: Failures
) -> None:
    sha = _pushed(forge, make_git_repo)
    read_only = forge.issue_token(write=False)
    target = Target(
        type="github",
        name="gh",
        namespace="team-a",
        address=forge.api_url("github"),
        secrets={"token": read_only},
    )
    delivery.submit(_notification(forge.repo_url(REPO), sha, "success"), target)
    unknown_commit = _notification(forge.repo_url(REPO), "f" * 40, "success")
    writer = Target(**{**target.__dict__, "secrets": {"token": forge.issue_token()}})
    delivery.submit(unknown_commit, writer)
    delivery.submit(
        _notification(forge.repo_url(REPO), sha, "success"),
        Target(**{**target.__dict__, "secrets": {"token": "wrong-token"}}),
    )
    await delivery.idle()
    assert forge.statuses.of("github", REPO, sha) == []
    assert failures == [
        "github service team-a/gh: HTTP 403",
        "github service team-a/gh: HTTP 422",
        "github service team-a/gh: HTTP 401",
    ]
    assert not any(read_only in r or "wrong-token" in r for r in failures)


async def test_statuses_on_a_real_gitea(
    gitea: Gitea, make_git_repo: MakeGitRepo, delivery: Delivery, failures: Failures
) -> None:
    name = f"notified-{time.monotonic_ns() % 10**9}"
    clone_url = gitea.create_repo(name)
    work = make_git_repo({"app/cm.yaml": "a: 1\n"})
    gitea.push(work.path, name, "main")
    sha = work.head()
    target = Target(
        type="gitea",
        name="gitea",
        namespace="team-a",
        address=gitea.base_url,
        secrets={"token": gitea.issue_token("write:repository")},
    )
    # The app wrote the scp-like ssh form; the status still lands on this repository.
    ssh_form = f"git@127.0.0.1:{ADMIN}/{name}.git"
    delivery.submit(_notification(ssh_form, sha, "pending"), target)
    delivery.submit(_notification(clone_url, sha, "success"), target)
    await delivery.idle()
    assert failures == []
    status, listed = gitea.api("GET", f"/repos/{ADMIN}/{name}/commits/{sha}/statuses")
    assert status == 200
    assert sorted((s["status"], s["context"], s["description"]) for s in listed) == [
        ("pending", "driftless/team-a/guestbook", "guestbook sync pending"),
        ("success", "driftless/team-a/guestbook", "guestbook sync success"),
    ]
    status, combined = gitea.api("GET", f"/repos/{ADMIN}/{name}/commits/{sha}/status")
    assert status == 200 and combined["state"] == "success"

    # A token that may only read: Gitea's 403, reported once, never the token.
    reader = gitea.issue_token("read:repository")
    delivery.submit(
        _notification(clone_url, sha, "failure"),
        Target(**{**target.__dict__, "secrets": {"token": reader}}),
    )
    await delivery.idle()
    assert failures == ["gitea service team-a/gitea: HTTP 403"]
