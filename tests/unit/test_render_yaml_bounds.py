"""Hostile YAML and JSON: the parser refuses with a message instead of crashing or ballooning.

Each payload is what a repository author (or a chart repository) can write;
each refusal must name the file and the limit, quickly, and never quote a
value of the document.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from driftless.core.errors import RenderError, SourceError
from driftless.render import chart_repo, yaml_docs
from driftless.render.directory import render_directory

CM_HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: about 600 bytes that expand to 9**levels strings."""
    lines = ['  l0: &l0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return CM_HEAD + "data:\n" + "\n".join(lines) + "\n"


def render_file(tmp_path: Path, name: str, text: str) -> RenderError:
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    (app / name).write_text(text)
    started = time.monotonic()
    with pytest.raises(RenderError) as caught:
        render_directory(tmp_path, app)
    assert time.monotonic() - started < 10, "the refusal must be quick"
    return caught.value


HOSTILE = {
    "100 KB of nested brackets": ("x: " + "[" * 100_000 + "]" * 100_000, "nesting deeper than"),
    "100 KB of unclosed brackets": ("[" * 120_000, "nesting deeper than"),
    "nested flow mappings": ("{a: " * 60_000 + "1" + "}" * 60_000, "nesting deeper than"),
    "deep block nesting": (
        "".join(f"{'  ' * i}k:\n" for i in range(400)) + "  " * 400 + "v\n",
        "nesting deeper than",
    ),
    "billion laughs": (billion_laughs(), "expands to more than"),
    "recursive alias": ("a: &a [*a]\n", "recursive alias"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_yaml_is_refused_by_its_limit(tmp_path: Path, name: str) -> None:
    text, expected = HOSTILE[name]
    error = render_file(tmp_path, "evil.yaml", text)
    assert str(error).startswith("app/evil.yaml:")
    assert expected in str(error)


def test_alias_bomb_size_is_checked_before_anything_is_expanded(tmp_path: Path) -> None:
    # 12 levels would be 282 billion nodes: refused as fast as 9.
    error = render_file(tmp_path, "bomb.yaml", billion_laughs(12))
    assert "expands to more than" in str(error)


def test_many_aliases_are_refused(tmp_path: Path) -> None:
    text = CM_HEAD + "base: &b 1\nlist: [" + ", ".join(["*b"] * 20_000) + "]\n"
    assert "more than 10000 aliases" in str(render_file(tmp_path, "a.yaml", text))


def test_json_nesting_is_refused(tmp_path: Path) -> None:
    error = render_file(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000)
    assert "nesting deeper than" in str(error)
    error = render_file(tmp_path, "deep.json", "[" * 300 + "]" * 300)
    assert "nesting deeper than 200 levels" in str(error)


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    with (app / "huge.yaml").open("wb") as handle:  # sparse: costs no disk
        handle.truncate(yaml_docs.MANIFEST_LIMITS.max_bytes + 1)
    with pytest.raises(RenderError, match=r"app/huge.yaml: file larger than the limit of 64 MiB"):
        render_directory(tmp_path, app)


SECRET = "hunter2-very-secret"
VALUE_ECHOES = {
    "a Secret value read as a tag": f"kind: Secret\nstringData:\n  password: !{SECRET}\n",
    "a value that is not its tag's type": f"a: !!int {SECRET}\n",
    "binary that is not base64": f"a: !!binary {SECRET}*\n",
    "an unknown escape in a quoted value": f'a: "{SECRET}\\q"\n',
    "an undefined alias": f"a: *{SECRET}\n",
    "a tab where a value starts": f"a:\n\t{SECRET}\n",
    "an unknown directive": f"%{SECRET} 1\n---\na: 1\n",
}


@pytest.mark.parametrize("name", VALUE_ECHOES)
def test_parse_errors_never_quote_values(tmp_path: Path, name: str) -> None:
    error = render_file(tmp_path, "s.yaml", VALUE_ECHOES[name])
    assert "invalid YAML" in str(error)
    assert SECRET not in str(error)


def test_the_tag_error_says_what_to_do() -> None:
    with pytest.raises(RenderError, match=r"s.yaml:2: invalid YAML: unknown tag \(quote"):
        yaml_docs.parse_yaml_stream("a: 1\npassword: !abc\n", "s.yaml")


@pytest.mark.parametrize("tag", ["!!set {a, b}", "!!omap [a: 1]", "!!binary aGVsbG8="])
def test_non_json_types_are_refused(tag: str) -> None:
    with pytest.raises(RenderError, match="unknown tag"):
        yaml_docs.parse_yaml_stream(f"a: {tag}\n", "t.yaml")


def test_ordinary_anchors_merge_keys_and_depth_still_work() -> None:
    text = (
        "base: &base {a: 1, b: [1, 2]}\n"
        "one:\n  <<: *base\n  c: 3\n"
        "two: *base\n"
        "deep: " + "[" * 150 + "1" + "]" * 150 + "\n"
    )
    (doc,) = yaml_docs.parse_yaml_stream(text, "ok.yaml")
    assert doc.data["one"] == {"a": 1, "b": [1, 2], "c": 3}
    assert doc.data["two"] == {"a": 1, "b": [1, 2]}


def test_limits_are_per_parse() -> None:
    tight = yaml_docs.Limits(max_nodes=10)
    with pytest.raises(RenderError, match="more than 10 nodes"):
        yaml_docs.parse_yaml_stream("a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n", "t.yaml", limits=tight)


# -- chart repository index.yaml ---------------------------------------------

INDEX_HOSTILE = {
    "nested brackets": "entries: " + "[" * 100_000 + "]" * 100_000,
    "billion laughs": "entries:\n" + billion_laughs().split("data:\n", 1)[1],
    "recursive alias": "entries: &e {x: *e}\n",
    "a tag": f"entries: !{SECRET}\n",
}


@pytest.mark.parametrize("name", INDEX_HOSTILE)
def test_hostile_chart_index_is_a_source_error(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        chart_repo.parse_index(INDEX_HOSTILE[name].encode(), "index of chart repository X")
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith("index of chart repository X: ")
    assert SECRET not in message


def test_a_normal_chart_index_parses() -> None:
    index = chart_repo.parse_index(
        b"apiVersion: v1\nentries:\n  demo:\n  - version: 1.0.0\n    urls: [demo-1.0.0.tgz]\n",
        "index",
    )
    assert index["entries"]["demo"][0]["version"] == "1.0.0"
