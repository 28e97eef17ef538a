"""Repository credentials: Secret parsing, URL-prefix matching, redaction (pure)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from driftless.sources import credentials as creds
from driftless.sources.credentials import AuthKind, CredentialError, RepoCredential
from driftless.sources.gitauth import scrub

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBmYWtlLWtleS1mb3ItdW5pdC10ZXN0cy1vbmx5LW5vdC1yZWFsAAAAA==\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
TOKEN = "ghp_unitTestToken0123456789"


def secret(name: str = "repo-a", **data: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def cred(name: str, url: str) -> RepoCredential:
    return RepoCredential(name=name, url=url, password="x")


# -- normalization and matching --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("HTTPS://Git.Example.COM/Team/Repo.git", "https://git.example.com/Team/Repo"),
        ("https://git.example.com/team/repo.git/", "https://git.example.com/team/repo"),
        ("https://user:pw@git.example.com:443/team/", "https://git.example.com/team"),
        ("https://git.example.com:8443/team", "https://git.example.com:8443/team"),
        ("http://git.example.com:80/x", "http://git.example.com/x"),
        ("ssh://git@git.example.com/team/repo.git", "ssh://git.example.com/team/repo"),
        ("ssh://git@git.example.com:22/team/repo", "ssh://git.example.com/team/repo"),
        ("ssh://git@git.example.com:2222/team/repo", "ssh://git.example.com:2222/team/repo"),
        ("git@git.example.com:team/repo.git", "ssh://git.example.com/team/repo"),
        ("https://git.example.com", "https://git.example.com"),
    ],
)
def test_prefixes_are_normalized(url: str, normalized: str) -> None:
    assert creds.normalize_prefix(url) == normalized


@pytest.mark.parametrize(
    ("repo_url", "expected"),
    [
        ("https://git.example.com/team/deploy.git", "team"),
        ("https://GIT.example.com/team/deploy", "team"),
        ("https://git.example.com/team/special/app.git", "special"),  # longest prefix wins
        ("https://git.example.com/team/special", "special"),
        ("https://git.example.com/other/app", "host"),
        ("https://git.example.com/teamwork/app", "host"),  # segment boundary, not "team"
        ("http://git.example.com/team/deploy", None),  # the scheme is part of the prefix
        ("https://git.example.com.evil.test/team", None),
        ("git@git.example.com:team/deploy.git", "ssh-team"),  # scp-like = ssh://
        ("ssh://git@git.example.com/team/deploy", "ssh-team"),
        ("file:///srv/git/team", None),
        ("/srv/git/team", None),
    ],
)
def test_the_longest_matching_prefix_wins(repo_url: str, expected: str | None) -> None:
    known = [
        cred("host", "https://git.example.com/"),
        cred("team", "https://git.example.com/team.git"),
        cred("special", "https://git.example.com/team/special/"),
        RepoCredential(
            name="ssh-team", url="git@git.example.com:team", ssh_private_key=KEY, known_hosts="k"
        ),
    ]
    found = creds.match_credential(known, repo_url)
    assert (found.name if found else None) == expected


def test_equal_prefixes_go_to_the_first_name() -> None:
    known = [cred("b", "https://h/x"), cred("a", "https://h/x/"), cred("c", "https://h/x.git")]
    found = creds.match_credential(known, "https://h/x/y")
    assert found is not None and found.name == "a"


# -- Secrets -------------------------------------------------------------------------------


def test_https_secret_with_a_token_only_gets_a_default_username() -> None:
    parsed = creds.parse_secret(secret(url="https://h/team", password=TOKEN + "\n"))
    assert (parsed.kind, parsed.username, parsed.password) == (AuthKind.HTTPS, "git", TOKEN)


def test_ssh_secret() -> None:
    parsed = creds.parse_secret(
        secret(url="ssh://git@h/team", sshPrivateKey=KEY.strip(), knownHosts="h ssh-ed25519 AAA\n")
    )
    assert parsed.kind == AuthKind.SSH
    assert parsed.ssh_private_key == KEY  # ends with a newline, as ssh requires
    assert parsed.known_hosts == "h ssh-ed25519 AAA"
    assert not parsed.insecure_ignore_host_key


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"password": TOKEN}, "data.url is missing"),
        ({"url": "https://h/x"}, "set password or sshPrivateKey"),
        ({"url": "https://h/x", "sshPrivateKey": KEY}, "sshPrivateKey needs an ssh:// URL"),
        ({"url": "ssh://h/x", "password": TOKEN}, "passwords are https only"),
        ({"url": "ssh://h/x", "sshPrivateKey": KEY, "password": TOKEN}, "not both"),
        ({"url": "ssh://h/x", "sshPrivateKey": TOKEN}, "is not a private key"),
        ({"url": "file:///x", "password": TOKEN}, "not file://"),
        ({"url": "ext::sh -c x", "password": TOKEN}, "is neither an absolute path"),
        (
            {"url": "ssh://h/x", "sshPrivateKey": KEY, "insecureIgnoreHostKey": "yes"},
            'must be "true" or "false"',
        ),
    ],
)
def test_unusable_secrets_are_refused_without_showing_values(
    data: dict[str, str], problem: str
) -> None:
    with pytest.raises(CredentialError) as caught:
        creds.parse_secret(secret("broken", **data))
    message = str(caught.value)
    assert message.startswith("repository Secret broken: ")
    assert problem in message
    assert TOKEN not in message and "b3BlbnNzaC1rZXkt" not in message


def test_data_that_is_not_base64_is_refused() -> None:
    body = {"metadata": {"name": "s"}, "data": {"url": "%%%", "password": "x"}}
    with pytest.raises(CredentialError, match=r"data\.url is not base64"):
        creds.parse_secret(body)


def test_secret_round_trip_and_label() -> None:
    original = RepoCredential(
        name="n",
        url="ssh://git@h:2222/team",
        ssh_private_key=KEY,
        insecure_ignore_host_key=True,
    )
    body = creds.repository_secret(original, "driftless")
    assert body["metadata"]["labels"] == {"driftless.dev/secret-type": "repository"}
    assert set(body["data"]) == {"url", "sshPrivateKey", "insecureIgnoreHostKey"}
    assert creds.parse_secret(body) == original


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/team/deploy.git",
        "git@git.example.com:" + "very-long-group-name/" * 6 + "repo.git",
        "https://h",
    ],
)
def test_secret_names_are_valid_and_stable(url: str) -> None:
    name = creds.secret_name_for(url)
    assert len(name) <= 63
    assert name.startswith("repo-")
    assert all(c.isalnum() or c == "-" for c in name) and name == name.lower()
    assert not name.endswith("-")
    assert creds.secret_name_for(url.rstrip("/") + "/") == name  # same prefix, same name


def test_nothing_secret_in_repr_or_summary() -> None:
    https = RepoCredential(
        name="a", url="https://tok@h/x", username="long-user-name", password=TOKEN
    )
    ssh = RepoCredential(name="b", url="ssh://h/x", ssh_private_key=KEY, known_hosts="h k")
    for credential in (https, ssh):
        shown = repr(credential) + repr(creds.summary(credential))
        assert TOKEN not in shown and "long-user-name" not in shown
        assert "b3BlbnNzaC1rZXkt" not in shown
    assert creds.summary(https) == {
        "name": "a",
        "url": "https://h/x",
        "type": "https",
        "knownHosts": "-",
    }
    assert creds.summary(ssh)["knownHosts"] == "set"


def test_scrub_removes_every_secret_value() -> None:
    credential = RepoCredential(
        name="a", url="https://h/x", username="a-token-as-username", password=TOKEN
    )
    text = f"fatal: https://u:{TOKEN}@h/x said a-token-as-username {TOKEN}"
    cleaned = scrub(text, credential.secret_values())
    assert TOKEN not in cleaned and "a-token-as-username" not in cleaned
    # Short usernames are ordinary words and stay (scrubbing "git" would garble messages).
    assert RepoCredential(
        name="b", url="https://h", username="git", password="p"
    ).secret_values() == ("p",)
