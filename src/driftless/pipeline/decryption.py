"""SOPS decryption between the render and the diff: a ``Renderer`` around another.

``Decrypting(inner, secrets)`` renders with ``inner``, then replaces every
SOPS-encrypted document of the render (``render.sops_docs.is_encrypted``) by
its plaintext, decrypted by sops in memory (``render.sops_exec``).

Contract:

* An app opts in with ``spec.source.decryption.secretRef.name``: a Secret in
  the **Application's own namespace** whose ``*.agekey`` entries hold age
  identities and ``*.asc`` entries armored PGP private keys (imported for the
  render into a keyring in memory, ``render.sops_keyring``, removed right after).
  Never the controller's namespace: a tenant who may create apps
  in namespace ``team-a`` could otherwise name the administrator's keys and
  have the controller decrypt, into a destination the tenant controls, any
  Secret encrypted for them (a confused deputy). Reading it in the app's own
  namespace means a tenant uses only keys it could read itself, as Flux does.
  ``secrets`` is the client of the cluster holding the apps (not the
  destination's).
* A render without encrypted documents is returned as it is; the Secret is
  read only when a document needs it; a PGP keyring is made only when the
  Secret holds PGP keys.
* A render with an encrypted document fails as a whole (``RenderError`` with
  reason ``DecryptionFailed``: nothing is applied, nothing pruned) when the
  app sets no decryption, the Secret is missing, unreadable or holds no key,
  a PGP key is passphrase-protected or there is no tmpfs for its keyring,
  sops (or gpg, for PGP keys) is not installed, or any document does not decrypt (wrong key,
  garbage metadata, too large). The message names the object and the
  Secret, never a key or a value.
* The render cache (inside ``inner``) holds the encrypted documents only;
  plaintext lives in the plan of one pass. Decrypted Secrets are masked in
  every diff like any Secret (``diff.secrets``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass, field

from driftless.core.errors import RenderError
from driftless.core.models import Application
from driftless.core.reasons import Reason
from driftless.core.resources import Manifest
from driftless.devcluster import binaries, versions
from driftless.kube.client import KubeClient
from driftless.kube.errors import KubeApiError, KubeForbiddenError
from driftless.pipeline.renderers import Rendered, Renderer
from driftless.render import KubeTarget, sops_docs, sops_exec, sops_keyring
from driftless.render.sops_docs import SopsError, SopsKeys

#: Documents decrypted at once (each is one sops process).
CONCURRENCY = 4


def find_sops() -> str | None:
    """The pinned sops ``devcluster build`` caches, else ``sops`` on PATH, else None."""
    pinned = binaries.binary_path(versions.SOPS)
    if os.access(pinned, os.X_OK):
        return str(pinned)
    return shutil.which("sops")


def _failed(message: str) -> RenderError:
    return RenderError(message, reason=Reason.DECRYPTION_FAILED)


@dataclass
class Decrypting:
    """``inner``'s render with its SOPS documents decrypted (see the module contract)."""

    inner: Renderer
    secrets: KubeClient
    sops: str | None = field(default_factory=find_sops)
    gpg: str | None = field(default_factory=lambda: shutil.which("gpg"))
    time_limit: float = sops_exec.DEFAULT_TIME_LIMIT

    async def render(
        self, app: Application, revision: str | None, kube: KubeTarget, *, fresh: bool = False
    ) -> Rendered:
        rendered = await self.inner.render(app, revision, kube, fresh=fresh)
        encrypted = [i for i, m in enumerate(rendered.manifests) if sops_docs.is_encrypted(m)]
        if not encrypted:
            return rendered
        keys = await self._keys(app, rendered.manifests[encrypted[0]])
        sops = self.sops
        if sops is None:
            raise _failed(
                "sops is not installed: run `driftless devcluster build` or put sops on PATH"
            )
        try:
            async with sops_keyring.pgp_home(
                keys, gpg=self.gpg, time_limit=self.time_limit
            ) as gnupg:
                plain = await self._decrypt_all(
                    [rendered.manifests[i] for i in encrypted], keys, sops, gnupg
                )
        except SopsError as exc:
            raise _failed(str(exc)) from None
        manifests = list(rendered.manifests)
        for index, document in zip(encrypted, plain, strict=True):
            manifests[index] = document
        return Rendered(rendered.revision, manifests)

    async def _decrypt_all(
        self,
        documents: list[Manifest],
        keys: SopsKeys,
        sops: str,
        gnupg: sops_keyring.GnuPG | None,
    ) -> list[Manifest]:
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(manifest: Manifest) -> Manifest:
            async with slots:
                return await sops_exec.decrypt(
                    manifest, keys, sops=sops, time_limit=self.time_limit, gnupg=gnupg
                )

        return await asyncio.gather(*(one(m) for m in documents))

    async def _keys(self, app: Application, first: Manifest) -> SopsKeys:
        decryption = app.spec.source.decryption
        if decryption is None:
            raise _failed(
                f"{sops_docs.describe(first)} is SOPS-encrypted but the app sets no"
                " spec.source.decryption.secretRef; it is never applied encrypted"
            )
        name = decryption.secret_ref.name
        where = f"Secret {app.namespace}/{name}"
        try:
            secret = await self.secrets.get("v1", "Secret", name, app.namespace)
        except KubeForbiddenError:
            raise _failed(f"the controller may not read the decryption {where}") from None
        except KubeApiError as exc:
            raise exc.in_context(f"cannot read the decryption {where}") from None
        if secret is None:
            raise _failed(f"the decryption {where} does not exist")
        data = secret.get("data")
        try:
            return sops_docs.parse_keys(
                f"{app.namespace}/{name}", data if isinstance(data, dict) else None
            )
        except SopsError as exc:
            raise _failed(str(exc)) from None
