"""Single sign-on settings and options: what must not run, and what never reaches a log."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from driftless.cli.main import cli
from driftless.server import oidc
from driftless.server.settings import (
    OIDC_CALLBACK_PATH,
    OidcSettings,
    ServerSettings,
    SettingsError,
    check,
)


def _sso(**changes: object) -> OidcSettings:
    fields: dict[str, object] = {
        "issuer": "https://id.example.test/",
        "client_id": "driftless",
        "client_secret_ref": "driftless-oidc",
    }
    fields.update(changes)
    return OidcSettings(**fields)  # type: ignore[arg-type]


def test_a_sound_configuration_runs_and_names_its_secret_key() -> None:
    check(ServerSettings(oidc=_sso(), local_admin=False))
    check(ServerSettings(oidc=_sso(issuer="http://127.0.0.1:5556/")))
    assert _sso().secret_name_and_key == ("driftless-oidc", "clientSecret")
    assert _sso(client_secret_ref="sso:secret").secret_name_and_key == ("sso", "secret")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (ServerSettings(local_admin=False), "nobody could log in"),
        (ServerSettings(oidc=_sso(issuer="http://id.example.test/")), "https://"),
        (ServerSettings(oidc=_sso(issuer="ftp://id.example.test/")), "http(s) URL"),
        (ServerSettings(oidc=_sso(issuer="https://id.example.test/?x=1")), "without a query"),
        (ServerSettings(oidc=_sso(client_id="")), "required"),
        (ServerSettings(oidc=_sso(client_secret_ref=":key")), "required"),
        (ServerSettings(oidc=_sso(scopes=("email",))), "openid"),
    ],
)
def test_configurations_that_must_not_run(settings: ServerSettings, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(settings)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--oidc-issuer", "https://id.example.test/"], "needs --oidc-client-id"),
        (["--oidc-client-id", "x"], "need --oidc-issuer"),
        (["--no-local-admin"], "nobody could log in"),
    ],
)
def test_incomplete_options_are_usage_errors(argv: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["server", *argv])
    assert result.exit_code == 2 and message in result.output


def test_the_callback_query_never_reaches_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"{OIDC_CALLBACK_PATH}?code=SECRET-CODE&state=S", "1.1", 303),
        None,
    )
    assert oidc.RedactCallback().filter(record)
    assert "SECRET-CODE" not in record.getMessage()
    assert f"{OIDC_CALLBACK_PATH}?(redacted)" in record.getMessage()
    other = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s %s %s", ("a", "GET", "/x?y=1"), None
    )
    assert oidc.RedactCallback().filter(other) and other.getMessage() == "a GET /x?y=1"
