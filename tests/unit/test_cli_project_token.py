"""``driftless project token``: its durations, the states ``list`` shows, and mistakes refused
before anything runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from driftless.cli import project_token
from driftless.cli.main import cli
from driftless.pipeline import tokens

NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("1h30m", 5400), ("90", 90)]
)
def test_lifetimes(text: str, seconds: int) -> None:
    assert project_token.Lifetime().convert(text, None, None) == seconds


@pytest.mark.parametrize(
    "args",
    [
        ["project", "token", "create", "team-a", "ci", "--expires-in", "0"],
        ["project", "token", "create", "team-a", "ci", "--expires-in", "-5m"],
        ["project", "token", "create", "team-a", "ci", "--expires-in", "soon"],
        ["project", "token", "create", "team-a", "ci", "-n", "-x"],
        ["project", "token", "rotate-key", "--grace", "-1"],
        ["project", "token", "list", "-o", "token"],
    ],
)
def test_mistakes_are_refused_before_anything_runs(args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["--kubeconfig", "/nonexistent", *args])
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output


def test_the_states_list_shows() -> None:
    table = tokens.TokenTable()
    made = []
    for token_id, expires_in in [("a", None), ("b", 10), ("c", None)]:
        table, _, record = tokens.issue(
            table,
            namespace="driftless",
            project="team-a",
            role="ci",
            now=NOW,
            expires_in=expires_in,
            token_id=token_id,
        )
        made.append(record)
    table = tokens.revoke(table, "c")
    states = {r.id: project_token.state_of(r, table, NOW + 60) for r in table.records}
    assert states == {"a": "active", "b": "expired", "c": "revoked"}
    rotated = tokens.rotate(table, now=NOW, grace=30)
    assert project_token.state_of(made[0], rotated, NOW + 60) == "key-retired"
    view = project_token.record_view(made[1], table, NOW)
    assert view == {
        "id": "b",
        "project": "team-a",
        "role": "ci",
        "subject": "proj:team-a:ci",
        "issued": "2027-01-15T08:00:00Z",
        "expires": "2027-01-15T08:00:10Z",
        "state": "active",
    }
