"""SOPS-encrypted Secrets in git (issue 15), with the real sops and age-keygen.

The test encrypts its fixtures with sops itself (as a Flux user does), pushes
them to a real git repository, and the controller syncs the decrypted Secret;
a wrong key, a missing key Secret and garbage metadata stop the render with
``DecryptionFailed`` and nothing is applied or pruned; the plaintext never
shows in ``driftless app diff``, the app's status, its Events or the logs.
PGP keys (made by the real gpg) are imported into a keyring in /dev/shm that
is gone, with its gpg-agent, once the decryption is done.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.devcluster import binaries, versions
from driftless.devcluster.cluster import DevCluster
from driftless.kube.client import KubeClient
from driftless.render import sops_docs, sops_keyring
from driftless.render.sops_docs import SopsError
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    condition,
    configmap_manifest,
    create_app,
    ready,
    ready_false_with,
    unique,
    wait_for,
)
from tests.integration.server_inprocess import serving

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]

PLAINTEXT = "pl41n-sops-password-value"
SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: {PLAINTEXT}
"""


class Age:
    """One age key pair made by the real age-keygen."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        keygen = binaries.ensure(versions.AGE_KEYGEN)
        self.file = directory / "keys.txt"
        done = subprocess.run(
            [str(keygen), "-o", str(self.file)], capture_output=True, text=True, check=True
        )
        self.recipient = done.stderr.split("Public key:", 1)[1].strip()
        self.identity_text = self.file.read_text()


class Pgp:
    """One PGP key pair made by the real gpg in a throwaway GNUPGHOME (the test's own)."""

    def __init__(self, home: Path, *, passphrase: str | None = None) -> None:
        self.home = home
        home.mkdir(mode=0o700)
        protection = f"Passphrase: {passphrase}" if passphrase else "%no-protection"
        params = (
            "Key-Type: eddsa\nKey-Curve: ed25519\nSubkey-Type: ecdh\nSubkey-Curve: cv25519\n"
            f"Name-Real: driftless test\nExpire-Date: 0\n{protection}\n%commit\n"
        )
        self.gpg("--gen-key", stdin=params)
        listing = self.gpg("--with-colons", "--list-secret-keys")
        self.fingerprint = next(
            line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
        )
        loopback = ["--pinentry-mode", "loopback", "--passphrase", passphrase or ""]
        self.armored = self.gpg(*loopback, "--armor", "--export-secret-keys", self.fingerprint)
        assert self.armored.startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")

    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.home), "PATH": os.environ.get("PATH", "")}

    def gpg(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            ["gpg", "--batch", *args], input=stdin, env=self.env(),
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return done.stdout


@pytest.fixture
def gpg_homes() -> Iterator[Path]:
    """A short directory for the test's keyrings (agent sockets have a path length limit)."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed (scripts/system-deps.sh installs gnupg)")
    top = Path(tempfile.mkdtemp(prefix="dlgpg-", dir="/tmp"))
    try:
        yield top
    finally:
        for home in top.iterdir():
            subprocess.run(["gpgconf", "--kill", "all"], env={"GNUPGHOME": str(home)}, check=False)
        shutil.rmtree(top, ignore_errors=True)


def encrypt_pgp(plain: str, pgp: Pgp, workdir: Path) -> str:
    source = workdir / "plain.yaml"
    source.write_text(plain)
    done = subprocess.run(
        [
            str(binaries.ensure(versions.SOPS)), "encrypt", "--pgp", pgp.fingerprint,
            "--encrypted-regex", "^(data|stringData)$", str(source),
        ],
        capture_output=True, text=True, check=True, cwd=workdir, env=pgp.env(),
    )  # fmt: skip
    source.unlink()
    assert PLAINTEXT not in done.stdout and "pgp:" in done.stdout
    return done.stdout


def keyring_leftovers() -> list[str]:
    """The controller's in-memory keyrings and their gpg-agents still present."""
    found = [str(p) for p in Path("/dev/shm").glob("driftless-gnupg-*")]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if "gpg-agent" in text and "/dev/shm/driftless-gnupg-" in text:
            found.append(text)
    return found


def encrypt(plain: str, age: Age, workdir: Path) -> str:
    """``plain`` encrypted by sops for ``age``, data and stringData only (Flux's recipe)."""
    source = workdir / "plain.yaml"
    source.write_text(plain)
    done = subprocess.run(
        [
            str(binaries.ensure(versions.SOPS)), "encrypt", "--age", age.recipient,
            "--encrypted-regex", "^(data|stringData)$", str(source),
        ],
        capture_output=True, text=True, check=True, cwd=workdir,
        env={"HOME": str(workdir), "PATH": os.environ.get("PATH", "")},
    )  # fmt: skip
    source.unlink()
    assert PLAINTEXT not in done.stdout and "sops:" in done.stdout
    return done.stdout


def key_secret(name: str, *ages: Age) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": APPS_NAMESPACE},
        "data": {
            f"k{i}.agekey": base64.b64encode(a.identity_text.encode()).decode()
            for i, a in enumerate(ages)
        },
    }


def sops_app(name: str, repo_url: str, secret_name: str, *, prune: bool = False) -> JSON:
    app = application(name, repo_url, interval="2s")
    app["spec"]["source"]["decryption"] = {"secretRef": {"name": secret_name}}
    app["spec"]["syncPolicy"]["automated"] = {"prune": prune, "selfHeal": False}
    return app


def diff_cli(cluster: DevCluster, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "driftless.cli.main", f"--kubeconfig={cluster.kubeconfig}",
            "app", "diff", name, *args,
        ],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def leaks(text: str) -> bool:
    encoded = base64.b64encode(PLAINTEXT.encode()).decode()
    return PLAINTEXT in text or encoded in text


async def events_text(kube: KubeClient, name: str) -> str:
    events = await kube.list("v1", "Event", APPS_NAMESPACE)
    mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == name]
    return json.dumps(mine)


async def test_an_encrypted_secret_syncs_decrypted_and_never_shows(
    kube: KubeClient,
    controller: Controller,
    devcluster: DevCluster,
    make_git_repo: MakeGitRepo,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    name = unique("sops")
    age, stranger = Age(tmp_path / "team"), Age(tmp_path / "stranger")
    repo = make_git_repo(
        {"secret.yaml": encrypt(SECRET, age, tmp_path), "cm.yaml": configmap_manifest("c", {})}
    )
    await kube.apply(key_secret(f"{name}-keys", age), field_manager="test")
    await create_app(kube, sops_app(name, repo.url, f"{name}-keys", prune=True))
    app = await wait_for(kube, name, ready, what="the decrypted Secret synced")

    live = await kube.get("v1", "Secret", "db", name)
    assert live is not None
    assert base64.b64decode(live["data"]["password"]).decode() == PLAINTEXT
    assert "sops" not in live  # the metadata is not applied

    # A value changed by hand shows as changed, masked, in `app diff` (text and JSON).
    await kube.merge_patch(
        "v1", "Secret", "db", {"stringData": {"password": "by-hand"}}, namespace=name
    )
    shown = await asyncio.to_thread(diff_cli, devcluster, name)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert "+  password: '<changed: value in git>'" in shown.stdout
    as_json = await asyncio.to_thread(diff_cli, devcluster, name, "-o", "json")
    for output in (shown.stdout, shown.stderr, as_json.stdout, as_json.stderr):
        assert not leaks(output)

    # Git now has the Secret encrypted for another key only, and drops the ConfigMap: the
    # render stops with a condition naming the object; nothing is applied or pruned.
    repo.commit({"secret.yaml": encrypt(SECRET, stranger, tmp_path)}, delete=["cm.yaml"])
    app = await wait_for(kube, name, ready_false_with("DecryptionFailed"), what="DecryptionFailed")
    message = (condition(app, "Ready") or {}).get("message", "")
    assert "Secret db (secret.yaml:1) cannot be decrypted" in message, message
    assert "AGE-SECRET-KEY" not in message
    assert await kube.get("v1", "ConfigMap", "c", name) is not None  # not pruned
    still = await kube.get("v1", "Secret", "db", name)
    assert still is not None and base64.b64decode(still["data"]["password"]) == b"by-hand"

    assert not leaks(json.dumps(app.get("status")))
    assert not leaks(await events_text(kube, name))
    assert not leaks(caplog.text)
    assert "AGE-SECRET-KEY" not in caplog.text and "AGE-SECRET-KEY" not in json.dumps(app)


async def test_missing_key_secret_garbage_metadata_and_no_decryption_stop_the_render(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo, tmp_path: Path
) -> None:
    age = Age(tmp_path / "team")
    encrypted = encrypt(SECRET, age, tmp_path)
    garbage = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nsops: "trust me"\n'
    cases = {
        "nokey": (encrypted, "the decryption Secret driftless/nokey-absent does not exist", True),
        "garbage": (garbage, "Secret db (secret.yaml:1) has a 'sops' key that is not", True),
        "optout": (
            encrypted,
            "is SOPS-encrypted but the app sets no spec.source.decryption",
            False,
        ),
    }
    names = {}
    await kube.apply(key_secret("sops-garbage-keys", age), field_manager="test")
    for case, (document, _, opted_in) in cases.items():
        name = names[case] = unique(f"sops-{case}")
        repo = make_git_repo({"secret.yaml": document, "cm.yaml": configmap_manifest("c", {})})
        app = sops_app(name, repo.url, "nokey-absent" if case == "nokey" else "sops-garbage-keys")
        if not opted_in:
            del app["spec"]["source"]["decryption"]
        await create_app(kube, app)
    for case, (_, expected, _) in cases.items():
        name = names[case]
        app = await wait_for(kube, name, ready_false_with("DecryptionFailed"), what=case)
        message = (condition(app, "Ready") or {}).get("message", "")
        assert expected in message, message
        # The whole render stopped: not even the ConfigMap beside it was applied.
        assert await kube.get("v1", "ConfigMap", "c", name) is None
        assert await kube.get("v1", "Secret", "db", name) is None


async def test_the_server_diffs_and_shows_the_decrypted_secret_masked(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    git_http_server: GitHttpServer,
    tmp_path: Path,
) -> None:
    """The API server (and so the UI) plans with the same decryption as the controller."""
    name = unique("sops-server")
    age = Age(tmp_path / "team")
    repo = make_git_repo({"secret.yaml": encrypt(SECRET, age, tmp_path)})
    url = git_http_server.publish(repo.path, f"{name}.git")
    await kube.apply(key_secret(f"{name}-keys", age), field_manager="test")
    await create_app(kube, sops_app(name, url, f"{name}-keys"))
    await wait_for(kube, name, ready, what="the decrypted Secret synced")
    path = f"/api/v1/applications/{APPS_NAMESPACE}/{name}"
    async with serving(kube) as served:
        http = await served.login()
        try:
            answers = []
            for route in ("diff", "manifests"):
                async with http.get(f"{served.url.rstrip('/')}{path}/{route}") as response:
                    answers.append(await response.text())
                    assert response.status == 200, answers[-1]
        finally:
            await http.close()
    diff, manifests = (json.loads(text) for text in answers)
    # Decrypted before the diff: git and the cluster agree (ciphertext would differ).
    assert {(r["kind"], r["status"]) for r in diff["resources"]} >= {("Secret", "unchanged")}
    (secret,) = [m for m in manifests["manifests"] if m["kind"] == "Secret"]
    assert "sops" not in secret and secret["stringData"]["password"].startswith("<")
    assert not any(leaks(text) for text in answers)


def pgp_secret(name: str, pgp: Pgp) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": APPS_NAMESPACE},
        "data": {"team.asc": base64.b64encode(pgp.armored.encode()).decode()},
    }


async def test_pgp_keys_decrypt_in_a_keyring_in_memory_that_is_gone_afterwards(
    kube: KubeClient,
    controller: Controller,
    make_git_repo: MakeGitRepo,
    gpg_homes: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    name = unique("sops-pgp")
    pgp = await asyncio.to_thread(Pgp, gpg_homes / "team")
    locked = await asyncio.to_thread(Pgp, gpg_homes / "locked", passphrase="s3cret-pass")
    repo = make_git_repo(
        {"secret.yaml": encrypt_pgp(SECRET, pgp, tmp_path), "cm.yaml": configmap_manifest("c", {})}
    )
    await kube.apply(pgp_secret(f"{name}-keys", pgp), field_manager="test")
    await create_app(kube, sops_app(name, repo.url, f"{name}-keys", prune=True))
    await wait_for(kube, name, ready, what="the Secret decrypted with the PGP key synced")
    live = await kube.get("v1", "Secret", "db", name)
    assert live is not None
    assert base64.b64decode(live["data"]["password"]).decode() == PLAINTEXT

    # A passphrase-protected key: a clear condition; git drops the ConfigMap, nothing is pruned.
    await kube.apply(pgp_secret(f"{name}-keys", locked), field_manager="test")
    repo.commit({"secret.yaml": encrypt_pgp(SECRET, locked, tmp_path)}, delete=["cm.yaml"])
    app = await wait_for(kube, name, ready_false_with("DecryptionFailed"), what="protected key")
    message = (condition(app, "Ready") or {}).get("message", "")
    assert "is passphrase-protected" in message and f"{name}-keys" in message, message
    assert await kube.get("v1", "ConfigMap", "c", name) is not None  # not pruned
    for text in (json.dumps(app), caplog.text):
        assert "PGP PRIVATE KEY" not in text and pgp.armored.splitlines()[2] not in text
        assert not leaks(text)

    # Once the app is gone, no keyring directory and no gpg-agent of the controller remain.
    await kube.delete(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
    for _ in range(60):
        left = keyring_leftovers()
        if not left:
            break
        await asyncio.sleep(0.5)
    assert left == []


async def test_a_garbage_pgp_key_fails_cleanly_and_a_cancelled_decryption_leaves_no_keyring(
    gpg_homes: Path,
) -> None:
    """The real gpg on hostile key input; cleanup when the render is cancelled mid-way."""
    garbage = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nbm90IGEga2V5IGF0IGFsbA==\n=AAAA\n"
        "-----END PGP PRIVATE KEY BLOCK-----\n"
    )
    keys = sops_docs.parse_keys("demo/k", {"k.asc": base64.b64encode(garbage.encode()).decode()})
    with pytest.raises(SopsError, match="'demo/k': gpg could not import its PGP keys") as caught:
        async with sops_keyring.pgp_home(keys, gpg=shutil.which("gpg"), time_limit=30):
            pytest.fail("a garbage key must not yield a keyring")
    assert "bm90IGEga2V5" not in str(caught.value)
    assert keyring_leftovers() == []

    pgp = await asyncio.to_thread(Pgp, gpg_homes / "team")
    keys = sops_docs.parse_keys(
        "demo/k", {"k.asc": base64.b64encode(pgp.armored.encode()).decode()}
    )
    entered = asyncio.Event()

    async def decrypting() -> None:
        async with sops_keyring.pgp_home(keys, gpg=shutil.which("gpg"), time_limit=30) as gnupg:
            assert gnupg is not None and Path(gnupg.home, "pubring.kbx").exists()
            entered.set()
            await asyncio.Event().wait()  # a long decryption, cancelled below

    task = asyncio.create_task(decrypting())
    await asyncio.wait_for(entered.wait(), timeout=60)
    assert len(keyring_leftovers()) >= 1  # the keyring and its agent exist while in use
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert keyring_leftovers() == []
