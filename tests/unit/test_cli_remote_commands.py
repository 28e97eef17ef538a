"""``driftless login|logout`` and the path choice, as typed: usage errors, and no server up.

The server URL is a loopback port nothing listens on (connection refused at
once): what reaches the network is covered by ``tests/integration/
test_cli_via_server.py``.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from driftless.cli.main import cli
from driftless.cli.remote import credentials

NOWHERE = "http://127.0.0.1:1"
SESSION = "a-session-id-nobody-may-see-0123456789"


def run(tmp_path: Path, *args: str, stdin: str | None = None, **env: str) -> Result:
    environ = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
        "DRIFTLESS_SERVER": "",
        "DRIFTLESS_AUTH_TOKEN": "",
        **env,
    }
    result = CliRunner().invoke(cli, list(args), input=stdin, env=environ)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def stored_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "driftless" / "servers.json"


def logged_in(tmp_path: Path, url: str = NOWHERE) -> Path:
    entry = credentials.Entry(url, "admin", credentials.PASSWORD, SESSION, "driftless_session")
    return credentials.save(credentials.Credentials().with_entry(entry), stored_path(tmp_path))


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["--insecure-skip-tls-verify", "--ca-file", __file__], "pw\n", "contradict"),
        (["--token", "--password-stdin"], "pw\n", "contradict"),
        (["--password-stdin"], "", "no password on stdin"),
        ([], "pw\n", "no terminal to ask the password at: use --password-stdin"),
    ],
)
def test_login_usage_errors_exit_2(tmp_path: Path, args: list[str], stdin: str, says: str) -> None:
    result = run(tmp_path, "login", NOWHERE, *args, stdin=stdin)
    assert result.exit_code == 2 and says in result.stderr, result.output
    assert not stored_path(tmp_path).exists()


def test_login_refuses_plain_http_to_another_host(tmp_path: Path) -> None:
    result = run(tmp_path, "login", "http://driftless.example.com", "--password-stdin", stdin="pw")
    assert result.exit_code == 2 and "in clear" in result.stderr


def test_login_to_a_server_that_is_not_there_stores_nothing(tmp_path: Path) -> None:
    result = run(tmp_path, "login", NOWHERE, "--password-stdin", stdin="secret-pw\n")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach the server {NOWHERE}")
    assert "secret-pw" not in result.output and not stored_path(tmp_path).exists()


def test_logout_without_login_says_so(tmp_path: Path) -> None:
    result = run(tmp_path, "logout")
    assert (result.exit_code, result.stderr) == (1, "Error: not logged in to any server\n")


def test_logout_forgets_even_when_the_server_is_gone(tmp_path: Path) -> None:
    path = logged_in(tmp_path)
    result = run(tmp_path, "logout")
    assert result.exit_code == 0, result.output
    assert "warning: the session could not be ended on the server" in result.stderr
    assert result.stdout == f"logged out of {NOWHERE}\n"
    assert credentials.load(path) == credentials.Credentials()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SESSION not in result.output


def test_a_logged_in_server_is_used_without_a_kubeconfig(tmp_path: Path) -> None:
    logged_in(tmp_path)
    result = run(tmp_path, "app", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach the server {NOWHERE}")
    assert SESSION not in result.output


def test_a_kubeconfig_flag_outranks_the_login(tmp_path: Path) -> None:
    logged_in(tmp_path)
    result = run(tmp_path, "--kubeconfig", str(tmp_path / "flag-kubeconfig"), "app", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no kubeconfig at {tmp_path / 'flag-kubeconfig'}")


def test_a_server_without_login_or_token_says_to_log_in(tmp_path: Path) -> None:
    result = run(tmp_path, "app", "get", "web", DRIFTLESS_SERVER="https://d.example")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: not logged in to https://d.example: run `driftless login https://d.example`\n",
    )


def test_a_credentials_file_others_may_read_stops_the_command(tmp_path: Path) -> None:
    logged_in(tmp_path).chmod(0o644)
    result = run(tmp_path, "app", "list")
    assert result.exit_code == 1 and "may be read by others (mode 0644)" in result.stderr
    assert SESSION not in result.output
