"""The plain-directory renderer, by behaviour, with tiny trees of YAML files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from driftless.core.errors import RenderError
from driftless.render.directory import is_selected, render_directory, split_patterns


def cm(name: str, namespace: str | None = None) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{ns}\n"


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))


def render(
    tmp_path: Path, files: dict[str, str], app: str = "app", **options: object
) -> list[tuple[str, str | None, int | None]]:
    """Render ``app`` of a tree and return (name, file, line) of each manifest."""
    write_tree(tmp_path, files)
    manifests = render_directory(tmp_path, tmp_path / app, **options)  # type: ignore[arg-type]
    return [(m.obj["metadata"]["name"], m.source_file, m.line) for m in manifests]


# -- what is read, in which order ---------------------------------------------

OK_CASES = {
    "single document": (
        {"app/a.yaml": cm("a")},
        {},
        [("a", "app/a.yaml", 1)],
    ),
    "multi-document with empty and null documents": (
        {"app/a.yaml": "---\n" + cm("a") + "---\n---\nnull\n---\n# only a comment\n" + cm("b")},
        {},
        [("a", "app/a.yaml", 2), ("b", "app/a.yaml", 11)],
    ),
    "line is where the content starts, after comments": (
        {"app/a.yml": "# header\n\n" + cm("a")},
        {},
        [("a", "app/a.yml", 3)],
    ),
    "List is flattened, each item at its own line": (
        {
            "app/list.yaml": """\
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  kind: ConfigMap
                  metadata: {name: one}
                - apiVersion: v1
                  kind: ConfigMap
                  metadata: {name: two}
                """
        },
        {},
        [("one", "app/list.yaml", 4), ("two", "app/list.yaml", 7)],
    ),
    "JSON file": (
        {"app/a.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}'},
        {},
        [("j", "app/a.json", 1)],
    ),
    "sorted, other suffixes and hidden files ignored, no recursion by default": (
        {
            "app/b.yaml": cm("b"),
            "app/a.yml": cm("a"),
            "app/README.md": "# not a manifest",
            "app/.hidden.yaml": cm("hidden"),
            "app/sub/c.yaml": cm("c"),
        },
        {},
        [("a", "app/a.yml", 1), ("b", "app/b.yaml", 1)],
    ),
    "recursion: files of a directory before its subdirectories, hidden dirs skipped": (
        {
            "app/z.yaml": cm("z"),
            "app/sub/c.yaml": cm("c"),
            "app/sub/deeper/d.yaml": cm("d"),
            "app/.git-like/x.yaml": cm("x"),
        },
        {"recurse": True},
        [("z", "app/z.yaml", 1), ("c", "app/sub/c.yaml", 1), ("d", "app/sub/deeper/d.yaml", 1)],
    ),
    "include one pattern": (
        {"app/a.yaml": cm("a"), "app/b.json": cm("b")},
        {"include": "*.yaml"},
        [("a", "app/a.yaml", 1)],
    ),
    "include with braces, matched against the path relative to the app dir": (
        {"app/a.yaml": cm("a"), "app/b.yaml": cm("b"), "app/env/c.yaml": cm("c")},
        {"recurse": True, "include": "{a.yaml,env/*}"},
        [("a", "app/a.yaml", 1), ("c", "app/env/c.yaml", 1)],
    ),
    "exclude wins over include, comma separated": (
        {"app/a.yaml": cm("a"), "app/b.yaml": cm("b"), "app/c.yaml": cm("c")},
        {"include": "*.yaml", "exclude": "b.yaml, c.*"},
        [("a", "app/a.yaml", 1)],
    ),
    "app dir is the repository root": (
        {"a.yaml": cm("a")},
        {"app": "."},
        [("a", "a.yaml", 1)],
    ),
    "same name in different namespaces or kinds is no duplicate": (
        {
            "app/a.yaml": cm("a", "one") + "---\n" + cm("a", "two"),
            "app/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: one\n",
        },
        {},
        [("a", "app/a.yaml", 1), ("a", "app/a.yaml", 7), ("a", "app/s.yaml", 1)],
    ),
}


@pytest.mark.parametrize(("files", "options", "expected"), OK_CASES.values(), ids=OK_CASES.keys())
def test_renders(
    tmp_path: Path,
    files: dict[str, str],
    options: dict[str, object],
    expected: list[tuple[str, str, int]],
) -> None:
    opts = dict(options)
    app = str(opts.pop("app", "app"))
    assert render(tmp_path, files, app, **opts) == expected


def test_values_are_read_like_kubernetes_reads_them(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "app/a.yaml": """\
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: a
                  annotations:
                    released: 2024-01-02
                data:
                  flag: "true"
                """
        },
    )
    (manifest,) = render_directory(tmp_path, tmp_path / "app")
    assert manifest.obj["metadata"]["annotations"]["released"] == "2024-01-02"
    assert manifest.obj["data"]["flag"] == "true"


# -- errors: each names the file and line a person has to fix -----------------

ERROR_CASES = {
    "invalid YAML": (
        {"app/bad.yaml": cm("a") + "data:\n  key: [unclosed\n"},
        "app/bad.yaml:7: invalid YAML",
    ),
    "invalid YAML in a later document": (
        {"app/bad.yaml": cm("a") + "---\napiVersion: v1\nkind: : :\n"},
        "app/bad.yaml:7: invalid YAML",
    ),
    "tab indentation": (
        {"app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n"},
        "app/bad.yaml:4: invalid YAML",
    ),
    "duplicate key in a mapping": (
        {"app/dup.yaml": cm("a") + "data:\n  x: '1'\ndata:\n  y: '2'\n"},
        "app/dup.yaml:7: invalid YAML: found duplicate key 'data' (first defined on line 5)",
    ),
    "invalid JSON": (
        {"app/bad.json": '{\n  "apiVersion": "v1",\n  "kind": }\n'},
        "app/bad.json:3: invalid JSON",
    ),
    "document is not a mapping": (
        {"app/list.yaml": cm("a") + "---\n- just\n- a list\n"},
        "app/list.yaml:6: document is not a Kubernetes object (a mapping) but a list",
    ),
    "scalar document": (
        {"app/s.yaml": "hello\n"},
        "app/s.yaml:1: document is not a Kubernetes object (a mapping) but a string",
    ),
    "missing apiVersion": (
        {"app/a.yaml": "kind: ConfigMap\nmetadata:\n  name: a\n"},
        "app/a.yaml:1: document has no apiVersion",
    ),
    "missing kind": (
        {"app/a.yaml": cm("ok") + "---\napiVersion: v1\nmetadata:\n  name: a\n"},
        "app/a.yaml:6: document (v1) has no kind",
    ),
    "missing metadata.name": (
        {"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {}\n"},
        "app/a.yaml:1: ConfigMap has no metadata.name",
    ),
    "generateName only": (
        {"app/a.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: job-\n"},
        "app/a.yaml:1: Job has no metadata.name (generateName 'job-' is only supported on hooks",
    ),
    "List item without kind": (
        {
            "app/l.yaml": """\
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  metadata: {name: x}
                """
        },
        "app/l.yaml:4: List item 0 (v1) has no kind",
    ),
    "duplicate object across files": (
        {"app/a.yaml": cm("same", "ns"), "app/b.yaml": "# copy\n" + cm("same", "ns")},
        "app/b.yaml:2: duplicate object ConfigMap ns/same: also defined at app/a.yaml:1",
    ),
    "duplicate object in one file": (
        {"app/a.yaml": cm("same") + "---\n" + cm("same")},
        "app/a.yaml:6: duplicate object ConfigMap same: also defined at app/a.yaml:1",
    ),
    "not UTF-8": (
        {"app/a.yaml": ""},  # replaced by bytes below
        "app/a.yaml: not UTF-8 text",
    ),
}


@pytest.mark.parametrize(("files", "message"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_render_errors_name_file_and_line(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    write_tree(tmp_path, files)
    if message.endswith("not UTF-8 text"):
        (tmp_path / "app/a.yaml").write_bytes(b"apiVersion: v1\nkind: \xff\n")
    with pytest.raises(RenderError) as caught:
        render_directory(tmp_path, tmp_path / "app", recurse=True)
    assert str(caught.value).startswith(message), str(caught.value)
    assert caught.value.file is not None
    assert message.startswith(caught.value.file)


def test_symlinked_file_leaving_the_repo_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(cm("secret"))
    repo = tmp_path / "repo"
    write_tree(repo, {"app/a.yaml": cm("a")})
    (repo / "app/link.yaml").symlink_to(outside)
    with pytest.raises(RenderError, match=r"^app/link.yaml: symlink points outside the repository"):
        render_directory(repo, repo / "app")


def test_symlinked_dir_leaving_the_repo_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    write_tree(outside, {"x.yaml": cm("x")})
    repo = tmp_path / "repo"
    write_tree(repo, {"app/a.yaml": cm("a")})
    (repo / "app/sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RenderError, match=r"^app/sub: symlink points outside the repository"):
        render_directory(repo, repo / "app", recurse=True)


def test_symlinks_inside_the_repo_are_followed_once(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/a.yaml": cm("a"), "shared/s.yaml": cm("s")})
    (tmp_path / "app/shared").symlink_to(tmp_path / "shared", target_is_directory=True)
    (tmp_path / "app/loop").symlink_to(tmp_path / "app", target_is_directory=True)
    manifests = render_directory(tmp_path, tmp_path / "app", recurse=True)
    assert [(m.obj["metadata"]["name"], m.source_file) for m in manifests] == [
        ("a", "app/a.yaml"),
        ("s", "app/shared/s.yaml"),
    ]


def test_nothing_is_returned_from_a_broken_render(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/a.yaml": cm("a"), "app/b.yaml": "kind: [\n"})
    with pytest.raises(RenderError):
        render_directory(tmp_path, tmp_path / "app")


def test_empty_directory_renders_nothing(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    assert render_directory(tmp_path, tmp_path / "app") == []


@pytest.mark.parametrize(
    ("spec", "patterns"),
    [
        (None, []),
        ("", []),
        ("*.yaml", ["*.yaml"]),
        ("a.yaml, b/*", ["a.yaml", "b/*"]),
        ("{a.yaml,b/*}", ["a.yaml", "b/*"]),
    ],
)
def test_split_patterns(spec: str | None, patterns: list[str]) -> None:
    assert split_patterns(spec) == patterns


@pytest.mark.parametrize(
    ("path", "include", "exclude", "selected"),
    [
        ("a.yaml", [], [], True),
        ("sub/a.yaml", ["*.yaml"], [], True),  # like Argo CD, * crosses directories
        ("sub/a.yaml", ["a.yaml"], [], False),
        ("a.yaml", ["*.yaml"], ["a.*"], False),
        ("a.json", ["*.yaml"], [], False),
    ],
)
def test_is_selected(path: str, include: list[str], exclude: list[str], selected: bool) -> None:
    assert is_selected(path, include, exclude) is selected
