"""The decryption step between render and diff: when it reads the key Secret and how it fails.

The real sops and the real cluster are exercised by tests/integration/test_sops.py; here the
render and the Secret read are stand-ins so each decision is checked on its own.
"""

from __future__ import annotations

import base64
from typing import Any, cast

import pytest

from driftless.core.errors import RenderError
from driftless.core.models import Application
from driftless.core.reasons import Reason
from driftless.core.resources import Manifest
from driftless.kube.client import KubeClient
from driftless.kube.errors import KubeForbiddenError, KubeUnavailableError
from driftless.pipeline.decryption import Decrypting
from driftless.pipeline.renderers import Rendered
from driftless.render import KubeTarget

pytestmark = pytest.mark.asyncio
IDENTITY = "AGE-SECRET-KEY-1" + "Q" * 58
PLAIN = Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "cm.yaml")
ENCRYPTED = Manifest(
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "sops": {"mac": "x"}},
    "db.yaml",
    1,
)


class Fixed:
    def __init__(self, *manifests: Manifest) -> None:
        self.manifests = list(manifests)

    async def render(
        self, app: Application, revision: str | None, kube: KubeTarget, *, fresh: bool = False
    ) -> Rendered:
        return Rendered("abc", self.manifests)


class Secrets:
    """Answers ``get`` with one object or error, and counts the reads."""

    def __init__(self, answer: Any) -> None:
        self.answer, self.reads = answer, 0

    async def get(self, api_version: str, kind: str, name: str, namespace: str) -> Any:
        self.reads += 1
        assert (api_version, kind, namespace) == ("v1", "Secret", "team-a")
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _app(decryption: bool = True) -> Application:
    source: dict[str, Any] = {"repoURL": "https://x/r.git"}
    if decryption:
        source["decryption"] = {"secretRef": {"name": "keys"}}
    return Application.model_validate(
        {"metadata": {"name": "a", "namespace": "team-a"}, "spec": {"source": source}}
    )


def _decrypting(secrets: Secrets, *manifests: Manifest, sops: str | None = "/no/sops") -> Any:
    return Decrypting(Fixed(*manifests), cast(KubeClient, secrets), sops=sops)


async def _failure(decrypting: Decrypting, app: Application) -> str:
    with pytest.raises(RenderError) as caught:
        await decrypting.render(app, None, KubeTarget("v1.36.0"))
    assert caught.value.reason is Reason.DECRYPTION_FAILED
    return caught.value.message


async def test_a_render_without_encrypted_documents_reads_no_secret() -> None:
    secrets = Secrets(KubeUnavailableError(0, "down"))
    rendered = await _decrypting(secrets, PLAIN).render(_app(), None, KubeTarget("v1.36.0"))
    assert rendered.manifests == [PLAIN] and secrets.reads == 0


async def test_an_encrypted_document_without_decryption_set_is_refused() -> None:
    message = await _failure(_decrypting(Secrets(None), PLAIN, ENCRYPTED), _app(False))
    assert message.startswith("Secret db (db.yaml:1) is SOPS-encrypted but the app sets no")


async def test_the_key_secret_missing_or_forbidden_names_it() -> None:
    missing = await _failure(_decrypting(Secrets(None), ENCRYPTED), _app())
    assert missing == "the decryption Secret team-a/keys does not exist"
    forbidden = Secrets(KubeForbiddenError(403, "no"))
    assert "may not read the decryption Secret team-a/keys" in await _failure(
        _decrypting(forbidden, ENCRYPTED), _app()
    )


async def test_an_unreachable_api_server_is_not_a_decryption_failure() -> None:
    decrypting = _decrypting(Secrets(KubeUnavailableError(0, "refused")), ENCRYPTED)
    with pytest.raises(KubeUnavailableError, match="cannot read the decryption Secret"):
        await decrypting.render(_app(), None, KubeTarget("v1.36.0"))


async def test_no_sops_binary_and_bad_keys_fail_with_a_condition() -> None:
    good = {"data": {"k.agekey": base64.b64encode(IDENTITY.encode()).decode()}}
    no_sops = await _failure(_decrypting(Secrets(good), ENCRYPTED, sops=None), _app())
    assert "sops is not installed" in no_sops
    no_keys = await _failure(_decrypting(Secrets({"data": {}}), ENCRYPTED), _app())
    assert "has no age identity" in no_keys


async def test_sops_that_cannot_start_is_an_operator_problem() -> None:
    good = {"data": {"k.agekey": base64.b64encode(IDENTITY.encode()).decode()}}
    decrypting = _decrypting(Secrets(good), ENCRYPTED, sops="/nonexistent/sops")
    with pytest.raises(Exception, match="cannot start sops") as caught:
        await decrypting.render(_app(), None, KubeTarget("v1.36.0"))
    assert IDENTITY not in str(caught.value)
