"""Subtree keys: in a monorepo a commit re-renders only the folders it changed, and never
when a folder's content could come from outside it (symlinks, submodules, other renderers)."""

from __future__ import annotations

from pathlib import Path

from driftless.core.models import Application
from driftless.pipeline.renderers import GitRenderer
from driftless.render import KubeTarget, RenderCache, RenderTools
from driftless.sources.git import GitCache
from driftless.sources.subtrees import SubtreeIndex
from tests.fixtures.git import MakeGitRepo

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{value: '{value}'}}\n"
KUBE = KubeTarget("v1.36.0")
TREE_A = "a" * 40
TREE_B = "b" * 40


def listing(*entries: tuple[str, str, str, str]) -> bytes:
    return b"".join(f"{m} {k} {o}\t{p}\0".encode() for m, k, o, p in entries)


def test_a_folder_of_plain_files_is_named_by_its_tree_id() -> None:
    index = SubtreeIndex.parse(
        listing(
            ("040000", "tree", TREE_A, "apps"),
            ("040000", "tree", TREE_B, "apps/a"),
            ("100644", "blob", "c" * 40, "apps/a/cm.yaml"),
        )
    )
    assert index.tree_of("apps/a") == TREE_B
    assert index.tree_of("apps") == TREE_A
    assert index.tree_of("apps/missing") is None
    assert index.tree_of(".") is None and index.tree_of("") is None


def test_a_symlink_or_submodule_beneath_disqualifies_every_folder_above_it() -> None:
    index = SubtreeIndex.parse(
        listing(
            ("040000", "tree", TREE_A, "apps"),
            ("040000", "tree", TREE_B, "apps/a"),
            ("040000", "tree", "d" * 40, "apps/a/sub"),
            ("120000", "blob", "e" * 40, "apps/a/sub/link.yaml"),
            ("040000", "tree", "f" * 40, "apps/b"),
            ("160000", "commit", "1" * 40, "apps/b/vendored"),
            ("040000", "tree", "2" * 40, "apps/c"),
        )
    )
    assert index.tree_of("apps/a/sub") is None
    assert index.tree_of("apps/a") is None
    assert index.tree_of("apps/b") is None
    assert index.tree_of("apps") is None
    assert index.tree_of("apps/c") == "2" * 40


def test_garbage_listing_names_nothing() -> None:
    index = SubtreeIndex.parse(b"not a listing\0\0040000 tree\0")
    assert index.trees == {}


def app(name: str, url: str, path: str, **source: object) -> Application:
    return Application.model_validate(
        {
            "apiVersion": "driftless.dev/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "namespace": "driftless"},
            "spec": {
                "source": {"repoURL": url, "path": path, "targetRevision": "main", **source},
                "destination": {"namespace": name},
            },
        }
    )


async def test_a_commit_re_renders_only_the_folders_it_changed(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    files = {f"apps/a{i}/cm.yaml": CM.format(name=f"cm{i}", value="1") for i in range(5)}
    repo = make_git_repo(files)
    cache = RenderCache()
    renderer = GitRenderer(GitCache(tmp_path / "c", allow_local=True), RenderTools(), cache)
    apps = [app(f"a{i}", repo.url, f"apps/a{i}") for i in range(5)]
    for each in apps:
        await renderer.render(each, None, KUBE)
    second = repo.commit({"apps/a0/cm.yaml": CM.format(name="cm0", value="2")})
    hits = cache.stats.hits
    results = [await renderer.render(each, None, KUBE) for each in apps]
    assert cache.stats.hits - hits == 4  # a1..a4 unchanged
    assert {r.revision for r in results} == {second}
    assert results[0].manifests[0].obj["data"]["value"] == "2"
    assert [r.manifests[0].obj["data"]["value"] for r in results[1:]] == ["1"] * 4


async def test_a_folder_with_a_symlink_is_keyed_by_the_commit(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo(
        {
            "apps/a/cm.yaml": CM.format(name="a", value="1"),
            "shared/cm.yaml": CM.format(name="shared", value="1"),
        }
    )
    repo.commit(symlinks={"apps/a/shared.yaml": "../../shared/cm.yaml"})
    cache = RenderCache()
    renderer = GitRenderer(GitCache(tmp_path / "c", allow_local=True), RenderTools(), cache)
    first = await renderer.render(app("a", repo.url, "apps/a"), None, KUBE)
    assert sorted(m.obj["data"]["value"] for m in first.manifests) == ["1", "1"]
    # Only the file outside the folder changes: the folder's tree id stays the same.
    repo.commit({"shared/cm.yaml": CM.format(name="shared", value="2")})
    second = await renderer.render(app("a", repo.url, "apps/a"), None, KUBE)
    assert sorted(m.obj["data"]["value"] for m in second.manifests) == ["1", "2"]


async def test_a_jsonnet_folder_is_keyed_by_the_commit(
    tmp_path: Path, make_git_repo: MakeGitRepo
) -> None:
    repo = make_git_repo(
        {
            "apps/a/main.jsonnet": "local lib = import '../../lib/value.libsonnet';\n"
            "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'j'}, data: {v: lib}}",
            "lib/value.libsonnet": "'1'",
        }
    )
    cache = RenderCache()
    renderer = GitRenderer(GitCache(tmp_path / "c", allow_local=True), RenderTools(), cache)
    await renderer.render(app("a", repo.url, "apps/a"), None, KUBE)
    repo.commit({"lib/value.libsonnet": "'2'"})
    again = await renderer.render(app("a", repo.url, "apps/a"), None, KUBE)
    assert again.manifests[0].obj["data"]["v"] == "2"
