"""Shared CLI options: one Duration for every --timeout, one exit code per error type."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from driftless.cli import exits
from driftless.cli.context import NoKubeconfigError, run_async
from driftless.cli.options import Duration, duration_seconds, namespace_option
from driftless.core.errors import DriftlessError, SourceError
from driftless.kube.client import KubeApiError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("300", 300.0), ("2.5", 2.5), ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("0", 0.0)],
)
def test_a_duration_is_seconds_or_go_style(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "forever", "-1", "1d", "nan", "inf", "5 m"])
def test_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        duration_seconds(text)


@click.command()
@click.option("--timeout", type=Duration(), default="5m")
@namespace_option()
def _probe(timeout: float, namespace: str | None) -> None:
    click.echo(f"{timeout} {namespace}")


@pytest.mark.parametrize(
    ("args", "code", "out"),
    [
        ([], 0, "300.0 None"),
        (["--timeout", "90"], 0, "90.0 None"),
        (["--timeout", "forever"], 2, "Invalid value for '--timeout': invalid duration"),
        (["-n", "team-a"], 0, "300.0 team-a"),
        (["-n", "--timeout"], 2, "Invalid value for '-n' / '--namespace'"),
        (["-n", "Bad_NS"], 2, "is not a valid namespace"),
    ],
)
def test_timeout_and_namespace_values(args: list[str], code: int, out: str) -> None:
    result = CliRunner().invoke(_probe, args)
    assert result.exit_code == code, result.output
    assert out in result.output


@click.command()
@click.option("--limit", type=Duration(positive=True), default="30s")
def _limited(limit: float) -> None:
    click.echo(limit)


@pytest.mark.parametrize(
    ("args", "code", "out"),
    [([], 0, "30.0"), (["--limit", "1m"], 0, "60.0"), (["--limit", "0"], 2, "must be positive")],
)
def test_a_positive_duration_refuses_zero(args: list[str], code: int, out: str) -> None:
    result = CliRunner().invoke(_limited, args)
    assert result.exit_code == code, result.output
    assert out in result.output


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (exits.SourceFailedError("bad.yaml: not YAML"), 5, "render error: bad.yaml: not YAML"),
        (exits.UsageFailedError("--revision needs git"), 2, "usage error: --revision needs git"),
        (SourceError("no such path"), 1, "Error: no such path"),
        (DriftlessError("boom"), 1, "Error: boom"),
        (NoKubeconfigError("no kubeconfig at /x; pass --kubeconfig"), 1, "Error: no kubeconfig"),
        (KubeApiError(0, "cannot reach the API server at https://h"), 1, "Error: cannot reach"),
    ],
)
def test_run_async_ends_an_error_in_one_line_and_its_code(
    error: Exception, code: int, line: str
) -> None:
    @click.command()
    @run_async
    async def failing() -> int:
        raise error

    result = CliRunner().invoke(failing, [])
    assert result.exit_code == code
    assert result.output.strip().startswith(line)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("returned", "code"), [(None, 0), (0, 0), (3, 3), (4, 4)])
def test_run_async_exits_with_what_the_command_returns(returned: int | None, code: int) -> None:
    @click.command()
    @run_async
    async def done() -> int | None:
        return returned

    assert CliRunner().invoke(done, []).exit_code == code
