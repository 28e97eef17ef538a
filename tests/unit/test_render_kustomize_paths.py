"""The Kustomize repository fence and the app-level overrides, on tiny trees."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from driftless.core.errors import RenderError
from driftless.core.models import KustomizeSource
from driftless.render.kustomize import apply_overrides, has_overrides, merge_images, parse_image
from driftless.render.kustomize_paths import (
    check_kustomization_tree,
    is_remote,
    lexically_inside,
    path_refs,
)


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))


def check(tmp_path: Path, files: dict[str, str], app: str = "repo/app") -> None:
    write_tree(tmp_path, files)
    check_kustomization_tree(tmp_path / "repo", tmp_path / app)


# -- accepted ------------------------------------------------------------------


def test_overlay_with_base_components_and_files_inside_is_accepted(tmp_path: Path) -> None:
    check(
        tmp_path,
        {
            "repo/base/kustomization.yaml": "resources: [deploy.yaml]\n",
            "repo/base/deploy.yaml": "",
            "repo/comp/kustomization.yaml": "kind: Component\nresources: [cm.yaml]\n",
            "repo/comp/cm.yaml": "",
            "repo/app/kustomization.yaml": """\
                resources:
                  - ../base
                components:
                  - ../comp
                patches:
                  - path: patch.yaml
                  - patch: |-
                      - op: add
                        path: /x
                        value: 1
                configMapGenerator:
                  - name: c
                    files: [key=conf/a.txt, conf/b.txt]
                    envs: [conf/vars.env]
                """,
            "repo/app/patch.yaml": "",
            "repo/app/conf/a.txt": "",
        },
    )


def test_missing_paths_are_left_to_kustomize(tmp_path: Path) -> None:
    check(tmp_path, {"repo/app/kustomization.yaml": "resources: [nothere.yaml, ../nodir]\n"})


def test_symlink_inside_the_repository_is_fine(tmp_path: Path) -> None:
    write_tree(tmp_path, {"repo/shared/kustomization.yaml": "resources: []\n"})
    (tmp_path / "repo/app").mkdir(parents=True)
    (tmp_path / "repo/app/linked").symlink_to("../shared")
    (tmp_path / "repo/app/kustomization.yaml").write_text("resources: [linked]\n")
    check_kustomization_tree(tmp_path / "repo", tmp_path / "repo/app")


def test_cycles_terminate(tmp_path: Path) -> None:
    check(
        tmp_path,
        {
            "repo/app/kustomization.yaml": "resources: [../b]\n",
            "repo/b/kustomization.yaml": "resources: [../app]\n",
        },
    )


# -- refused -------------------------------------------------------------------

ESCAPES = {
    "resource dir climbing out": (
        {"repo/app/kustomization.yaml": "resources:\n  - ../../outside\n"},
        "repo/app/kustomization.yaml:2: resources entry '../../outside' points outside",
    ),
    "base climbing out": (
        {"repo/app/kustomization.yaml": "bases: [../../x]\n"},
        "bases entry '../../x' points outside",
    ),
    "absolute path": (
        {"repo/app/kustomization.yaml": "resources: [/etc/passwd]\n"},
        "points outside the repository",
    ),
    "component climbing out": (
        {"repo/app/kustomization.yaml": "components: [../../c]\n"},
        "components entry",
    ),
    "patch file climbing out": (
        {"repo/app/kustomization.yaml": "patches:\n  - path: ../../p.yaml\n"},
        "patches[].path entry '../../p.yaml'",
    ),
    "patchesStrategicMerge": (
        {"repo/app/kustomization.yaml": "patchesStrategicMerge: [../../p.yaml]\n"},
        "patchesStrategicMerge entry",
    ),
    "patchesJson6902": (
        {"repo/app/kustomization.yaml": "patchesJson6902:\n  - path: ../../p.yaml\n"},
        "patchesJson6902[].path",
    ),
    "generator file with key": (
        {"repo/app/kustomization.yaml": "configMapGenerator:\n  - files: [k=../../secret]\n"},
        "configMapGenerator[].files entry '../../secret'",
    ),
    "secret generator env": (
        {"repo/app/kustomization.yaml": "secretGenerator:\n  - env: ../../x.env\n"},
        "secretGenerator[].env",
    ),
    "crds": ({"repo/app/kustomization.yaml": "crds: [../../crd.yaml]\n"}, "crds entry"),
    "configurations": (
        {"repo/app/kustomization.yaml": "configurations: [../../c.yaml]\n"},
        "configurations entry",
    ),
    "replacements": (
        {"repo/app/kustomization.yaml": "replacements:\n  - path: ../../r.yaml\n"},
        "replacements[].path",
    ),
    "openapi": (
        {"repo/app/kustomization.yaml": "openapi:\n  path: ../../schema.json\n"},
        "openapi.path",
    ),
    "transformer config": (
        {"repo/app/kustomization.yaml": "transformers: [../../t.yaml]\n"},
        "transformers entry",
    ),
    "escape two levels down the graph": (
        {
            "repo/app/kustomization.yaml": "resources: [../mid]\n",
            "repo/mid/kustomization.yaml": "resources: [../../../etc]\n",
        },
        "repo/mid/kustomization.yaml:1: resources entry '../../../etc' points outside",
    ),
    "https remote base": (
        {"repo/app/kustomization.yaml": "resources:\n  - https://github.com/org/repo//base\n"},
        "is a remote resource",
    ),
    "github shorthand": (
        {"repo/app/kustomization.yaml": "resources: [github.com/org/repo/base?ref=v1]\n"},
        "is a remote resource",
    ),
    "git ssh": (
        {"repo/app/kustomization.yaml": "resources: ['git@github.com:org/repo.git']\n"},
        "is a remote resource",
    ),
    "host path without scheme": (
        {"repo/app/kustomization.yaml": "resources: [example.com/org/repo]\n"},
        "looks like a remote resource",
    ),
    "helm inflation": (
        {"repo/app/kustomization.yaml": "helmCharts:\n  - name: x\n"},
        "helmCharts: Helm chart inflation inside Kustomize is off",
    ),
    "not a mapping": (
        {"repo/app/kustomization.yaml": "- a\n- b\n"},
        "repo/app/kustomization.yaml:1: kustomization is not a YAML mapping",
    ),
    "invalid yaml": (
        {"repo/app/kustomization.yaml": "resources: [a\n"},
        "repo/app/kustomization.yaml:2: invalid YAML",
    ),
}


@pytest.mark.parametrize("files,message", ESCAPES.values(), ids=ESCAPES.keys())
def test_escapes_and_remote_resources_are_refused(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    (tmp_path / "outside").mkdir()
    with pytest.raises(RenderError) as caught:
        check(tmp_path, files)
    # file paths are relative to the repository root, not the temp dir
    assert message.replace("repo/", "") in str(caught.value)
    assert str(tmp_path) not in str(caught.value)


def test_symlinked_directory_leaving_the_repository_is_refused(tmp_path: Path) -> None:
    write_tree(tmp_path, {"secrets/kustomization.yaml": "resources: []\n"})
    (tmp_path / "repo/app").mkdir(parents=True)
    (tmp_path / "repo/app/evil").symlink_to(tmp_path / "secrets")
    (tmp_path / "repo/app/kustomization.yaml").write_text("resources: [evil]\n")
    with pytest.raises(RenderError, match=r"resolves .*through a symlink.* outside"):
        check_kustomization_tree(tmp_path / "repo", tmp_path / "repo/app")


def test_symlinked_file_leaving_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.env").write_text("A=1\n")
    (tmp_path / "repo/app").mkdir(parents=True)
    (tmp_path / "repo/app/vars.env").symlink_to(tmp_path / "secret.env")
    (tmp_path / "repo/app/kustomization.yaml").write_text(
        "configMapGenerator:\n  - name: c\n    envs: [vars.env]\n"
    )
    with pytest.raises(RenderError, match=r"envs entry 'vars\.env' resolves"):
        check_kustomization_tree(tmp_path / "repo", tmp_path / "repo/app")


def test_symlinked_kustomization_file_leaving_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text("resources: []\n")
    (tmp_path / "repo/app").mkdir(parents=True)
    (tmp_path / "repo/app/kustomization.yaml").symlink_to(tmp_path / "k.yaml")
    with pytest.raises(RenderError, match=r"app/kustomization\.yaml: kustomization is a symlink"):
        check_kustomization_tree(tmp_path / "repo", tmp_path / "repo/app")


# -- pure helpers ----------------------------------------------------------------


def test_path_refs_skips_inline_patches_and_splits_generator_keys() -> None:
    refs = path_refs(
        {
            "patchesStrategicMerge": ["a.yaml", "apiVersion: v1\nkind: X\n"],
            "configMapGenerator": [{"files": ["k=f.txt"], "envs": ["e.env"], "env": "one.env"}],
        }
    )
    assert [(r.field, r.value) for r in refs] == [
        ("patchesStrategicMerge", "a.yaml"),
        ("configMapGenerator[].files", "f.txt"),
        ("configMapGenerator[].envs", "e.env"),
        ("configMapGenerator[].env", "one.env"),
    ]


@pytest.mark.parametrize(
    "value,remote",
    [
        ("https://github.com/a/b", True),
        ("git::https://x/y", True),
        ("ssh://git@x/y", True),
        ("github.com/a/b?ref=v1", True),
        ("../base", False),
        ("deploy.yaml", False),
    ],
)
def test_is_remote(value: str, remote: bool) -> None:
    assert is_remote(value) is remote


@pytest.mark.parametrize(
    "kdir,value,expected",
    [
        ("app", "../base", "base"),
        ("a/b", "../../c", "c"),
        ("a/b", "../../../c", None),
        ("", "..", None),
        ("", "./x/../y", "y"),
        ("app", "/abs", None),
    ],
)
def test_lexically_inside(kdir: str, value: str, expected: str | None) -> None:
    assert lexically_inside(kdir, value) == expected


# -- overrides (the semantics of `kustomize edit set/add`) -------------------------


@pytest.mark.parametrize(
    "spec,entry",
    [
        ("nginx:1.25", {"name": "nginx", "newTag": "1.25"}),
        ("nginx=ghcr.io/x/nginx:2", {"name": "nginx", "newName": "ghcr.io/x/nginx", "newTag": "2"}),
        ("nginx=my/nginx", {"name": "nginx", "newName": "my/nginx"}),
        ("nginx@sha256:abc", {"name": "nginx", "digest": "sha256:abc"}),
        ("localhost:5000/app:1.0", {"name": "localhost:5000/app", "newTag": "1.0"}),
        ("localhost:5000/app", {"name": "localhost:5000/app"}),
    ],
)
def test_parse_image(spec: str, entry: dict[str, str]) -> None:
    assert parse_image(spec) == entry


def test_images_merge_by_name() -> None:
    existing = [{"name": "a", "newTag": "1"}, {"name": "b", "newTag": "1"}]
    assert merge_images(existing, ["b:2", "c:3"]) == [
        {"name": "a", "newTag": "1"},
        {"name": "b", "newTag": "2"},
        {"name": "c", "newTag": "3"},
    ]


def test_overrides_replace_scalars_and_merge_collections() -> None:
    original = {
        "namePrefix": "dev-",
        "namespace": "a",
        "commonLabels": {"team": "x", "tier": "web"},
        "components": ["../c1"],
    }
    options = KustomizeSource.model_validate(
        {
            "namePrefix": "p-",
            "nameSuffix": "-s",
            "namespace": "b",
            "commonLabels": {"team": "y"},
            "commonAnnotations": {"note": "n"},
            "components": ["../c1", "../c2"],
            "images": ["web:2"],
        }
    )
    assert apply_overrides(original, options) == {
        "namePrefix": "p-",
        "nameSuffix": "-s",
        "namespace": "b",
        "commonLabels": {"team": "y", "tier": "web"},
        "commonAnnotations": {"note": "n"},
        "components": ["../c1", "../c2"],
        "images": [{"name": "web", "newTag": "2"}],
    }
    assert original["namePrefix"] == "dev-"  # input untouched


def test_has_overrides() -> None:
    assert not has_overrides(KustomizeSource())
    assert has_overrides(KustomizeSource.model_validate({"namePrefix": ""}))
