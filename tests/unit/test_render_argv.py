"""Values that reach helm's and kustomize's command lines: hostile ones never become options.

Two fences, both tested: the Application model (whose patterns become the
CRD schema the API server enforces) and the exec edge (``render.argv`` and the
argv builders), which also guards values that never passed the API server
(push mode, the app name as default release name, discovery answers).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from driftless.core import names
from driftless.core.errors import RenderError
from driftless.core.models import ApplicationSource, HelmParameter, HelmSource, KustomizeSource
from driftless.render import argv, helm
from driftless.render.context import KubeTarget
from driftless.render.helm import Release, render_helm
from driftless.render.kustomize import check_overrides

HOSTILE_RELEASE_NAMES = [
    "--post-renderer=/bin/sh",
    "--post-renderer",
    "-n",
    "--set-file=token=/var/run/secrets/kubernetes.io/serviceaccount/token",
    "--values=/etc/passwd",
    "-",
    "--",
    "a b",
    "Upper",
    "name\x00",
    "x" * 54,
    "ends-",
    "",
]
HOSTILE_NAMESPACES = ["-n", "--namespace=kube-system", "a.b", "UPPER", "x" * 64, "a_b"]
KUBE = KubeTarget("v1.36.3", ("v1", "apps/v1", "example.com/v1/Widget"))


# ------------------------------------------------------------------ model / CRD


@pytest.mark.parametrize("name", HOSTILE_RELEASE_NAMES[:-1])  # "" is "not set" in the model
def test_model_refuses_hostile_release_names(name: str) -> None:
    with pytest.raises(ValidationError, match=r"release_name|releaseName"):
        HelmSource.model_validate({"releaseName": name})


@pytest.mark.parametrize("name", ["demo", "my-app", "my.app.v2", "a" * 53, "0"])
def test_model_accepts_helm_release_names(name: str) -> None:
    assert HelmSource.model_validate({"releaseName": name}).release_name == name


@pytest.mark.parametrize(
    "document",
    [
        {"namespace": "-n"},
        {"namespace": "--kube-context=prod"},
        {"valueFiles": ["/etc/passwd"]},
        {"valueFiles": ["--post-renderer=/bin/sh"]},
        {"valueFiles": ["-f"]},
        {"parameters": [{"name": "--post-renderer", "value": "/bin/sh"}]},
        {"parameters": [{"name": "a=b", "value": "c"}]},
        {"parameters": [{"name": "a,b", "value": "c"}]},
        {"parameters": [{"name": "a b", "value": "c"}]},
    ],
)
def test_model_refuses_hostile_helm_options(document: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HelmSource.model_validate(document)


@pytest.mark.parametrize(
    "document",
    [
        {"namespace": "-n"},
        {"namePrefix": "--x"},
        {"namePrefix": "Has Space"},
        {"images": ["--load-restrictor=LoadRestrictionsNone"]},
        {"images": ["nginx\nnewTag: evil"]},
        {"commonLabels": {"-bad": "x"}},
        {"commonLabels": {"app": "not a label value"}},
        {"commonAnnotations": {"a b": "x"}},
    ],
)
def test_model_refuses_hostile_kustomize_overrides(document: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KustomizeSource.model_validate(document)


def test_model_accepts_ordinary_overrides() -> None:
    opts = KustomizeSource.model_validate(
        {
            "namePrefix": "dev-",
            "nameSuffix": "-v2",
            "namespace": "shop",
            "images": ["registry.example.com:5000/web=other/web:1.2@sha256:" + "a" * 64],
            "commonLabels": {"app.kubernetes.io/name": "web", "empty": ""},
            "commonAnnotations": {"example.com/note": "anything at all, even spaces"},
        }
    )
    check_overrides(opts)  # the exec edge agrees with the model


@pytest.mark.parametrize("chart", ["../etc", "/abs", "-x", "a//b", "a/../b"])
def test_model_refuses_hostile_chart_names(chart: str) -> None:
    with pytest.raises(ValidationError):
        ApplicationSource.model_validate({"repoURL": "https://charts.example.com", "chart": chart})


def test_patterns_read_the_same_by_python_and_pydantic() -> None:
    """The CRD patterns (RE2 in the API server) and ``names.matches`` agree on samples."""
    samples = [*HOSTILE_RELEASE_NAMES, "demo", "a.b", "a-b", "a\n", "v1.2.3", "1.2", "apps/v1"]
    for value in samples:
        in_model = True
        try:
            HelmSource.model_validate({"releaseName": value})
        except ValidationError:
            in_model = False
        if value:
            assert in_model == (names.release_name_problem(value) is None), value


# ------------------------------------------------------------------- exec edge


@pytest.mark.parametrize("name", HOSTILE_RELEASE_NAMES)
def test_exec_edge_refuses_hostile_release_names(name: str) -> None:
    with pytest.raises(RenderError, match=r"releaseName"):
        helm.template_command("/usr/bin/helm", name, Path("/charts/demo"), [])


def test_template_command_ends_options_before_name_and_chart() -> None:
    flags = helm.template_arguments(
        HelmSource(parameters=[HelmParameter(name="a", value="-x,--y")]),
        Release("demo", "team-a"),
        KUBE,
        [Path("/tmp/v.yaml")],
    )
    command = helm.template_command("/usr/bin/helm", "demo", Path("/charts/demo"), flags)
    assert command[:2] == ["/usr/bin/helm", "template"]
    assert command[-3:] == ["--", "demo", "/charts/demo"]
    # Every option carries its value in the same argument: no value stands alone.
    assert all(
        arg.startswith("--") and "=" in arg for arg in command[2:-3] if arg != "--include-crds"
    )
    assert "--set=a=-x\\,--y" in command
    assert "--namespace=team-a" in command


@pytest.mark.parametrize("namespace", HOSTILE_NAMESPACES)
def test_exec_edge_refuses_hostile_namespaces(namespace: str) -> None:
    with pytest.raises(RenderError, match="namespace"):
        helm.template_arguments(HelmSource(), Release("demo", namespace), KUBE, [])


@pytest.mark.parametrize(
    "kube",
    [
        KubeTarget("--post-renderer=/bin/sh", ()),
        KubeTarget("-1", ()),
        KubeTarget("v1.36.3", ("--post-renderer=/bin/sh",)),
        KubeTarget("v1.36.3", ("-v",)),
        KubeTarget("v1.36.3", ("apps/v1 --x",)),
    ],
)
def test_exec_edge_refuses_hostile_capabilities(kube: KubeTarget) -> None:
    with pytest.raises(RenderError, match=r"not a Kubernetes version|not an API version"):
        helm.capability_arguments(kube)


@pytest.mark.parametrize("name", ["--post-renderer", "-x", "a=b", "a,b", "a b", ""])
def test_exec_edge_refuses_hostile_set_names(name: str) -> None:
    param = HelmParameter.model_construct(name=name, value="v", force_string=False)
    with pytest.raises(RenderError, match=r"parameters\[0\]\.name"):
        helm.set_arguments([param])


def test_exec_edge_refuses_nul_in_set_values() -> None:
    param = HelmParameter.model_construct(name="a", value="x\x00y", force_string=False)
    with pytest.raises(RenderError, match=r"parameters\[0\]\.value: contains a NUL"):
        helm.set_arguments([param])


@pytest.mark.parametrize(
    "options",
    [
        {"namespace": "-n"},
        {"name_prefix": "--x"},
        {"images": ["--load-restrictor=LoadRestrictionsNone"]},
        {"common_labels": {"-x": "y"}},
        {"common_labels": {"x": "-"}},
        {"common_annotations": {"--x": "y"}},
    ],
)
def test_exec_edge_refuses_hostile_kustomize_overrides(options: dict[str, object]) -> None:
    with pytest.raises(RenderError, match=r"spec\.source\.kustomize"):
        check_overrides(KustomizeSource.model_construct(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["-x", "--post-renderer=/bin/sh", "a\x00b"])
def test_safe_arg(value: str) -> None:
    with pytest.raises(RenderError, match="where"):
        argv.safe_arg(value, "where")
    assert argv.safe_arg("/abs/path", "where") == "/abs/path"


# ----------------------------------------------------- whole render, nothing runs


def _recording_helm(tmp_path: Path) -> tuple[str, Path]:
    """A stand-in helm that records that it ran: a hostile value must stop before it."""
    marker = tmp_path / "helm-ran"
    script = tmp_path / "helm"
    script.write_text(f"#!/bin/sh\necho ran > {marker}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), marker


def _chart(root: Path) -> Path:
    chart = root / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("a: 1\n")
    return chart


@pytest.mark.parametrize(
    "release",
    [Release("--post-renderer=/bin/sh", "ns"), Release("demo", "-n"), Release("-n", "")],
)
async def test_render_helm_refuses_before_running_anything(
    tmp_path: Path, release: Release
) -> None:
    helm_bin, marker = _recording_helm(tmp_path)
    chart = _chart(tmp_path / "repo")
    with pytest.raises(RenderError, match="not a valid"):
        await render_helm(
            chart, tmp_path / "repo", None, release=release, kube=KUBE, helm=helm_bin, time_limit=30
        )
    assert not marker.exists()


@pytest.mark.parametrize(
    ("value_file", "message"),
    [
        ("../../etc/passwd", "outside the repository"),
        ("../../secret.yaml", "outside the repository"),
        ("/etc/passwd", "must be relative"),
        ("file:///etc/passwd", "only files in the repository"),
        ("../escape.yaml", "resolves outside the repository"),
    ],
)
async def test_value_files_outside_the_repository_are_refused(
    tmp_path: Path, value_file: str, message: str
) -> None:
    helm_bin, marker = _recording_helm(tmp_path)
    root = tmp_path / "repo"
    chart = _chart(root)
    (tmp_path / "secret.yaml").write_text("token: s3cr3t\n")
    (root / "escape.yaml").symlink_to(tmp_path / "secret.yaml")
    opts = HelmSource.model_construct(value_files=[value_file], parameters=[], skip_crds=False)
    with pytest.raises(RenderError, match=message):
        await render_helm(
            chart, root, opts, release=Release("demo", ""), kube=KUBE, helm=helm_bin, time_limit=30
        )
    assert not marker.exists()
