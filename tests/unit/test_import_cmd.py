"""``driftless import -f``: what a user sees for good, partial and hostile input
(no cluster needed: files are converted and printed)."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from driftless.cli.main import cli

ARGO_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: guestbook, namespace: argocd}
spec:
  source: {repoURL: 'https://github.com/argoproj/argocd-example-apps.git', path: guestbook}
  destination: {server: 'https://kubernetes.default.svc', namespace: guestbook}
"""
REPO_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: repo
  namespace: argocd
  labels: {argocd.argoproj.io/secret-type: repository}
stringData: {url: 'https://github.com/example/private', password: 'tok-Zq81-secret'}
"""


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["import", *args], input=stdin)


def test_a_directory_is_read_recursively_and_printed_as_driftless_yaml(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "guestbook.yaml").write_text(ARGO_APP)
    (tmp_path / "README.md").write_text("not read")
    result = run("-f", str(tmp_path), "-n", "gitops")
    assert result.exit_code == 0, result.output
    (app,) = list(yaml.safe_load_all(result.stdout))
    assert app["apiVersion"] == "driftless.dev/v1alpha1" and app["kind"] == "Application"
    assert app["metadata"] == {"name": "guestbook", "namespace": "gitops"}


def test_what_cannot_be_expressed_fails_unless_allow_partial(tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(
        ARGO_APP + "---\napiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\n"
        "metadata: {name: all, namespace: argocd}\nspec: {}\n"
    )
    failed = run("-f", str(path))
    assert failed.exit_code == 1
    assert "not expressible: ApplicationSet argocd/all" in failed.stderr
    assert "--allow-partial" in failed.stderr
    partial = run("-f", str(path), "--allow-partial")
    assert partial.exit_code == 0
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(partial.stdout)] == ["guestbook"]
    assert "not expressible: ApplicationSet argocd/all" in partial.stderr


def test_secrets_are_printed_only_when_asked_and_never_on_stderr() -> None:
    skipped = run("-f", "-", stdin=REPO_SECRET)
    assert skipped.exit_code == 0
    assert "tok-Zq81-secret" not in skipped.output
    assert "skipped: Secret argocd/repo: holds credentials, use --include-secrets" in skipped.stderr
    included = run("-f", "-", "--include-secrets", stdin=REPO_SECRET)
    assert included.exit_code == 0
    (secret,) = list(yaml.safe_load_all(included.stdout))
    assert secret["metadata"]["labels"] == {"driftless.dev/secret-type": "repository"}
    assert "tok-Zq81-secret" not in included.stderr


def test_an_unknown_api_version_is_named(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("apiVersion: example.com/v9\nkind: Widget\nmetadata: {name: w}\n")
    result = run("-f", str(path))
    assert result.exit_code == 1
    assert "Widget w: apiVersion 'example.com/v9' kind 'Widget' is not an Argo CD or Flux" in (
        result.stderr
    )


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: the size is what counts
    result = run("-f", str(path))
    assert result.exit_code == 2
    assert "huge.yaml: 52428800 bytes is more than the 16777216 an import reads" in result.stderr


def test_a_yaml_bomb_is_refused_with_its_file_named(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 10)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    result = run("-f", str(path))
    assert result.exit_code == 2
    assert "bomb.yaml" in result.stderr and "usage error" in result.stderr


def test_not_a_mapping_and_missing_inputs_are_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    assert run("-f", str(path)).exit_code == 2
    assert run("-f", str(tmp_path / "missing.yaml")).exit_code == 2
    both = run("-f", str(path), "--from-cluster")
    assert both.exit_code == 2 and "one of them" in both.stderr
    assert run().exit_code == 2


def test_an_empty_input_and_a_device_say_what_is_wrong(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    result = run("-f", str(empty))
    assert result.exit_code == 2 and "the input holds no objects" in result.stderr
    # /dev/zero exists: it is refused as a special file, never read (it has no end).
    device = run("-f", "/dev/zero")
    assert device.exit_code == 2 and "not a regular file" in device.stderr


def test_a_plain_manifest_is_listed_not_ignored(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: web}\n"
        "data: {a: b}\n"
    )
    result = run("-f", str(path))
    assert result.exit_code == 1
    assert "not expressible: ConfigMap web/settings" in result.stderr


def test_apply_with_something_inexpressible_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(
        ARGO_APP + "---\napiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\n"
        "metadata: {name: all, namespace: argocd}\nspec: {}\n"
    )
    # No cluster behind this kubeconfig: connecting at all would be another error.
    result = CliRunner().invoke(
        cli, ["--kubeconfig", str(tmp_path / "none"), "import", "-f", str(path), "--apply"]
    )
    assert result.exit_code == 1
    assert "; nothing applied (--allow-partial" in result.stderr
    assert result.stdout == ""
