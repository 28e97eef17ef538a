"""The Jsonnet renderer on tiny trees: outputs, variables, imports fenced, errors at file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from driftless.core.errors import RenderError
from driftless.core.models import JsonnetSource
from driftless.render.jsonnet import error_from_text, render_jsonnet


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))


def render(
    tmp_path: Path, files: dict[str, str], options: dict[str, Any] | None = None, **kw: Any
) -> list[tuple[str, str | None]]:
    write_tree(tmp_path / "repo", files)
    opts = JsonnetSource.model_validate(options or {})
    result = render_jsonnet(tmp_path / "repo", tmp_path / "repo/app", opts, **kw)
    return [(m.obj["metadata"]["name"], m.source_file) for m in result]


def cm(name: str) -> str:
    return f"{{apiVersion: 'v1', kind: 'ConfigMap', metadata: {{name: '{name}'}}}}"


def test_object_array_and_list(tmp_path: Path) -> None:
    assert render(
        tmp_path,
        {
            "app/a.jsonnet": cm("one"),
            "app/b.jsonnet": f"[{cm('two')}, {cm('three')}]",
            "app/c.jsonnet": f"{{apiVersion: 'v1', kind: 'List', items: [{cm('four')}]}}",
            "app/lib.libsonnet": cm("never"),
            "app/sub/d.jsonnet": cm("not-recursed"),
        },
    ) == [
        ("one", "app/a.jsonnet"),
        ("two", "app/b.jsonnet"),
        ("three", "app/b.jsonnet"),
        ("four", "app/c.jsonnet"),
    ]


def test_recurse_and_globs(tmp_path: Path) -> None:
    files = {"app/a.jsonnet": cm("a"), "app/sub/b.jsonnet": cm("b"), "app/sub/x.jsonnet": cm("x")}
    assert render(tmp_path, files, recurse=True, exclude="sub/x*") == [
        ("a", "app/a.jsonnet"),
        ("b", "app/sub/b.jsonnet"),
    ]


def test_tlas_ext_vars_and_libs(tmp_path: Path) -> None:
    files = {
        "lib/k.libsonnet": "{ cm(n):: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: n}} }",
        "app/main.jsonnet": """\
            local k = import 'k.libsonnet';
            function(prefix, count)
              [k.cm(prefix + std.extVar('env') + i) for i in std.range(1, count)]
            """,
    }
    options = {
        "tlas": [{"name": "prefix", "value": "p-"}, {"name": "count", "value": "2", "code": True}],
        "extVars": [{"name": "env", "value": "dev"}],
        "libs": ["lib"],
    }
    names = [name for name, _ in render(tmp_path, files, options)]
    assert names == ["p-dev1", "p-dev2"]


def test_ext_code(tmp_path: Path) -> None:
    options = {"extVars": [{"name": "n", "value": "'x' + 'y'", "code": True}]}
    files = {
        "app/a.jsonnet": "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: std.extVar('n')}}"
    }
    assert render(tmp_path, files, options) == [("xy", "app/a.jsonnet")]


def test_import_outside_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.libsonnet").write_text("{}")
    with pytest.raises(RenderError) as caught:
        render(tmp_path, {"app/a.jsonnet": "import '../../secret.libsonnet'"})
    message = str(caught.value)
    assert message.startswith("app/a.jsonnet:1: ")
    assert "outside the repository" in message
    assert str(tmp_path) not in message


def test_importstr_through_symlink_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text("root")
    write_tree(tmp_path / "repo", {"app/a.jsonnet": "{x: importstr 'link'}"})
    (tmp_path / "repo/app/link").symlink_to(tmp_path / "passwd")
    with pytest.raises(RenderError, match="outside the repository"):
        render_jsonnet(tmp_path / "repo", tmp_path / "repo/app", None)


def test_absolute_import_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="absolute import"):
        render(tmp_path, {"app/a.jsonnet": "import '/etc/hostname'"})


def test_library_outside_the_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"library path '\.\./x' is outside"):
        render(tmp_path, {"app/a.jsonnet": "{}"}, {"libs": ["../x"]})


def test_missing_library_path(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="library path 'nope' not found"):
        render(tmp_path, {"app/a.jsonnet": "{}"}, {"libs": ["nope"]})


ERRORS = {
    "syntax error": (
        {"app/a.jsonnet": "{\n  a: 1,,\n}"},
        "app/a.jsonnet:2: jsonnet STATIC ERROR: unexpected",
    ),
    "runtime error in the app": (
        {"app/a.jsonnet": "local x = 1;\n{\n  a: error 'boom'\n}"},
        "app/a.jsonnet:3: jsonnet RUNTIME ERROR: boom",
    ),
    "error inside a library names the library": (
        {
            "app/lib.libsonnet": "{\n  f(x):: error 'bad ' + x\n}",
            "app/a.jsonnet": "(import 'lib.libsonnet').f('y')",
        },
        "app/lib.libsonnet:2: jsonnet RUNTIME ERROR: bad y",
    ),
    "multi-line location": (
        {"app/a.jsonnet": "{\n a: (\n1 +\n {})}"},
        "app/a.jsonnet:3: jsonnet RUNTIME ERROR: binary operator +",
    ),
    "undefined ext var": (
        {"app/a.jsonnet": "std.extVar('nope')"},
        "app/a.jsonnet:1: jsonnet RUNTIME ERROR: undefined external variable: nope",
    ),
    "missing import": (
        {"app/a.jsonnet": "import 'nothere.libsonnet'"},
        "app/a.jsonnet:1: jsonnet RUNTIME ERROR: couldn't open import",
    ),
    "not a kubernetes object": ({"app/a.jsonnet": "[1]"}, "app/a.jsonnet: document is not"),
    "object without kind": (
        {"app/a.jsonnet": "{apiVersion: 'v1', metadata: {name: 'x'}}"},
        "app/a.jsonnet: document (v1) has no kind",
    ),
}


@pytest.mark.parametrize("files,message", ERRORS.values(), ids=ERRORS.keys())
def test_errors_name_file_and_line(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(tmp_path, files)
    assert str(caught.value).startswith(message)
    assert str(tmp_path) not in str(caught.value)


def test_duplicates_across_files(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="duplicate object ConfigMap x"):
        render(tmp_path, {"app/a.jsonnet": cm("x"), "app/b.jsonnet": cm("x")})


def test_error_from_text_without_location() -> None:
    error = error_from_text("RUNTIME ERROR: max stack frames exceeded.\n", Path("/r"), "a.jsonnet")
    assert (error.file, error.line) == ("a.jsonnet", None)
