"""The project API tokens' Secret: read it, and change it without losing another writer's change.

The table (``pipeline.tokens.TokenTable``: signing keys and token records) is
Secret ``deployment.TOKENS_SECRET`` in the controller's namespace. ``update``
is a read-modify-write guarded by the Secret's ``resourceVersion`` (a create
when it does not exist yet), retried on conflict, so two administrators
issuing tokens at once both keep theirs. The server only reads it
(``server.tokens`` watches it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from driftless.core import deployment
from driftless.core.wellknown import API_TOKENS_SECRET_TYPE, SECRET_TYPE_LABEL
from driftless.kube.client import KubeClient, KubeConflictError, KubeInvalidError
from driftless.pipeline import tokens

__all__ = ["SECRET", "TOKENS_SECRET_LABELS", "TOKENS_SECRET_SELECTOR", "TokenStore"]

SECRET = deployment.TOKENS_SECRET
#: The label that tells the tokens' Secret apart: the server watches only it.
TOKENS_SECRET_LABELS: Final = {SECRET_TYPE_LABEL: API_TOKENS_SECRET_TYPE}
TOKENS_SECRET_SELECTOR: Final = f"{SECRET_TYPE_LABEL}={API_TOKENS_SECRET_TYPE}"
_ATTEMPTS = 5
T = TypeVar("T")


class TokenStore:
    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    async def read(self) -> tokens.TokenTable:
        table, _ = await self._read()
        return table

    async def update(self, change: Callable[[tokens.TokenTable], tuple[tokens.TokenTable, T]]) -> T:
        """Apply ``change`` to the stored table and store the result; returns its second item.

        ``change`` may run more than once (a conflicting writer); its
        ``TokenError`` propagates and nothing is written.
        """
        for attempt in range(_ATTEMPTS):
            table, version = await self._read()
            new, result = change(table)
            try:
                if version is None:
                    await self.client.create(self._secret(new))
                else:
                    guarded: list[dict[str, Any]] = [
                        {"op": "test", "path": "/metadata/resourceVersion", "value": version},
                        {"op": "add", "path": "/data", "value": tokens.data_of(new)},
                    ]
                    await self.client.json_patch(
                        "v1", "Secret", SECRET, guarded, namespace=self.namespace
                    )
            except (KubeConflictError, KubeInvalidError):  # written meanwhile: read again
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(self) -> tuple[tokens.TokenTable, str | None]:
        secret = await self.client.get("v1", "Secret", SECRET, self.namespace)
        if secret is None:
            return tokens.TokenTable(), None
        return tokens.table_of(secret.get("data")), secret["metadata"]["resourceVersion"]

    def _secret(self, table: tokens.TokenTable) -> dict[str, Any]:
        meta = {
            "name": SECRET,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/part-of": "driftless", **TOKENS_SECRET_LABELS},
        }
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta,
            "type": "Opaque",
            "data": tokens.data_of(table),
        }
