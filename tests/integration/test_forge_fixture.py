"""The loopback forge the webhook and commit-status tests rely on (tests.fixtures.forge).

Real ``git push`` over smart HTTP to the forge; the webhooks land on a loopback
recorder; each is checked the way a receiver checks it (the forge's own
signature scheme, recomputed here from the secret) and against the payload
fields each forge documents. The status APIs are driven with real HTTP
requests and must refuse what the real APIs refuse.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.forge import FLAVOURS, Forge
from tests.fixtures.forge_payloads import ZERO
from tests.fixtures.git import GitRepo, MakeGitRepo, git
from tests.fixtures.http_recorder import HttpRecorder, Recorded

SECRETS = {flavour: f"secret-of-{flavour}" for flavour in FLAVOURS}


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    with HttpRecorder(status=202) as started:
        yield started


@pytest.fixture
def hooked(forge: Forge, recorder: HttpRecorder) -> Forge:
    """The forge with one hook per flavour, each on its own recorder path and secret."""
    for flavour in FLAVOURS:
        forge.add_hook(flavour, recorder.url(f"/hooks/{flavour}"), SECRETS[flavour])
    return forge


def _push(repo: GitRepo, url: str, *refspecs: str) -> None:
    git("push", "--quiet", url, *refspecs, cwd=repo.path)


def _hmac(secret: str, body: bytes, digest: str = "sha256") -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, digest)).hexdigest()


def _signature_valid(flavour: str, request: Recorded, secret: str) -> bool:
    """What each forge's documentation tells a receiver to check."""
    if flavour == "github":
        given = request.header("X-Hub-Signature-256") or ""
        return hmac.compare_digest(given, "sha256=" + _hmac(secret, request.body))
    if flavour == "gitlab":
        return hmac.compare_digest(request.header("X-Gitlab-Token") or "", secret)
    if flavour == "gitea":
        given = request.header("X-Gitea-Signature") or ""
        return hmac.compare_digest(given, _hmac(secret, request.body))
    given = request.header("X-Hub-Signature") or ""  # both Bitbucket flavours
    return hmac.compare_digest(given, "sha256=" + _hmac(secret, request.body))


def test_a_push_delivers_one_webhook_per_hook_with_a_valid_signature(
    hooked: Forge, recorder: HttpRecorder, make_git_repo: MakeGitRepo
) -> None:
    url = hooked.create_repo("team/app")
    work = make_git_repo({"app/cm.yaml": "a: 1\n"})
    work.commit({"app/cm.yaml": "a: 2\n"}, "second")
    after = work.head()

    _push(work, url, "main")

    # git push has returned: every delivery was already made and answered.
    assert [d.status for d in hooked.deliveries] == [202] * len(FLAVOURS)
    for flavour in FLAVOURS:
        (request,) = recorder.at(f"/hooks/{flavour}")
        assert _signature_valid(flavour, request, SECRETS[flavour]), flavour
        other = SECRETS["github" if flavour != "github" else "gitlab"]
        assert not _signature_valid(flavour, request, other), flavour
        assert "json" in (request.header("Content-Type") or "")

    github = recorder.at("/hooks/github")[0]
    assert github.header("X-GitHub-Event") == "push"
    assert github.header("X-GitHub-Delivery")
    body = github.json()
    assert (body["ref"], body["before"], body["after"]) == ("refs/heads/main", ZERO, after)
    assert body["repository"]["clone_url"] == url == hooked.repo_url("team/app")
    assert body["repository"]["ssh_url"] == hooked.ssh_style_url("team/app")
    assert body["repository"]["html_url"] == url.removesuffix(".git")
    assert body["repository"]["full_name"] == "team/app"
    assert body["repository"]["default_branch"] == "main"
    assert [c["message"].strip() for c in body["commits"]] == ["initial", "second"]
    assert body["head_commit"]["id"] == after
    assert body["head_commit"]["modified"] == ["app/cm.yaml"]
    assert body["pusher"]["name"] and body["created"] is True

    gitlab = recorder.at("/hooks/gitlab")[0]
    assert gitlab.header("X-Gitlab-Event") == "Push Hook"
    body = gitlab.json()
    assert (body["object_kind"], body["ref"], body["checkout_sha"]) == (
        "push",
        "refs/heads/main",
        after,
    )
    project = body["project"]
    assert project["git_http_url"] == url
    assert project["git_ssh_url"] == hooked.ssh_style_url("team/app", "gitlab")
    assert project["web_url"] == url.removesuffix(".git")
    assert (project["path_with_namespace"], project["default_branch"]) == ("team/app", "main")
    assert body["total_commits_count"] == 2

    gitea = recorder.at("/hooks/gitea")[0]
    assert gitea.header("X-Gitea-Event") == gitea.header("X-GitHub-Event") == "push"
    assert gitea.header("X-Gitea-Delivery") == gitea.header("X-GitHub-Delivery")
    assert gitea.json()["repository"]["clone_url"] == url
    assert gitea.json()["after"] == after

    cloud = recorder.at("/hooks/bitbucket")[0]
    assert cloud.header("X-Event-Key") == "repo:push"
    body = cloud.json()
    (change,) = body["push"]["changes"]
    assert change["new"]["type"] == "branch" and change["new"]["name"] == "main"
    assert change["new"]["target"]["hash"] == after and change["old"] is None
    assert body["repository"]["links"]["html"]["href"] == url.removesuffix(".git")
    assert body["repository"]["full_name"] == "team/app"

    server = recorder.at("/hooks/bitbucket-server")[0]
    assert server.header("X-Event-Key") == "repo:refs_changed"
    body = server.json()
    (change,) = body["changes"]
    assert change["ref"] == {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"}
    assert (change["fromHash"], change["toHash"], change["type"]) == (ZERO, after, "ADD")
    clones = {c["name"]: c["href"] for c in body["repository"]["links"]["clone"]}
    assert clones == {"http": url, "ssh": hooked.ssh_style_url("team/app", "bitbucket-server")}


def test_updates_tags_and_deletions_as_each_forge_reports_them(
    hooked: Forge, recorder: HttpRecorder, make_git_repo: MakeGitRepo
) -> None:
    url = hooked.create_repo("team/app")
    work = make_git_repo({"a.txt": "1"})
    _push(work, url, "main")
    first = work.head()
    second = work.commit({"a.txt": "2", "b.txt": "new"}, "two")
    _push(work, url, "main")
    work.tag("v1.0.0", annotated=True)
    _push(work, url, "v1.0.0")
    work.branch("feature")
    _push(work, url, "feature")
    _push(work, url, ":feature")

    github = [r.json() for r in recorder.at("/hooks/github")]
    assert [(b["ref"], b["created"], b["deleted"]) for b in github] == [
        ("refs/heads/main", True, False),
        ("refs/heads/main", False, False),
        ("refs/tags/v1.0.0", True, False),
        ("refs/heads/feature", True, False),
        ("refs/heads/feature", False, True),
    ]
    update, tag, _, deletion = github[1:]
    assert (update["before"], update["after"]) == (first, second)
    assert [c["id"] for c in update["commits"]] == [second]
    assert update["head_commit"]["added"] == ["b.txt"]
    assert tag["head_commit"]["id"] == second and tag["after"] != second  # annotated tag object
    assert tag["commits"] == []  # the tagged commit was already pushed
    assert deletion["after"] == ZERO and deletion["head_commit"] is None

    gitlab = recorder.at("/hooks/gitlab")
    assert [r.header("X-Gitlab-Event") for r in gitlab] == [
        "Push Hook",
        "Push Hook",
        "Tag Push Hook",
        "Push Hook",
        "Push Hook",
    ]
    assert gitlab[2].json()["object_kind"] == "tag_push"
    assert gitlab[2].json()["checkout_sha"] == second
    assert gitlab[4].json()["checkout_sha"] is None

    # Gitea reports a deletion with its own "delete" event, not a push.
    gitea = [r.json()["ref"] for r in recorder.at("/hooks/gitea")]
    assert gitea == ["refs/heads/main"] * 2 + ["refs/tags/v1.0.0", "refs/heads/feature"]

    cloud = [r.json()["push"]["changes"][0] for r in recorder.at("/hooks/bitbucket")]
    assert cloud[2]["new"]["type"] == "tag" and cloud[2]["new"]["name"] == "v1.0.0"
    assert cloud[4]["new"] is None and cloud[4]["closed"] is True

    server = [r.json()["changes"][0] for r in recorder.at("/hooks/bitbucket-server")]
    assert [c["type"] for c in server] == ["ADD", "UPDATE", "ADD", "ADD", "DELETE"]
    assert server[2]["ref"]["type"] == "TAG"


def test_one_push_of_several_refs(
    hooked: Forge, recorder: HttpRecorder, make_git_repo: MakeGitRepo
) -> None:
    url = hooked.create_repo("team/app")
    work = make_git_repo({"a.txt": "1"})
    work.tag("v1")
    _push(work, url, "main", "v1")

    # GitHub, GitLab and Gitea send one request per ref; Bitbucket one listing both.
    for flavour in ("github", "gitlab", "gitea"):
        assert len(recorder.at(f"/hooks/{flavour}")) == 2, flavour
    (cloud,) = recorder.at("/hooks/bitbucket")
    assert {c["new"]["name"] for c in cloud.json()["push"]["changes"]} == {"main", "v1"}
    (server,) = recorder.at("/hooks/bitbucket-server")
    assert {c["refId"] for c in server.json()["changes"]} == {"refs/heads/main", "refs/tags/v1"}


def test_a_hook_of_one_repository_is_not_called_for_another(
    forge: Forge, recorder: HttpRecorder, make_git_repo: MakeGitRepo
) -> None:
    mine, other = forge.create_repo("team/mine"), forge.create_repo("team/other")
    forge.add_hook("github", recorder.url("/mine"), "s", repo="team/mine")
    work = make_git_repo({"a.txt": "1"})
    _push(work, other, "main")
    assert recorder.requests == []
    _push(work, mine, "main")
    assert [r.json()["repository"]["full_name"] for r in recorder.requests] == ["team/mine"]


def test_a_receiver_that_is_down_or_refuses_never_fails_the_push(
    forge: Forge, recorder: HttpRecorder, make_git_repo: MakeGitRepo
) -> None:
    url = forge.create_repo("team/app")
    recorder.status = 401
    forge.add_hook("gitlab", recorder.url("/refuses"), "s")
    with HttpRecorder() as gone:
        down = gone.url("/gone")
    forge.add_hook("github", down, "s")
    work = make_git_repo({"a.txt": "1"})

    _push(work, url, "main")  # check=True: raises if the push failed

    refused, failed = forge.deliveries
    assert (refused.status, refused.error) == (401, None)
    assert failed.status is None and failed.error
    assert git("ls-remote", url, "refs/heads/main", cwd=work.path).startswith(work.head())


def test_deliveries_after_the_push_when_asked_not_to_wait(
    tmp_path_factory: pytest.TempPathFactory, recorder: HttpRecorder, make_git_repo: MakeGitRepo
) -> None:
    with Forge(tmp_path_factory.mktemp("forge"), wait=False) as forge:
        url = forge.create_repo("team/app")
        forge.add_hook("github", recorder.url("/gh"), "s")
        forge.add_hook("gitlab", recorder.url("/gl"), "s")
        _push(make_git_repo({"a.txt": "1"}), url, "main")
        delivered = forge.wait_for_deliveries(2)
    assert sorted(d.event for d in delivered) == ["Push Hook", "push"]
    assert len(recorder.requests) == 2


def test_no_secret_means_no_signature_headers(
    forge: Forge, recorder: HttpRecorder, make_git_repo: MakeGitRepo
) -> None:
    url = forge.create_repo("team/app")
    for flavour in FLAVOURS:
        forge.add_hook(flavour, recorder.url(f"/{flavour}"))
    _push(make_git_repo({"a.txt": "1"}), url, "main")
    for request in recorder.requests:
        assert request.header("X-Hub-Signature-256") in (None, "sha256=")
        assert request.header("X-Hub-Signature") in (None, "sha1=")
        assert request.header("X-Gitlab-Token") is None
        assert request.header("X-Gitea-Signature") in (None, "")


def test_pings(forge: Forge, recorder: HttpRecorder) -> None:
    forge.create_repo("team/app")
    github = forge.add_hook("github", recorder.url("/gh"), "s")
    server = forge.add_hook("bitbucket-server", recorder.url("/bbs"), "s")
    forge.ping(github, "team/app")
    forge.ping(server, "team/app")
    gh, bbs = recorder.requests
    assert gh.header("X-GitHub-Event") == "ping" and gh.json()["hook_id"] == github.id
    assert _signature_valid("github", gh, "s")
    assert bbs.header("X-Event-Key") == "diagnostics:ping" and bbs.json() == {"test": True}


# -- commit-status APIs ----------------------------------------------------------------


def _call(
    method: str, url: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def pushed(forge: Forge, make_git_repo: MakeGitRepo) -> tuple[Forge, str]:
    """The forge with "team/app" holding one pushed commit; (forge, its id)."""
    url = forge.create_repo("team/app")
    work = make_git_repo({"a.txt": "1"})
    _push(work, url, "main")
    return forge, work.head()


_JSON = {"Content-Type": "application/json"}


def test_github_statuses(pushed: tuple[Forge, str]) -> None:
    forge, sha = pushed
    api = forge.api_url("github") + "/repos/team/app"
    token, reader = forge.issue_token(), forge.issue_token(write=False)
    good = json.dumps(
        {"state": "pending", "context": "driftless/ns/app", "target_url": "http://ui/app"}
    ).encode()

    def post(headers: dict[str, str], body: bytes = good, sha: str = sha) -> tuple[int, Any]:
        return _call("POST", f"{api}/statuses/{sha}", {**_JSON, **headers}, body)

    assert post({})[0] == 401
    code, answer = post({"Authorization": "Bearer wrong"})
    assert (code, answer["message"]) == (401, "Bad credentials")
    assert post({"Authorization": f"Basic {token}"})[0] == 401
    assert post({"Authorization": f"token {reader}"})[0] == 403
    auth = {"Authorization": f"Bearer {token}"}
    code, answer = post(auth, json.dumps({"state": "running"}).encode())
    assert code == 422 and answer["errors"][0]["field"] == "state"
    assert post(auth, json.dumps({"context": "x"}).encode())[0] == 422
    assert post(auth, json.dumps({"state": "success", "description": "x" * 141}).encode())[0] == 422
    assert post(auth, b"{not json")[0] == 400
    assert post(auth, sha="0" * 40)[0] == 422
    assert post(auth, sha="--output=x")[0] == 422
    assert (
        _call("POST", forge.api_url("github") + f"/repos/team/nope/statuses/{sha}", auth, good)[0]
        == 404
    )
    assert forge.statuses.records == []

    code, created = post({"Authorization": f"token {token}"})
    assert (
        code == 201 and created["state"] == "pending" and created["context"] == "driftless/ns/app"
    )
    assert (
        post(auth, json.dumps({"state": "success", "context": "driftless/ns/app"}).encode())[0]
        == 201
    )

    code, listed = _call("GET", f"{api}/commits/main/statuses", {})
    assert code == 200 and [s["state"] for s in listed] == ["success", "pending"]
    code, combined = _call("GET", f"{api}/commits/{sha}/status", {})
    assert (combined["state"], combined["total_count"], combined["sha"]) == ("success", 1, sha)


def test_gitlab_statuses(pushed: tuple[Forge, str]) -> None:
    forge, sha = pushed
    token, reader = forge.issue_token(), forge.issue_token(write=False)
    by_path = forge.api_url("gitlab") + "/projects/team%2Fapp"
    by_id = forge.api_url("gitlab") + f"/projects/{forge.repo('team/app').id}"

    def post(
        headers: dict[str, str], fields: dict[str, Any], base: str = by_path
    ) -> tuple[int, Any]:
        return _call(
            "POST", f"{base}/statuses/{sha}", {**_JSON, **headers}, json.dumps(fields).encode()
        )

    pending = {"state": "pending", "name": "driftless/ns/app"}
    assert post({}, pending) == (401, {"message": "401 Unauthorized"})
    assert post({"PRIVATE-TOKEN": "wrong"}, pending)[0] == 401
    assert post({"Authorization": f"token {token}"}, pending)[0] == 401  # GitLab takes Bearer only
    assert post({"PRIVATE-TOKEN": reader}, pending)[0] == 403
    auth = {"PRIVATE-TOKEN": token}
    assert post(auth, {"state": "failure"}) == (400, {"error": "state does not have a valid value"})
    assert post(auth, {"name": "x"}) == (400, {"error": "state is missing"})
    assert _call("POST", f"{by_path}/statuses/{'0' * 40}", auth, b"state=pending")[0] == 404
    assert post(auth, pending, forge.api_url("gitlab") + "/projects/team%2Fnope")[0] == 404
    assert forge.statuses.records == []

    code, created = post(auth, pending)
    assert code == 201 and (created["status"], created["ref"]) == ("pending", "main")
    # GitLab updates a pending job in place: pending again is no transition.
    code, refused = post({"Authorization": f"Bearer {token}"}, pending, by_id)
    assert (
        code == 400 and "Cannot transition status via :enqueue from :pending" in refused["message"]
    )
    assert post(auth, {**pending, "state": "running"}, by_id)[0] == 201
    assert post(auth, {**pending, "state": "success"})[0] == 201
    assert post(auth, pending)[0] == 201  # a finished job: a new one starts

    code, latest = _call("GET", f"{by_id}/repository/commits/{sha}/statuses", {})
    assert code == 200 and [s["status"] for s in latest] == ["pending"]
    code, every = _call("GET", f"{by_id}/repository/commits/{sha}/statuses?all=true", {})
    assert [s["status"] for s in every] == ["pending", "running", "success", "pending"]


def test_gitea_statuses(pushed: tuple[Forge, str]) -> None:
    forge, sha = pushed
    api = forge.api_url("gitea") + "/repos/team/app"
    token, reader = forge.issue_token(), forge.issue_token(write=False)
    good = json.dumps(
        {"state": "success", "context": "driftless/ns/app", "description": "ok"}
    ).encode()

    def post(headers: dict[str, str], body: bytes = good, sha: str = sha) -> tuple[int, Any]:
        return _call("POST", f"{api}/statuses/{sha}", headers, body)

    auth = {**_JSON, "Authorization": f"token {token}"}
    assert post(_JSON)[0] == 401
    assert post({**_JSON, "Authorization": "token wrong"})[0] == 401
    assert post({**_JSON, "Authorization": f"token {reader}"})[0] == 403
    assert post(auth, json.dumps({"state": "failed"}).encode())[0] == 422
    # Gitea binds a body as JSON only when the Content-Type says so.
    assert post({"Authorization": f"token {token}"})[0] == 422
    assert post(auth, sha="f" * 40)[0] == 500  # what Gitea 1.26 answers for an unknown commit
    assert (
        _call("POST", forge.api_url("gitea") + f"/repos/x/y/statuses/{sha}", auth, good)[0] == 404
    )
    assert forge.statuses.records == []

    code, created = post(auth)
    assert code == 201 and (created["status"], created["context"]) == (
        "success",
        "driftless/ns/app",
    )
    code, listed = _call("GET", f"{api}/statuses/{sha}", {})
    assert code == 200 and [s["status"] for s in listed] == ["success"]
    code, combined = _call("GET", f"{api}/commits/main/status", {})
    assert (code, combined["state"], combined["total_count"]) == (200, "success", 1)
    assert [s.state for s in forge.statuses.of("gitea", "team/app", sha)] == ["success"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v3/repos/../../etc/statuses/x",
        "/api/v3/repos/team/app/../../x/statuses/y",
        "/api/v4/projects/..%2F..%2Fetc/statuses/x",
        "/api/v1/repos/team/app/statuses",
        "/api/v9/anything",
        "/_forge/post-receive",
    ],
)
def test_hostile_api_requests_are_refused(pushed: tuple[Forge, str], path: str) -> None:
    forge, _ = pushed
    token = forge.issue_token()
    headers = {**_JSON, "Authorization": f"token {token}", "PRIVATE-TOKEN": token}
    code, _ = _call("POST", forge.api_base_url + path, headers, b'{"state": "success"}')
    assert code in (403, 404)
    assert forge.statuses.records == [] and forge.deliveries == []
