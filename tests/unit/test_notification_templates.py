"""Notification templates: good ones render, bad ones are named by field and line,
hostile ones finish fast and are refused without hurting the caller."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftless.notifications import context, templates
from driftless.notifications.model import TRIGGERS
from driftless.notifications.renderer import TemplateRenderer
from driftless.notifications.templates import Failure

SHA = "0123456789abcdef0123456789abcdef01234567"
APP: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "team-a", "uid": "u", "labels": {"tier": "front"}},
    "spec": {
        "project": "shop",
        "source": {
            "repoURL": "https://user:hunter2@git.example.com/shop.git?token=abc",
            "path": "deploy",
            "targetRevision": "main",
        },
        "destination": {"namespace": "shop"},
    },
    "status": {
        "sync": {"status": "Synced", "revision": SHA},
        "health": {"status": "Healthy"},
        "operationState": {
            "phase": "Succeeded",
            "message": "successfully synced",
            "startedAt": "2026-01-01T00:00:00Z",
            "finishedAt": "2026-01-01T00:00:05Z",
            "revision": SHA,
            "resources": [
                {"kind": "ConfigMap", "namespace": "shop", "name": "old", "status": "Pruned"}
            ],
        },
    },
}


class Commit:
    sha = SHA
    author_name = "Ann"
    author_email = "ann@example.com"
    date = "2026-01-01T00:00:00+00:00"
    message = "Fix the cart\n\n{{ evil }}"


def variables(trigger: str = "on-sync-succeeded") -> dict[str, Any]:
    return context.variables(APP, trigger, SHA, Commit(), "https://ui.example.com/")


def test_context_has_what_templates_document_and_no_credentials() -> None:
    v = variables()
    assert v["app"]["repoURL"].startswith("https://git.example.com/shop.git")
    assert "hunter2" not in str(v) and "abc" not in v["app"]["repoURL"]
    assert v["app_url"] == "https://ui.example.com/applications/team-a/web"
    assert v["commit"]["author"] == {"name": "Ann", "email": "ann@example.com"}
    assert v["resources"] == [
        {"kind": "ConfigMap", "namespace": "shop", "name": "old", "status": "Pruned", "message": ""}
    ]
    assert v["operation"]["finishedAt"] == "2026-01-01T00:00:05Z"
    assert v["operation"]["resourcesOmitted"] == 0


@pytest.mark.parametrize(
    ("stored", "seen"), [(640, 640), ("640", 0), (-1, 0), (True, 0), (None, 0)]
)
def test_the_count_of_unlisted_results_is_a_plain_number(stored: Any, seen: int) -> None:
    app = copy.deepcopy(APP)
    app["status"]["operationState"]["resourcesOmitted"] = stored
    v = context.variables(app, "on-sync-succeeded", SHA, Commit(), None)
    assert v["operation"]["resourcesOmitted"] == seen
    rendered = templates.render({"body": "{{ operation.resourcesOmitted + 1 }} more"}, v)
    assert rendered == {"body": f"{seen + 1} more"}


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_default_template_renders(trigger: str) -> None:
    title, body = templates.DEFAULTS[trigger]
    out = templates.render({"title": title, "body": body}, variables(trigger))
    assert isinstance(out, dict), out
    assert out["title"].startswith("team-a/web")
    assert "hunter2" not in out["body"]


def test_a_rule_template_renders_the_commit_as_text_not_as_a_template() -> None:
    source = "{{ app.name }}@{{ short_revision }} by {{ commit.author.name }}: {{ commit.message }}"
    out = templates.render({"body": source}, variables())
    assert out == {"body": "web@01234567 by Ann: Fix the cart\n\n{{ evil }}"}


def test_syntax_error_names_field_and_line() -> None:
    failure = templates.check({"title": "ok", "body": "line one\nline two\n{% if %}"})
    assert failure == Failure("body", 3, failure.message if failure else "")
    assert failure is not None and "line 3" in failure.describe()


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("hello\n{{ app.nmae }}", 2, "nmae"),
        ("a\nb\n{{ 1 // 0 }}", 3, "ZeroDivisionError"),
        ("{{ app.__class__.__mro__ }}", 1, "unsafe"),
        ("{{ ().__class__.__base__.__subclasses__() }}", 1, "unsafe"),
        ("{% set x = app.labels.update({'a': 1}) %}", 1, "unsafe"),
    ],
)
def test_runtime_errors_name_the_line(source: str, line: int, words: str) -> None:
    failure = templates.render({"title": source}, variables())
    assert isinstance(failure, Failure)
    assert (failure.field, failure.line) == ("title", line)
    assert words in failure.message


@pytest.mark.parametrize(
    "bomb",
    [
        "{{ 'x' * 10**9 }}",
        "{{ 2 ** (10 ** 9) }}",
        "{{ '%999999999s' % 1 }}",
        "{{ [1] * 100000000 }}",
        "{% for i in range(100000) %}{{ 'abcdefghij' }}{% endfor %}",
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    ],
)
def test_in_process_bombs_are_refused_quickly(bomb: str) -> None:
    started = time.monotonic()
    assert isinstance(templates.render({"body": bomb}, variables()), Failure)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("bomb", "why"),
    [
        # CPU: 10**10 iterations; only a deadline stops it.
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "longer than",
        ),
        # Memory in C, past the sandbox's operator checks: the worker's rlimit stops it.
        ("{{ '{:999999999}'.format(1) }}", "out of memory"),
        ("{{ 'x'.center(2000000000) }}", "out of memory"),
    ],
)
async def test_hostile_templates_finish_fast_and_the_next_render_works(bomb: str, why: str) -> None:
    renderer = TemplateRenderer(timeout=1.5)
    try:
        started = time.monotonic()
        failure = await renderer.render({"title": "t", "body": bomb}, variables())
        assert isinstance(failure, Failure) and failure.field == "body"
        assert why in failure.message
        assert time.monotonic() - started < 5.0
        # The event loop stayed free meanwhile (the render ran elsewhere) and the
        # worker (restarted when it was killed) serves the next message.
        out = await renderer.render({"title": "{{ app.name }}"}, variables())
        assert out == {"title": "web"}
    finally:
        await renderer.close()


async def test_the_event_loop_is_free_while_a_template_spins() -> None:
    renderer = TemplateRenderer(timeout=1.5)
    spin = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await renderer.render({"body": spin}, variables())
    finally:
        ticker.cancel()
        await renderer.close()
    assert ticks >= 15  # ~1.5 s of 50 ms ticks: nothing blocked the loop


async def test_check_through_the_worker_names_the_line() -> None:
    renderer = TemplateRenderer()
    try:
        assert await renderer.check({"title": "{{ app.name }}", "body": "ok"}) is None
        failure = await renderer.check({"title": "fine", "body": "x\n{{ app.name "})
        assert failure is not None and (failure.field, failure.line) == ("body", 2)
    finally:
        await renderer.close()


async def test_a_render_cancelled_midway_never_answers_the_next_one() -> None:
    renderer = TemplateRenderer(timeout=5.0)
    slow = "{% for i in range(100000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}{{ 1 }}"
    try:
        task = asyncio.create_task(renderer.render({"title": slow}, variables()))
        await asyncio.sleep(0.5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await renderer.render({"title": "{{ app.name }}"}, variables()) == {"title": "web"}
    finally:
        await renderer.close()


def readme_templates() -> list[tuple[str, str]]:
    """Every template field of a NotificationRule shown in the README, and every
    inline ``{{ ... }}`` example of its Notifications section."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    found: list[tuple[str, str]] = []
    for block in re.findall(r"```yaml\n(.*?)```", readme, re.S):
        for doc in yaml.safe_load_all(block):
            if isinstance(doc, dict) and doc.get("kind") == "NotificationRule":
                template = doc.get("spec", {}).get("template") or {}
                found += [(k, v) for k, v in template.items() if k in templates.FIELDS]
    section = readme.split("### Notifications", 1)[1].split("\n### ", 1)[0]
    found += [("body", span) for span in re.findall(r"`(\{\{[^`]*\}\})`", section)]
    return found


# A Helm chart app (no commit read), never synced, health only: nothing but the app.
CHART_APP: dict[str, Any] = {
    "metadata": {"name": "db", "namespace": "team-a", "uid": "c"},
    "spec": {"source": {"repoURL": "https://charts.example.com", "chart": "pg"}},
    "status": {"health": {"status": "Degraded"}},
}


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_readme_template_renders_with_and_without_a_commit(trigger: str) -> None:
    examples = readme_templates()
    assert any("commit.author.name" in source for _, source in examples)
    contexts = {
        "commit read": variables(trigger),
        "commit not in the clone": context.variables(APP, trigger, SHA, None, None),
        "chart app, no revision": context.variables(CHART_APP, trigger, None, None, None),
    }
    for what, ctx in contexts.items():
        for field, source in examples:
            out = templates.render({field: source}, ctx)
            assert isinstance(out, dict), (what, source, out)
        title, body = templates.DEFAULTS[trigger]
        out = templates.render({"title": title, "body": body}, ctx)
        assert isinstance(out, dict), (what, out)
        assert "Commit:" in out["body"] if what == "commit read" else "Commit:" not in out["body"]


def test_a_missing_commit_has_the_documented_shape_with_empty_fields() -> None:
    missing = context.variables(APP, "on-sync-running", SHA, None, None)["commit"]
    assert missing == {
        "sha": SHA,
        "message": "",
        "author": {"name": "", "email": ""},
        "date": "",
    }
    assert (
        context.variables(CHART_APP, "on-health-degraded", None, None, None)["commit"]["sha"] == ""
    )
    out = templates.render(
        {"body": "{{ short_revision }} by {{ commit.author.name or 'unknown' }}"},
        context.variables(APP, "on-sync-failed", SHA, None, None),
    )
    assert out == {"body": "01234567 by unknown"}
