"""The CLI's server client: credentials file, which path a command takes, errors, hostility."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import click
import httpx
import pytest

from driftless.cli.exits import SourceFailedError, UsageFailedError
from driftless.cli.remote import credentials
from driftless.cli.remote.apps import ServerApps
from driftless.cli.remote.client import (
    MAX_BODY,
    NotLoggedInError,
    Remote,
    ServerError,
    auth_headers,
)
from driftless.cli.remote.target import choose
from driftless.pipeline import requests

URL = "https://driftless.example.com"
SESSION = "s3cr3t-session-id-0123456789abcdef"
Handler = Any


def entry(url: str = URL, secret: str = SESSION) -> credentials.Entry:
    return credentials.Entry(url, "admin", credentials.PASSWORD, secret, cookie="driftless_session")


# -- the credentials file ------------------------------------------------------------


def test_saved_file_is_0600_in_a_0700_dir_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "driftless" / "servers.json"
    token = credentials.Entry("https://other.example", "", credentials.TOKEN, "tok-value")
    stored = credentials.Credentials().with_entry(entry()).with_entry(token)
    credentials.save(stored, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = credentials.load(path)
    assert loaded == stored and loaded.current == "https://other.example"
    data = json.loads(path.read_text())
    assert data["version"] == 1 and set(data["servers"]) == {URL, "https://other.example"}
    assert [p.name for p in path.parent.iterdir()] == ["servers.json"]  # no temporary left


def test_forgetting_the_current_server_leaves_no_current(tmp_path: Path) -> None:
    stored = credentials.Credentials().with_entry(entry()).without(URL)
    assert stored.current is None and stored.servers == {}


def test_a_secret_is_not_in_the_repr() -> None:
    assert SESSION not in repr(entry()) and SESSION not in repr(
        credentials.Credentials().with_entry(entry())
    )


def test_a_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "servers.json"
    credentials.save(credentials.Credentials().with_entry(entry()), path)
    path.chmod(0o644)
    with pytest.raises(credentials.CredentialsFileError, match="0644") as caught:
        credentials.load(path)
    assert SESSION not in caught.value.message


def test_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    credentials.save(credentials.Credentials().with_entry(entry()), target)
    (tmp_path / "servers.json").symlink_to(target)
    with pytest.raises(credentials.CredentialsFileError, match="not a regular file"):
        credentials.load(tmp_path / "servers.json")


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"version": 2, "servers": {}}',
        '{"version": 1, "servers": {"u": {"method": "magic", "secret": "x"}}}',
        '{"version": 1, "servers": {"u": {"method": "password", "secret": "x"}}}',
        '{"version": 1, "servers": {"u": {"method": "token", "secret": ""}}}',
    ],
)
def test_a_malformed_file_is_refused_without_showing_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "servers.json"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(credentials.CredentialsFileError, match="driftless login"):
        credentials.load(path)


def test_no_file_is_no_credentials(tmp_path: Path) -> None:
    assert credentials.load(tmp_path / "none.json") == credentials.Credentials()


def test_the_file_is_under_xdg_config_home_or_dot_config(tmp_path: Path) -> None:
    xdg = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert credentials.credentials_path(xdg) == tmp_path / "driftless" / "servers.json"
    home = credentials.credentials_path({"XDG_CONFIG_HOME": "relative"})
    assert home == Path.home() / ".config" / "driftless" / "servers.json"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("driftless.example.com", "https://driftless.example.com"),
        ("https://Driftless.Example.com:8443/", "https://driftless.example.com:8443"),
        ("https://example.com/driftless/", "https://example.com/driftless"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_server_urls_are_normalized(given: str, url: str) -> None:
    assert credentials.server_url(given) == url


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("http://driftless.example.com", "in clear"),
        ("https://admin:pw@example.com", "no credentials"),
        ("https://example.com/?token=x", "no query"),
        ("ftp://example.com", "https://HOST"),
        ("https://example.com:99999", "invalid server URL"),
        ("https://", "https://HOST"),
    ],
)
def test_bad_server_urls_are_usage_errors(given: str, says: str) -> None:
    with pytest.raises(UsageFailedError, match=says) as caught:
        credentials.server_url(given)
    assert "pw" not in caught.value.message


# -- which path a command takes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "kube_flag", "env", "env_file", "logged_in", "server", "why"),
    [
        ("https://f", True, "https://e", True, "https://l", "https://f", "--server"),
        (None, True, "https://e", True, "https://l", None, "--kubeconfig/--context"),
        (None, False, "https://e", True, "https://l", "https://e", "$DRIFTLESS_SERVER"),
        (None, False, None, True, "https://l", None, "$KUBECONFIG"),
        (None, False, None, False, "https://l", "https://l", "driftless login"),
        (None, False, None, False, None, None, "default kubeconfig"),
    ],
)
def test_the_path_decision_table(
    flag: str | None,
    kube_flag: bool,
    env: str | None,
    env_file: bool,
    logged_in: str | None,
    server: str | None,
    why: str,
) -> None:
    target = choose(
        server_flag=flag,
        kube_flag=kube_flag,
        server_env=env,
        kubeconfig_env_file=env_file,
        logged_in=logged_in,
    )
    assert (target.server, target.why) == (server, why)


# -- the client: errors and hostile answers -----------------------------------------------


def remote(handler: Handler, headers: dict[str, str] | None = None) -> Remote:
    return Remote(URL, headers=headers, transport=httpx.MockTransport(handler))


def error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": "X", "message": message}})


@pytest.mark.parametrize(
    ("status", "message", "shown", "kind"),
    [
        (401, "not logged in", f"not logged in to {URL}", NotLoggedInError),
        (403, "no sync on project a", "forbidden: no sync on project a", ServerError),
        (404, "application x not found", "application x not found", ServerError),
        (409, "an operation is running", "an operation is running", ServerError),
        (422, "body.revision: bad", "body.revision: bad", ServerError),
        (503, "the API is down", f"the server {URL} failed (503): the API is down", ServerError),
    ],
)
async def test_error_answers_become_one_line(
    status: int, message: str, shown: str, kind: type[ServerError]
) -> None:
    client = remote(lambda request: error(status, message))
    with pytest.raises(kind) as caught:
        await client.call("GET", "/api/v1/applications")
    assert caught.value.status == status and caught.value.message.startswith(shown)
    if status == 401:
        assert f"driftless login {URL}" in caught.value.message
    await client.close()


async def test_the_credential_goes_as_a_header_to_the_server_only() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []}, headers={"Set-Cookie": "evil=1; Path=/"})

    client = remote(handler, auth_headers(entry()))
    await client.call("GET", "/api/v1/applications")
    await client.call("GET", "/api/v1/applications")
    assert [r.headers["cookie"] for r in seen] == [f"driftless_session={SESSION}"] * 2
    assert all(r.url.host == "driftless.example.com" for r in seen)
    await client.close()
    bearer = auth_headers(None, "tok")
    assert bearer == {"Authorization": "Bearer tok"}
    assert auth_headers(entry(), "tok") == bearer  # $DRIFTLESS_AUTH_TOKEN wins


async def test_a_huge_body_is_refused() -> None:
    declared = remote(
        lambda request: httpx.Response(
            200, headers={"Content-Length": str(MAX_BODY + 1)}, content=b"{}"
        )
    )
    with pytest.raises(ServerError, match="larger than"):
        await declared.call("GET", "/api/v1/applications")

    async def chunks() -> Any:
        block = b" " * (1024 * 1024)
        for _ in range(MAX_BODY // len(block) + 2):
            yield block

    streamed = remote(lambda request: httpx.Response(200, content=chunks()))
    with pytest.raises(ServerError, match="larger than"):
        await streamed.call("GET", "/api/v1/applications")


async def test_an_answer_that_is_not_json_is_refused() -> None:
    client = remote(lambda request: httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(ServerError, match="not JSON: is it a driftless server"):
        await client.call("GET", "/api/v1/applications")
    broken = remote(lambda request: httpx.Response(500, text="<html>oops</html>"))
    with pytest.raises(ServerError, match="not the API's error shape"):
        await broken.call("GET", "/api/v1/applications")


async def test_a_redirect_to_another_host_is_not_followed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://evil.example/steal"})

    client = remote(handler, auth_headers(entry()))
    with pytest.raises(ServerError, match=r"redirect to https://evil\.example/steal: not"):
        await client.call("GET", "/api/v1/applications")
    assert len(seen) == 1


async def test_terminal_escapes_in_a_message_are_removed() -> None:
    client = remote(lambda request: error(409, "busy\x1b[2J\x1b]0;pwned\x07 now"))
    with pytest.raises(ServerError) as caught:
        await client.call("GET", "/x")
    assert "\x1b" not in caught.value.message and "\x07" not in caught.value.message
    assert caught.value.message.startswith("busy")


async def test_login_keeps_the_server_s_own_session_cookie() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content) == {"username": "admin", "password": "pw"}
        assert "cookie" not in request.headers and "authorization" not in request.headers
        cookie = f"driftless_session={SESSION}; HttpOnly; Path=/; SameSite=strict"
        return httpx.Response(200, json={"user": "admin"}, headers={"Set-Cookie": cookie})

    session = await remote(handler).login("admin", "pw")
    assert (session.cookie, session.value, session.user) == ("driftless_session", SESSION, "admin")


@pytest.mark.parametrize(
    "set_cookie",
    [
        f"driftless_session={SESSION}; Domain=evil.example; Path=/",
        "driftless_session=short; Path=/",
        f"other_cookie={SESSION}; Path=/",
    ],
)
async def test_login_refuses_a_cookie_not_for_itself(set_cookie: str) -> None:
    client = remote(
        lambda request: httpx.Response(200, json={"user": "x"}, headers={"Set-Cookie": set_cookie})
    )
    with pytest.raises(ServerError, match="set no session cookie"):
        await client.login("admin", "pw")


async def test_a_wrong_password_is_the_server_s_refusal_not_a_login_hint() -> None:
    client = remote(lambda request: error(401, "wrong username or password"))
    with pytest.raises(ServerError) as caught:
        await client.login("admin", "nope")
    assert caught.value.status == 401 and caught.value.message == "wrong username or password"
    assert not isinstance(caught.value, NotLoggedInError)


# -- the app commands' server backend ----------------------------------------------------


async def test_a_diff_the_server_cannot_plan_is_a_source_error() -> None:
    for status in (422, 502):
        apps = ServerApps(remote(lambda request, s=status: error(s, "render failed: bad yaml")))
        with pytest.raises(SourceFailedError, match="render failed"):
            await apps.diffs("web", "driftless", home="driftless")


async def test_terminating_nothing_reads_as_with_a_kubeconfig() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return error(409, "application driftless/web has no operation running")
        return httpx.Response(200, json={"metadata": {"name": "web"}, "status": {}})

    with pytest.raises(requests.NoRunningOperationError) as caught:
        await ServerApps(remote(handler)).terminate("web", "driftless")
    assert caught.value.message == "application driftless/web has no operation running"
    assert caught.value.app == {"metadata": {"name": "web"}, "status": {}}


async def test_an_unknown_app_reads_as_with_a_kubeconfig() -> None:
    apps = ServerApps(remote(lambda request: error(404, "application driftless/web not found")))
    with pytest.raises(click.ClickException) as caught:
        await apps.get("web", "driftless")
    assert caught.value.message == 'application "web" not found in namespace driftless'


async def test_a_list_row_with_a_path_for_a_name_is_refused() -> None:
    page = {"items": [{"namespace": "driftless", "name": "../../session"}], "total": 1}
    apps = ServerApps(remote(lambda request: httpx.Response(200, json=page)))
    with pytest.raises(ServerError, match="valid namespace and name"):
        await apps.list_apps(None)


async def test_the_list_reads_every_page_then_each_app() -> None:
    names = [f"app-{i:04d}" for i in range(1203)]
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/api/v1/applications":
            offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
            assert request.url.params["namespace"] == "team"
            rows = [{"namespace": "team", "name": n} for n in names[offset : offset + limit]]
            return httpx.Response(200, json={"items": rows, "total": len(names)})
        name = request.url.path.rsplit("/", 1)[1]
        if name == "app-0007":
            return error(404, "gone")  # deleted meanwhile: left out
        return httpx.Response(200, json={"metadata": {"name": name, "namespace": "team"}})

    listed = await ServerApps(remote(handler)).list_apps("team")
    assert [a["metadata"]["name"] for a in listed] == [n for n in names if n != "app-0007"]
    assert asked.count("/api/v1/applications") == 3

    asked.clear()
    named = await ServerApps(remote(handler)).list_apps("team", full=False)
    assert named == [{"metadata": {"name": n, "namespace": "team"}} for n in names]
    assert asked == ["/api/v1/applications"] * 3  # -o name: the list only
