"""Fuzz: YAML and JSON streams through the directory renderer (``driftless.render.render``).

Property: a render returns manifests or raises a ``DriftlessError`` with a
message — never another exception, never a crash of the process, never a
hang. Valid objects written by PyYAML come back unchanged. Each case runs in
a crash-isolated worker (``tests.fixtures.render_worker``). The number of
cases is bounded in ``make test`` (see ``tests.fixtures.fuzz_settings``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fixtures import fuzz_strategies as fs
from tests.fixtures.fuzz_settings import fuzz_settings
from tests.fixtures.render_worker import JSON, RenderWorker, describe, violation

SOURCE = {"repoURL": "https://git.example.com/fuzz.git", "path": "app"}
# The payloads of issue 8, always tried first.
BRACKETS_100K = {"app/deep.yaml": fs.text_file("x: " + "[" * 50_000 + "]" * 50_000 + "\n")}
ALIAS_BOMB = {
    "app/bomb.yaml": fs.text_file(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n"
        + "".join(
            f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" if i else '  l0: &l0 ["lol"]\n'
            for i in range(10)
        )
    )
}
# One file per tag: a render stops at its first bad file, and every tag must be tried.
EVERY_TAG = [
    {
        "app/tag.yaml": fs.text_file(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: t}}\ndata:\n  k: {tag}\n"
        )
    }
    for tag in fs.TAGGED
]
DEEP_JSON = {"app/deep.json": fs.text_file("[" * 100_000 + "]" * 100_000)}


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RenderWorker]:
    # No external tool runs here: anything slower than this is a hang.
    instance = RenderWorker(tmp_path_factory.mktemp("fuzz-directory"), deadline=20)
    yield instance
    instance.stop()


def check(worker: RenderWorker, files: fs.Files, source: JSON) -> JSON:
    reply = worker.render({"files": files, "source": source})
    problem = violation(reply)
    assert problem is None, f"{problem}\n{describe(files, source)}"
    return reply


@fuzz_settings(bounded=150)
@given(case=fs.manifest_trees())
@example(case=(BRACKETS_100K, SOURCE))
@example(case=(ALIAS_BOMB, SOURCE))
@example(case=(DEEP_JSON, SOURCE))
def test_directory_render_returns_manifests_or_a_driftless_error(
    worker: RenderWorker, case: tuple[fs.Files, JSON]
) -> None:
    files, source = case
    check(worker, files, source)


@fuzz_settings(bounded=30)
@given(objects=st.lists(fs.valid_objects(odd=False), min_size=1, max_size=4))
def test_valid_objects_render_unchanged(worker: RenderWorker, objects: list[JSON]) -> None:
    unique = list({o["metadata"]["name"]: o for o in objects}.values())
    text = "---\n".join(fs.dump(o) for o in unique)
    files = {"app/objects.yaml": fs.text_file(text)}
    reply = worker.render({"files": files, "source": SOURCE, "want_objects": True})
    assert reply["outcome"] == "ok", f"{reply}\n{describe(files, SOURCE)}"
    assert reply["objects"] == unique


@pytest.mark.parametrize(("name", "target"), fs.HOSTILE_SYMLINKS)
def test_hostile_symlinks_render_or_fail_cleanly(
    worker: RenderWorker, name: str, target: str
) -> None:
    files = {
        "app/cm.yaml": fs.text_file(fs.dump(_configmap("a"))),
        f"app/{name}": fs.symlink(target),
    }
    check(worker, files, {**SOURCE, "directory": {"recurse": True}})


@pytest.mark.parametrize("tag", fs.TAGGED)
def test_every_yaml_tag_renders_or_fails_cleanly(worker: RenderWorker, tag: str) -> None:
    check(worker, EVERY_TAG[fs.TAGGED.index(tag)], SOURCE)


def test_dead_worker_is_restarted(tmp_path: Path) -> None:
    """The harness itself: after its worker died, the next case still runs."""
    worker = RenderWorker(tmp_path, deadline=60)
    try:
        files = {"app/cm.yaml": fs.text_file(fs.dump(_configmap("a")))}
        assert check(worker, files, SOURCE)["count"] == 1
        proc = worker._ensure()
        proc.kill()
        proc.wait()
        assert violation(worker.render({"files": files, "source": SOURCE})) is None
    finally:
        worker.stop()


def _configmap(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
