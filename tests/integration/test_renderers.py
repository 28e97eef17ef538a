"""The renderers against the real tools: output equals what kustomize/helm/jsonnet produce.

Every test renders through the public entry point ``driftless.render.render``
from a copy of ``tests/fixtures/render`` laid out like a cached commit tree,
and compares with the real tool run directly on the same input. Chart
repositories are real too: a Helm repository served over HTTP on 127.0.0.1
(``helm package`` + ``helm repo index``) and distribution's registry
(in-memory storage) for OCI, filled with ``helm push``.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _jsonnet  # type: ignore[import-untyped]
import pytest
import yaml

from driftless.core.errors import RenderError, SourceError, SourceUnavailableError
from driftless.core.models import ApplicationSource
from driftless.core.resources import Manifest
from driftless.devcluster import binaries
from driftless.render import KubeTarget, RenderCache, RenderTools, render
from tests.fixtures.chart_servers import HelmRepository, OciRegistry

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures" / "render"
KUBE = KubeTarget("v1.36.3", ("v1", "apps/v1", "batch/v1", "example.com/v1/Widget"))
CAPABILITIES = [
    "--kube-version",
    KUBE.version,
    *[arg for api in KUBE.api_versions for arg in ("--api-versions", api)],
]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def tool_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HOME for the tools the tests run directly, so no user config leaks in."""
    return tmp_path_factory.mktemp("tool-home")


@pytest.fixture(scope="module")
def kustomize() -> str:
    return str(binaries.tool("kustomize"))


@pytest.fixture(scope="module")
def helm() -> str:
    return str(binaries.tool("helm"))


@pytest.fixture
def tools(kustomize: str, helm: str, tmp_path: Path) -> RenderTools:
    return RenderTools(kustomize=kustomize, helm=helm, chart_cache=tmp_path / "charts")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The fixtures as the tree of one commit, inside a cache-like directory."""
    tree = tmp_path / "cache" / "trees" / "0f3c2a"
    shutil.copytree(FIXTURES, tree)
    return tree


def run(argv: list[str], home: Path, cwd: Path | None = None) -> str:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def objects(manifests: list[Manifest]) -> list[dict[str, Any]]:
    return [m.obj for m in manifests]


def source(path: str = ".", **options: Any) -> ApplicationSource:
    return ApplicationSource.model_validate(
        {"repoURL": "https://git.example.com/deploy.git", "path": path, **options}
    )


async def render_app(
    repo: Path | None,
    src: ApplicationSource,
    tools: RenderTools,
    *,
    cache: RenderCache | None = None,
    app_name: str = "demo-app",
    namespace: str = "team-a",
) -> list[Manifest]:
    app_dir = repo / src.path if repo is not None else None
    return await render(
        src,
        repo,
        app_dir,
        revision="0f3c2a" if repo is not None else None,
        app_name=app_name,
        namespace=namespace,
        kube=KUBE,
        tools=tools,
        cache=cache,
    )


def without_driftless_annotations(obj: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    annotations = result.get("metadata", {}).get("annotations")
    if annotations:
        for key in [k for k in annotations if k.startswith("driftless.dev/")]:
            del annotations[key]
    return result


def helm_equivalent(expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """helm template's objects minus test hooks, which driftless drops."""
    return [
        o
        for o in expected
        if "test" not in (o["metadata"].get("annotations") or {}).get("helm.sh/hook", "")
    ]


# --------------------------------------------------------------------------- kustomize


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
async def test_kustomize_overlays_equal_kustomize_build(
    repo: Path, tools: RenderTools, kustomize: str, tool_home: Path, env: str
) -> None:
    path = f"kustomize/overlays/{env}"
    rendered = await render_app(repo, source(path), tools)
    expected = docs(run([kustomize, "build", str(repo / path)], tool_home))
    assert objects(rendered) == expected
    assert {m.source_file for m in rendered} == {path}
    names = {(m.kind, m.obj["metadata"]["name"]) for m in rendered}
    assert ("Deployment", f"{env}-web") in names  # namePrefix
    assert any(k == "ConfigMap" and n.startswith(f"{env}-web-config-") for k, n in names)
    deployment = next(m.obj for m in rendered if m.kind == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("registry.example.com/web:1.")  # images override
    if env == "prod":  # the monitoring component and its patch
        assert ("ConfigMap", "prod-scrape-config") in names
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"


async def test_kustomize_app_overrides_equal_kustomize_edit(
    repo: Path, tools: RenderTools, kustomize: str, tool_home: Path, tmp_path: Path
) -> None:
    path = "kustomize/overlays/dev"
    options = {
        "namePrefix": "x-",
        "images": ["registry.example.com/web=other/web:9"],
        "commonLabels": {"team": "a"},
        "components": ["../../components/monitoring"],
    }
    kfile = repo / path / "kustomization.yaml"
    before = (kfile.read_bytes(), kfile.stat().st_mtime_ns)
    rendered = await render_app(repo, source(path, kustomize=options), tools)
    # The reference: the same overrides made with `kustomize edit` on a copy.
    edited = tmp_path / "edited"
    shutil.copytree(repo, edited)
    overlay = edited / path
    for args in (
        ["set", "nameprefix", "x-"],
        ["set", "image", "registry.example.com/web=other/web:9"],
        ["add", "label", "team:a", "--force"],
        ["add", "component", "../../components/monitoring"],
    ):
        run([kustomize, "edit", *args], tool_home, cwd=overlay)
    assert objects(rendered) == docs(run([kustomize, "build", str(overlay)], tool_home))
    # the shared tree of the commit was not written to
    assert (kfile.read_bytes(), kfile.stat().st_mtime_ns) == before
    assert kfile.stat().st_nlink == 1


async def test_kustomize_override_component_must_stay_in_the_repository(
    repo: Path, tools: RenderTools
) -> None:
    src = source("kustomize/overlays/dev", kustomize={"components": ["../../../../../elsewhere"]})
    with pytest.raises(RenderError, match=r"components entry .* points outside the repository"):
        await render_app(repo, src, tools)


async def test_kustomize_render_is_cached_per_commit(repo: Path, tools: RenderTools) -> None:
    cache = RenderCache()
    first = await render_app(repo, source("kustomize/overlays/prod"), tools, cache=cache)
    first[0].obj["metadata"]["name"] = "mutated by the caller"
    second = await render_app(repo, source("kustomize/overlays/prod"), tools, cache=cache)
    assert cache.stats.hits == 1 and cache.stats.misses == 1
    assert second[0].obj["metadata"]["name"] == "web-prod"


KUSTOMIZE_ERRORS = {
    "escape through resources": (
        {"kustomize/overlays/dev/kustomization.yaml": "resources:\n  - ../../../../../etc\n"},
        r"^kustomize/overlays/dev/kustomization\.yaml:2: resources entry"
        r" '\.\./\.\./\.\./\.\./\.\./etc' points outside the repository",
    ),
    "escape to a sibling tree": (
        {"kustomize/overlays/dev/kustomization.yaml": "resources:\n  - ../../../../other/app\n"},
        r"points outside the repository",
    ),
    "remote base": (
        {
            "kustomize/overlays/dev/kustomization.yaml": (
                "resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld\n"
            )
        },
        r"is a remote resource",
    ),
    "missing resource": (
        {"kustomize/overlays/dev/kustomization.yaml": "resources:\n  - nothere.yaml\n"},
        r"^kustomize/overlays/dev/kustomization\.yaml: kustomize build failed: .*nothere\.yaml",
    ),
    "unknown field": (
        {"kustomize/overlays/dev/kustomization.yaml": "resourcez:\n  - a.yaml\n"},
        r"^kustomize/overlays/dev/kustomization\.yaml: kustomize build failed: .*resourcez",
    ),
    "file outside the kustomization root (load restrictor)": (
        {
            "kustomize/overlays/dev/kustomization.yaml": (
                "resources:\n  - ../../base/deployment.yaml\n"
            )
        },
        r"kustomize build failed: .*(not in or below|security)",
    ),
}


@pytest.mark.parametrize("files,message", KUSTOMIZE_ERRORS.values(), ids=KUSTOMIZE_ERRORS.keys())
async def test_kustomize_bad_input(
    repo: Path, tools: RenderTools, files: dict[str, str], message: str
) -> None:
    for rel, text in files.items():
        (repo / rel).write_text(text)
    with pytest.raises(RenderError, match=message) as caught:
        await render_app(repo, source("kustomize/overlays/dev"), tools)
    assert str(repo) not in str(caught.value)  # no cache paths in messages


# --------------------------------------------------------------------------- helm


@pytest.mark.parametrize("env", ["dev", "prod"])
async def test_helm_chart_equals_helm_template(
    repo: Path, tools: RenderTools, helm: str, tool_home: Path, env: str
) -> None:
    chart = repo / "helm/demo"
    src = source("helm/demo", helm={"valueFiles": [f"values-{env}.yaml"]})
    rendered = await render_app(repo, src, tools)
    expected = docs(
        run(
            [
                helm,
                "template",
                "demo-app",
                str(chart),
                "--namespace",
                "team-a",
                "--include-crds",
                "--values",
                str(chart / f"values-{env}.yaml"),
                *CAPABILITIES,
            ],
            tool_home,
        )
    )
    assert [without_driftless_annotations(o) for o in objects(rendered)] == helm_equivalent(
        expected
    )
    by_kind = {m.kind: m for m in rendered}
    # .Capabilities saw the destination's version and API versions
    assert by_kind["ConfigMap"].obj["data"] == {
        "kubeVersion": "v1.36.3",
        "kubeMinor": "36",
        "widgets": "served",
        "modern": "true",
    }
    assert by_kind["ConfigMap"].source_file == "helm/demo/templates/configmap.yaml"
    assert by_kind["CustomResourceDefinition"].source_file == "helm/demo/crds/widgets.yaml"
    replicas = by_kind["Deployment"].obj["spec"]["replicas"]
    assert replicas == (3 if env == "prod" else 1)
    assert "Pod" not in by_kind  # the test hook is dropped
    hook = by_kind["Job"].obj["metadata"]["annotations"]
    assert hook["driftless.dev/hook"] == "PreSync"
    assert hook["driftless.dev/sync-wave"] == "-5"
    assert hook["driftless.dev/hook-delete-policy"] == "BeforeHookCreation,HookSucceeded"


async def test_helm_options(repo: Path, tools: RenderTools, helm: str, tool_home: Path) -> None:
    chart = repo / "helm/demo"
    options = {
        "releaseName": "rel",
        "namespace": "other",
        "valueFiles": ["values-prod.yaml"],
        "values": "greeting: inline\nmigrations:\n  enabled: false\n",
        "parameters": [
            {"name": "image.tag", "value": "3.0,beta"},
            {"name": "replicaCount", "value": "5"},
        ],
        "skipCrds": True,
    }
    rendered = await render_app(repo, source("helm/demo", helm=options), tools)
    inline = tool_home / "inline.yaml"
    inline.write_text(options["values"])
    expected = docs(
        run(
            [
                helm,
                "template",
                "rel",
                str(chart),
                "--namespace",
                "other",
                "--values",
                str(chart / "values-prod.yaml"),
                "--values",
                str(inline),
                "--set",
                "image.tag=3.0\\,beta",
                "--set",
                "replicaCount=5",
                *CAPABILITIES,
            ],
            tool_home,
        )
    )
    assert objects(rendered) == helm_equivalent(expected)
    deployment = next(m.obj for m in rendered if m.kind == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith(":3.0,beta")
    assert container["env"][0]["value"] == "inline"
    assert deployment["spec"]["replicas"] == 5
    assert {m.kind for m in rendered} == {"ConfigMap", "Deployment"}  # no CRD, no hook


async def test_helm_file_dependency_is_built_without_touching_the_tree(
    repo: Path, tools: RenderTools
) -> None:
    (repo / "helm/common/templates").mkdir(parents=True)
    (repo / "helm/common/Chart.yaml").write_text("apiVersion: v2\nname: common\nversion: 0.1.0\n")
    (repo / "helm/common/templates/cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-common\n"
    )
    chart_yaml = repo / "helm/demo/Chart.yaml"
    chart_yaml.write_text(
        chart_yaml.read_text()
        + "dependencies:\n  - name: common\n    version: 0.1.0\n    repository: file://../common\n"
    )
    rendered = await render_app(repo, source("helm/demo"), tools)
    assert ("ConfigMap", "demo-app-common") in {
        (m.kind, m.obj["metadata"]["name"]) for m in rendered
    }
    common = next(m for m in rendered if m.obj["metadata"]["name"] == "demo-app-common")
    assert common.source_file == "helm/demo/charts/common/templates/cm.yaml"
    assert not (repo / "helm/demo/charts").exists()
    assert not (repo / "helm/demo/Chart.lock").exists()


HELM_ERRORS = {
    "missing values file": (
        {"valueFiles": ["values-qa.yaml"]},
        {},
        r"^helm/demo/values-qa\.yaml: values file 'values-qa\.yaml' not found$",
    ),
    "values file outside the repository": (
        {"valueFiles": ["../../../../../etc/hostname"]},
        {},
        r"values file '.*' is outside the repository",
    ),
    "invalid inline values": (
        {"values": "a: [1"},
        {},
        r"^spec\.source\.helm\.values:\d+: invalid YAML",
    ),
    "template error names the template and line": (
        {},
        {"helm/demo/templates/bad.yaml": 'a: {{ .Values.missing | required "set missing!" }}\n'},
        r"^helm/demo/templates/bad\.yaml:1: helm template failed: execution error .*set missing!",
    ),
    "template parse error": (
        {},
        {"helm/demo/templates/bad.yaml": "a: {{ .Values.x \n"},
        r"^helm/demo/templates/bad\.yaml:\d+: helm template failed: parse error",
    ),
    "template producing invalid YAML": (
        {},
        {"helm/demo/templates/bad.yaml": "a: b\n c: d: e\n"},
        r"^helm/demo/templates/bad\.yaml: helm template failed: YAML parse error",
    ),
    "object without a name": (
        {},
        {"helm/demo/templates/bad.yaml": "apiVersion: v1\nkind: ConfigMap\n"},
        r"^helm/demo/templates/bad\.yaml: ConfigMap has no metadata\.name",
    ),
    "dependency from a repository that is down": (
        {},
        {
            "helm/demo/Chart.yaml": (
                "apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n"
                "  - name: redis\n    version: 1.0.0\n    repository: http://127.0.0.1:9/charts\n"
            )
        },
        r"^helm/demo/Chart\.yaml: dependency redis 1\.0\.0 from http://127\.0\.0\.1:9/charts"
        r" cannot be fetched: .*cannot reach",
    ),
    "file dependency outside the repository": (
        {},
        {
            "helm/demo/Chart.yaml": (
                "apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n"
                "  - name: x\n    version: 1.0.0\n    repository: file://../../../../x\n"
            )
        },
        r"dependency x \(file://\.\./\.\./\.\./\.\./x\) is outside the repository",
    ),
}


@pytest.mark.parametrize("options,files,message", HELM_ERRORS.values(), ids=HELM_ERRORS.keys())
async def test_helm_bad_input(
    repo: Path,
    tools: RenderTools,
    options: dict[str, Any],
    files: dict[str, str],
    message: str,
) -> None:
    for rel, text in files.items():
        (repo / rel).write_text(text)
    with pytest.raises(RenderError, match=message) as caught:
        await render_app(repo, source("helm/demo", helm=options), tools)
    assert str(repo) not in str(caught.value)


async def test_helm_symlink_out_of_the_repository_is_refused(
    repo: Path, tools: RenderTools, tmp_path: Path
) -> None:
    (tmp_path / "host-secret").write_text("s3cr3t")
    (repo / "helm/demo/files").mkdir()
    (repo / "helm/demo/files/secret").symlink_to(tmp_path / "host-secret")
    (repo / "helm/demo/templates/leak.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\n"
        'data:\n  x: {{ .Files.Get "files/secret" | quote }}\n'
    )
    with pytest.raises(
        RenderError, match=r"^helm/demo/files/secret: symlink points outside the repository"
    ):
        await render_app(repo, source("helm/demo"), tools)


async def test_helm_missing_chart(repo: Path, tools: RenderTools) -> None:
    with pytest.raises(RenderError, match=r"^jsonnet/app: no Chart\.yaml in the chart directory"):
        await render_app(repo, source("jsonnet/app", helm={}), tools)


# --------------------------------------------------------------------------- jsonnet


async def test_jsonnet_app_equals_the_jsonnet_evaluator(repo: Path, tools: RenderTools) -> None:
    options = {
        "tlas": [
            {"name": "name", "value": "hello"},
            {"name": "replicas", "value": "2", "code": True},
        ],
        "extVars": [{"name": "env", "value": "staging"}],
        "libs": ["jsonnet/lib"],
    }
    rendered = await render_app(repo, source("jsonnet/app", jsonnet=options), tools)
    expected = yaml.safe_load(
        _jsonnet.evaluate_file(
            str(repo / "jsonnet/app/main.jsonnet"),
            jpathdir=[str(repo / "jsonnet/lib")],
            ext_vars={"env": "staging"},
            tla_vars={"name": "hello"},
            tla_codes={"replicas": "2"},
        )
    )
    assert objects(rendered) == expected
    assert rendered[1].obj["data"] == {
        "environment": "staging",
        "banner": "Welcome to driftless\n",
    }
    assert {m.source_file for m in rendered} == {"jsonnet/app/main.jsonnet"}


async def test_jsonnet_detected_and_syntax_error_located(repo: Path, tools: RenderTools) -> None:
    (repo / "jsonnet/app/main.jsonnet").write_text(
        "local k = import 'k.libsonnet';\n{\n  a: ,\n}\n"
    )
    with pytest.raises(RenderError, match=r"^jsonnet/app/main\.jsonnet:3: jsonnet STATIC ERROR"):
        await render_app(repo, source("jsonnet/app", jsonnet={"libs": ["jsonnet/lib"]}), tools)


# --------------------------------------------------------------------------- chart repositories

CHART_VERSIONS = ("1.2.0", "1.2.5", "1.3.0", "2.0.0")


@pytest.fixture(scope="module")
def packaged_charts(tmp_path_factory: pytest.TempPathFactory, helm: str, tool_home: Path) -> Path:
    """``demo`` packaged at several versions (``helm package``)."""
    out = tmp_path_factory.mktemp("packages")
    for version in CHART_VERSIONS:
        work = tmp_path_factory.mktemp(f"demo-{version}") / "demo"
        shutil.copytree(FIXTURES / "helm/demo", work)
        chart_yaml = work / "Chart.yaml"
        chart_yaml.write_text(
            chart_yaml.read_text().replace("version: 1.2.0", f"version: {version}")
        )
        run([helm, "package", str(work), "--destination", str(out)], tool_home)
    return out


@pytest.fixture(scope="module")
def helm_repository(packaged_charts: Path, helm: str, tool_home: Path) -> Iterator[str]:
    """A Helm repository (index.yaml with relative URLs) on 127.0.0.1."""
    repository = HelmRepository(helm, tool_home, packaged_charts)
    yield f"{repository.url}/"
    repository.stop()


@pytest.fixture(scope="module")
def oci_registry(
    tmp_path_factory: pytest.TempPathFactory, packaged_charts: Path, helm: str, tool_home: Path
) -> Iterator[str]:
    """distribution's registry with in-memory storage, the charts pushed with ``helm push``."""
    registry = OciRegistry.start(tmp_path_factory.mktemp("registry"))
    try:
        for version in ("1.2.0", "1.3.0", "2.0.0"):
            registry.push(helm, tool_home, packaged_charts / f"demo-{version}.tgz")
        yield registry.host
    finally:
        registry.stop()


def expected_chart_render(
    packaged_charts: Path, version: str, helm: str, tool_home: Path
) -> list[dict[str, Any]]:
    archive = packaged_charts / f"demo-{version}.tgz"
    argv = [helm, "template", "demo-app", str(archive), "--namespace", "team-a", "--include-crds"]
    return helm_equivalent(docs(run([*argv, *CAPABILITIES], tool_home)))


@pytest.mark.parametrize(
    "wanted,version",
    [("~1.2", "1.2.5"), (">=1.0 <2", "1.3.0"), ("^2", "2.0.0"), ("1.2.0", "1.2.0"), ("", "2.0.0")],
)
async def test_chart_from_helm_repository_by_range(
    helm_repository: str,
    packaged_charts: Path,
    tools: RenderTools,
    helm: str,
    tool_home: Path,
    wanted: str,
    version: str,
) -> None:
    src = ApplicationSource.model_validate(
        {"repoURL": helm_repository, "chart": "demo", "targetRevision": wanted}
    )
    rendered = await render_app(None, src, tools)
    assert [without_driftless_annotations(o) for o in objects(rendered)] == (
        expected_chart_render(packaged_charts, version, helm, tool_home)
    )
    deployment = next(m for m in rendered if m.kind == "Deployment")
    assert deployment.obj["metadata"]["labels"]["helm.sh/chart"] == f"demo-{version}"
    assert deployment.source_file == f"demo@{version}/templates/deployment.yaml"


async def test_chart_repository_cache_needs_no_network_for_a_known_version(
    helm_repository: str, tools: RenderTools, tmp_path: Path
) -> None:
    src = ApplicationSource.model_validate(
        {"repoURL": helm_repository, "chart": "demo", "targetRevision": "1.3.0"}
    )
    first = await render_app(None, src, tools)
    offline = ApplicationSource.model_validate(
        {"repoURL": "http://127.0.0.1:9/", "chart": "demo", "targetRevision": "1.3.0"}
    )
    # same cache directory layout, different URL: not shared (the URL is part of the key)
    with pytest.raises(SourceUnavailableError, match=r"cannot reach http://127\.0\.0\.1:9/"):
        await render_app(None, offline, tools)
    cached = list((tools.chart_cache).glob("*/demo/1.3.0/src/demo/Chart.yaml"))
    assert len(cached) == 1
    again = await render_app(None, src, tools)
    assert objects(again) == objects(first)


async def test_chart_repository_errors(helm_repository: str, tools: RenderTools) -> None:
    def chart(name: str, wanted: str) -> ApplicationSource:
        return ApplicationSource.model_validate(
            {"repoURL": helm_repository, "chart": name, "targetRevision": wanted}
        )

    with pytest.raises(
        SourceError, match=r"no version of chart demo matches '>=3' .*newest: 2\.0\.0"
    ):
        await render_app(None, chart("demo", ">=3"), tools)
    with pytest.raises(SourceError, match=r"chart nope not found in chart repository"):
        await render_app(None, chart("nope", "1.0.0"), tools)
    with pytest.raises(SourceError, match=r"neither a version nor a semver range"):
        await render_app(None, chart("demo", ">>1"), tools)


async def test_chart_from_oci_registry_by_range(
    oci_registry: str,
    packaged_charts: Path,
    kustomize: str,
    helm: str,
    tool_home: Path,
    tmp_path: Path,
) -> None:
    tools = RenderTools(
        kustomize=kustomize,
        helm=helm,
        chart_cache=tmp_path / "charts",
        plain_http_registries=frozenset({oci_registry}),
    )
    src = ApplicationSource.model_validate(
        {"repoURL": f"oci://{oci_registry}/charts", "chart": "demo", "targetRevision": "^1.2"}
    )
    rendered = await render_app(None, src, tools)
    assert [without_driftless_annotations(o) for o in objects(rendered)] == (
        expected_chart_render(packaged_charts, "1.3.0", helm, tool_home)
    )
    missing = ApplicationSource.model_validate(
        {"repoURL": f"oci://{oci_registry}/charts", "chart": "other", "targetRevision": "1.0.0"}
    )
    with pytest.raises(SourceError, match=r"not found \(HTTP 404"):
        await render_app(None, missing, tools)
