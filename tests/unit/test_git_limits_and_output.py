"""Git limits from the environment, and repository URLs in the CLI's output (pure)."""

from __future__ import annotations

import pytest

from driftless.cli import listing
from driftless.cli.app import app_listing, describe
from driftless.core.redaction import redacted
from driftless.sources.gitlimits import GitLimits, parse_size

# -- limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1 << 20), ("512Mi", 512 << 20), ("2Gi", 2 << 30), ("2G", 2 << 30), ("10k", 10240)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_defaults_and_environment() -> None:
    assert GitLimits.from_env({}) == GitLimits()
    assert GitLimits().max_repo_bytes == 2 << 30
    limits = GitLimits.from_env(
        {
            "DRIFTLESS_GIT_TIMEOUT": "30s",
            "DRIFTLESS_GIT_MAX_REPO_SIZE": "100Mi",
            "DRIFTLESS_GIT_MAX_CHECKOUT_SIZE": "10Mi",
            "DRIFTLESS_GIT_MAX_CHECKOUT_FILES": "500",
        }
    )
    assert limits == GitLimits(30.0, 100 << 20, 10 << 20, 500)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DRIFTLESS_GIT_TIMEOUT", "soon"),
        ("DRIFTLESS_GIT_TIMEOUT", "-1"),
        ("DRIFTLESS_GIT_MAX_REPO_SIZE", "lots"),
        ("DRIFTLESS_GIT_MAX_REPO_SIZE", "0"),
        ("DRIFTLESS_GIT_MAX_CHECKOUT_FILES", "-5"),
    ],
)
def test_a_bad_setting_fails_at_start_naming_it(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        GitLimits.from_env({name: value})


# -- the CLI never prints a credential from a URL --------------------------------------

SECRET = "hunter2-p@ss"
APP = {
    "metadata": {"name": "guestbook", "namespace": "driftless"},
    "spec": {
        "source": {"repoURL": f"https://deploy:{SECRET}@git.example.com/o/r.git?token={SECRET}"},
        "destination": {"namespace": "guestbook"},
    },
    "status": {
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "SourceFailed",
                "message": f"cannot reach https://deploy:{SECRET}@git.example.com/o/r.git",
            }
        ],
        "history": [{"source": {"repoURL": f"https://x:{SECRET}@git.example.com/o/r.git"}}],
    },
}


def test_describe_list_and_structured_output_are_redacted() -> None:
    every_namespace = app_listing(None)  # app list -A
    shown = [
        describe(APP),
        listing.render(every_namespace, [APP], "wide"),  # the wide row, repo column included
        str(redacted(APP)),
        listing.render(every_namespace, [redacted(APP)], "yaml"),  # app list -o yaml
    ]
    for text in shown:
        assert SECRET not in text
        assert "hunter2" not in text
        assert "git.example.com/o/r.git" in text
