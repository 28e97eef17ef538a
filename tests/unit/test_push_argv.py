"""Push mode's flags that reach helm's command line are checked like Helm checks them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from driftless.cli.push import _default_name, render_command


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--name", "--post-renderer=/bin/sh", "not a valid app name"),
        ("--name", "-n", "not a valid app name"),
        ("--name", "x" * 54, "longer than 53"),
        ("--namespace", "--kube-context=prod", "not a valid namespace"),
        ("--kube-version", "--post-renderer=/bin/sh", "not a Kubernetes version"),
    ],
)
def test_render_refuses_flags_that_would_be_helm_options(
    flag: str, value: str, message: str
) -> None:
    result = CliRunner().invoke(render_command, ["--repo", ".", f"{flag}={value}"])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("repo", "path", "name"),
    [
        (".", "-x", "x"),
        (".", "My_App!", "my-app"),
        (".", "--post-renderer=sh", "post-renderer-sh"),
        ("https://x/" + "a" * 80 + ".git", ".", "a" * 53),
    ],
)
def test_default_name_is_always_a_release_name(repo: str, path: str, name: str) -> None:
    assert _default_name(repo, path) == name
