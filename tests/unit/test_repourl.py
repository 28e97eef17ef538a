"""Repository URL normalization, matching and redaction: many spellings, hostile ones first."""

from __future__ import annotations

import pytest

from driftless.core.errors import SourceError
from driftless.core.project import Project, ProjectViolationError, check_source
from driftless.core.repourl import parse_repo_url, pattern_key, redact
from driftless.sources import credentials as creds
from driftless.sources.urls import check_repo_url

# -- one repository, many spellings ------------------------------------------------

SECRET_REPO = "https://git.example.com/team-b/secret.git"


@pytest.mark.parametrize(
    "spelling",
    [
        "https://git.example.com/team-b/secret.git",
        "HTTPS://GIT.EXAMPLE.COM/team-b/secret.git",
        "https://git.example.com:443/team-b/secret.git",
        "https://git.example.com./team-b/secret.git",
        "https://git.example.com/team-a/../team-b/secret.git",
        "https://git.example.com/team-a/%2e%2e/team-b/secret.git",
        "https://git.example.com/team-a/%2E%2E/team-b/secret.git",
        "https://git.example.com/team-a/.%2e/team-b/secret.git",
        "https://git.example.com//team-b///secret.git",
        "https://git.example.com/./team-b/./secret.git/",
        "https://git.example.com/../../team-b/secret.git",
        "https://git.example.com/%74eam-b/secret.git",
        "https://someone@git.example.com/team-b/secret.git",
    ],
)
def test_spellings_of_one_repository_fetch_one_url(spelling: str) -> None:
    # What git is given is the canonical URL, so what was checked is what is fetched.
    assert check_repo_url(spelling) == SECRET_REPO
    assert parse_repo_url(spelling).key == "https://git.example.com/team-b/secret"


@pytest.mark.parametrize(
    ("url", "fetch", "key"),
    [
        ("git@GitHub.com:org/repo.git", "git@github.com:org/repo.git", "ssh://github.com/org/repo"),
        (
            "ssh://git@github.com:22/org/repo",
            "ssh://git@github.com/org/repo",
            "ssh://github.com/org/repo",
        ),
        ("ssh://git@h:2222/o/r.git", "ssh://git@h:2222/o/r.git", "ssh://h:2222/o/r"),
        ("http://127.0.0.1:8080/r.git", "http://127.0.0.1:8080/r.git", "http://127.0.0.1:8080/r"),
        ("http://h:80/r", "http://h/r", "http://h/r"),
        ("git://h:9418/r", "git://h/r", "git://h/r"),
        ("https://[::1]:8443/r", "https://[::1]:8443/r", "https://[::1]:8443/r"),
        ("https://h/%7Euser/r%20x", "https://h/~user/r%20x", "https://h/~user/r%20x"),
        ("/srv//repos/a/../b/", "file:///srv/repos/b", "file:///srv/repos/b"),
        ("file:///srv/repos/b", "file:///srv/repos/b", "file:///srv/repos/b"),
        ("file://localhost/srv/r%20b", "file:///srv/r%20b", "file:///srv/r%20b"),
        (
            "https://bücher.example/r",
            "https://xn--bcher-kva.example/r",
            "https://xn--bcher-kva.example/r",
        ),
    ],
)
def test_canonical_forms(url: str, fetch: str, key: str) -> None:
    parsed = parse_repo_url(url)
    assert (parsed.fetch_url, parsed.key) == (fetch, key)


def test_scp_like_and_ssh_urls_are_one_repository() -> None:
    assert parse_repo_url("git@host:org/r.git").key == parse_repo_url("ssh://git@host/org/r").key


def test_the_host_git_contacts_is_the_host_matched() -> None:
    # userinfo ends at the "@": good.example is a user name, evil.example the host.
    parsed = parse_repo_url("https://good.example@evil.example/team-a/x")
    assert parsed.host == "evil.example"
    assert parsed.fetch_url == "https://evil.example/team-a/x"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "-u",
        "--upload-pack=touch /tmp/pwned",
        "ext::sh -c id",
        "fd::3",
        "ftp://h/r",
        "relative/dir",
        "https://h/team-a\\..\\team-b/x",  # backslashes: WHATWG parsers read them as "/"
        "https://h/team-a/..%2fteam-b/x",  # an encoded "/" that a server may decode
        "https://h/team-a/..%5cteam-b/x",
        "https://h/team-a/%252e%252e/team-b",  # double encoding
        "https://h/a%00b",
        "https://h/a%zz",
        "https://good.example@evil.example@other.example/x",  # git and curl disagree
        "https://h/r?x=/../../team-b",
        "https://h/r#frag",
        "https://h%2eevil/r",
        "https://-oProxyCommand=x/r",
        "ssh://-oProxyCommand=touch@h/r",
        "-oProxyCommand=x:repo",
        "host:-x",
        "host:../other-user/repo",
        "https://h:0/r",
        "https://h:99999/r",
        "https://h:x/r",
        "https://h/r\nx",
        "file://evil.example/etc",
        "file:///",
        "https:///r",
    ],
)
def test_ambiguous_or_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(SourceError):
        check_repo_url(url)


def test_a_password_in_the_url_is_refused_and_never_shown() -> None:
    with pytest.raises(SourceError) as caught:
        check_repo_url("https://user:s3cr3t@h/r.git")
    assert "s3cr3t" not in str(caught.value)
    assert "repository Secret" in str(caught.value)
    # ...but the URL still normalizes, so it matches allow-lists and prefixes as the host.
    assert parse_repo_url("https://user:s3cr3t@h/r.git").key == "https://h/r"


# -- Project allow-lists ----------------------------------------------------------------


def project(*repos: str) -> Project:
    return Project.model_validate(
        {"metadata": {"name": "team-a"}, "spec": {"sourceRepos": list(repos)}}
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/team-a/../team-b/secret.git",
        "https://git.example.com/team-a/%2e%2e/team-b/secret.git",
        "https://git.example.com/team-a/x/../../team-b/secret.git",
        "https://git.example.com/team-a%2f..%2fteam-b/secret.git",
        "https://git.example.com/team-a\\..\\team-b/secret.git",
        "https://git.example.com@evil.example/team-a/x",
        "https://evil.example/git.example.com/team-a/x",
        "http://git.example.com/team-a/x",
        "https://evil.test/git.example.com/team-a/x",
    ],
)
def test_allow_list_is_not_fooled(url: str) -> None:
    with pytest.raises(ProjectViolationError):
        check_source(project("https://git.example.com/team-a/*"), url)


@pytest.mark.parametrize(
    ("pattern", "url"),
    [
        ("https://git.example.com/team-a/*", "https://GIT.example.com:443/team-a//app.git/"),
        ("https://git.example.com/team-a/*", "https://git.example.com/team-a/x/../app"),
        ("https://Git.Example.com:443/team-a/*", "https://git.example.com/team-a/app"),
        ("https://git.example.com/team-a/app.git", "https://git.example.com/team-a/app"),
        ("https://git.example.com/team-a/app", "https://git.example.com/team-a/app.git"),
        ("git@git.example.com:team-a/*", "ssh://git@git.example.com/team-a/app.git"),
        ("ssh://git@git.example.com/team-a/*", "git@git.example.com:team-a/app.git"),
        ("https://*.example.com/*", "https://git.example.com/x"),
        ("*", "https://anything.example/x"),
    ],
)
def test_allow_list_matches_normalized_spellings(pattern: str, url: str) -> None:
    check_source(project(pattern), url)


@pytest.mark.parametrize(
    "url",
    ["https://evil.test/.example.com/x", "https://evil.test/a.example.com/x", "ssh://evil.test/x"],
)
def test_a_host_glob_never_spans_into_the_path(url: str) -> None:
    with pytest.raises(ProjectViolationError):
        check_source(project("https://*.example.com/*"), url)


@pytest.mark.parametrize(
    ("pattern", "url"),
    [
        ("https://*", "https://any.example/team/x"),
        ("https://*.example.com/*", "https://git.example.com/team/x"),
        ("ssh://git.example.com/team-?/*", "git@git.example.com:team-a/x.git"),
    ],
)
def test_host_and_path_globs(pattern: str, url: str) -> None:
    check_source(project(pattern), url)


def test_allow_list_message_is_redacted() -> None:
    with pytest.raises(ProjectViolationError) as caught:
        check_source(project("https://h/a/*"), "https://u:tok3n@h/b/x?private_token=zz")
    assert "tok3n" not in str(caught.value)
    assert "zz" not in str(caught.value)


def test_pattern_key_keeps_globs() -> None:
    assert pattern_key("HTTPS://H:443/team-a/*.git") == "https://h/team-a/*"
    assert pattern_key("*") == "*"
    assert pattern_key("https://h/[ab]/?") == "https://h/[ab]/?"


# -- credential prefixes ----------------------------------------------------------------


def credential(name: str, url: str) -> creds.RepoCredential:
    return creds.RepoCredential(name=name, url=url, password=f"token-of-{name}")


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/team-a/../team-b/secret.git",
        "https://git.example.com/team-a/%2e%2e/team-b/secret.git",
        "https://git.example.com/team-a@evil.example/team-a/x",
        "https://git.example.com.evil.example/team-a/x",
    ],
)
def test_credential_prefix_is_not_fooled(url: str) -> None:
    team_a = credential("team-a", "https://git.example.com/team-a")
    assert creds.match_credential([team_a], url) is None


def test_credential_prefix_matches_normalized_spellings() -> None:
    team_a = credential("team-a", "https://GIT.example.com:443/team-a/")
    for url in (
        "https://git.example.com/team-a/app.git",
        "https://git.example.com//team-a/./app",
        "https://git.example.com/team-b/../team-a/app",
    ):
        assert creds.match_credential([team_a], url) == team_a


# -- redaction ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("https://user:p@ss@host/repo", "p@ss"),
        ("fatal: 'https://user:p@ss@word@host:8443/r' failed", "ss@word"),
        ("https://user:p/ss@host/repo", None),  # "/" ends userinfo: no password to find
        ("https://tok3n@host/r", "tok3n"),
        ("https://x-access-token:ghp_abc@github.com/o/r.git", "ghp_abc"),
        ("http://h/r?token=s3cret&service=git-upload-pack", "s3cret"),
        ("http://h/r?private_token=s3cret", "s3cret"),
        ("https://h/index.yaml?X-Amz-Signature=s1g&X-Amz-Credential=AKIA", "s1g"),
        ("see https://u:pw'x@h/r and more", "pw'x"),
        ("https://u:pw@h", "pw"),
    ],
)
def test_redact_hides_credentials(text: str, hidden: str | None) -> None:
    shown = redact(text)
    if hidden is not None:
        assert hidden not in shown
    assert "host" in shown or "h" in shown


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("https://user:p@ss@host/repo", "https://host/repo"),
        ("ssh://git@host/r and https://a@b/c", "ssh://host/r and https://b/c"),
        ("no url here, mail me at a@b.c", "no url here, mail me at a@b.c"),
        (
            "http://h/r/info/refs?service=git-upload-pack",
            "http://h/r/info/refs?service=git-upload-pack",
        ),
        ("http://h/r?token=abc&ref=main", "http://h/r?token=[redacted]&ref=main"),
    ],
)
def test_redact_exact(text: str, redacted: str) -> None:
    assert redact(text) == redacted
