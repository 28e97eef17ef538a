"""Writing driftless objects from the CLI: create, upsert, read-modify-write.

Every command that changes an object goes through here, so they share one set
of rules:

* creation refuses to overwrite: ``create_only`` fails with a clear message
  when the object exists (``--upsert`` commands call ``upsert`` instead);
  both write with server-side apply under the field manager ``driftless-cli``;
* edits are read-modify-write: ``update`` reads the object, asks the caller
  for a JSON merge patch, and sends it with the ``resourceVersion`` it read,
  so an edit made meanwhile by someone else makes the API server answer 409
  instead of being silently overwritten. The edit is then recomputed from the
  fresh object (callers express edits as operations — "add this repo" — so a
  retry keeps both changes) a few times before giving up;
* user input is validated before anything is sent: pydantic errors become
  one ``Error: ...`` line naming the field (``validation_message``);
* a cluster without the driftless CRDs gives a hint to run ``driftless
  install`` instead of a traceback (``context.run_async``, for every command).

``merge_patch_diff``, ``validation_message`` and the name rule are
``pipeline.app_spec``'s (the API server checks with them too); the parsing
helpers here are pure.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from driftless.kube.client import KubeClient, KubeConflictError
from driftless.pipeline import app_spec
from driftless.pipeline.app_spec import merge_patch_diff as merge_patch_diff
from driftless.pipeline.app_spec import validation_message as validation_message

JSON = dict[str, Any]
T = TypeVar("T")

CLI_FIELD_MANAGER = "driftless-cli"
UPDATE_ATTEMPTS = 4

PatchFor = Callable[[JSON], JSON]


# -- calling the API -----------------------------------------------------------------


async def get_or_fail(
    client: KubeClient, api_version: str, kind: str, name: str, namespace: str
) -> JSON:
    """The object, or ``Error: <kind> "name" not found in namespace ns``."""
    obj = await client.get(api_version, kind, name, namespace)
    if obj is None:
        raise click.ClickException(f'{kind.lower()} "{name}" not found in namespace {namespace}')
    return obj


async def create_only(client: KubeClient, obj: JSON) -> None:
    """Create ``obj``; fail (changing nothing) when an object of that name exists.

    Server-side apply without ``force``: in the short window between the
    existence check and the write, a concurrent creator's differing fields
    make the apply fail with a conflict rather than be overwritten.
    """
    meta = obj["metadata"]
    existing = await client.get(obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"])
    if existing is not None:
        raise click.ClickException(
            f'{obj["kind"].lower()} "{meta["name"]}" already exists in namespace'
            f" {meta['namespace']}; use --upsert to replace its spec"
        )
    await apply(client, obj, force=False)


async def upsert(client: KubeClient, obj: JSON) -> None:
    """Create ``obj`` or make its fields ours and equal to ``obj`` (server-side apply)."""
    await apply(client, obj, force=True)


async def apply(client: KubeClient, obj: JSON, *, force: bool) -> None:
    try:
        await client.apply(obj, field_manager=CLI_FIELD_MANAGER, force=force)
    except KubeConflictError as exc:
        raise click.ClickException(
            f"{obj['kind'].lower()} {obj['metadata']['name']} was changed by someone"
            f" else: {exc.message}"
        ) from None


async def update(
    client: KubeClient,
    api_version: str,
    kind: str,
    name: str,
    namespace: str,
    patch_for: PatchFor,
    *,
    attempts: int = UPDATE_ATTEMPTS,
) -> tuple[JSON, bool]:
    """Read-modify-write one object; returns (object as stored now, whether it changed).

    ``patch_for(current)`` returns the JSON merge patch the edit needs (``{}``
    when there is nothing to change); it must be a pure function of
    ``current`` since it runs again on the fresh object after a conflict.
    """
    for _ in range(attempts):
        current = await get_or_fail(client, api_version, kind, name, namespace)
        patch = patch_for(copy.deepcopy(current))
        if not patch:
            return current, False
        patch.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        try:
            updated = await client.merge_patch(api_version, kind, name, patch, namespace=namespace)
        except KubeConflictError:
            continue
        return updated, True
    raise click.ClickException(
        f'{kind.lower()} "{name}" kept changing while being edited ({attempts} attempts); try again'
    )


# -- pure helpers (the rules are ``pipeline.app_spec``'s, shared with the API server) ---------


def check_name(name: str, what: str) -> str:
    """Return ``name`` if Kubernetes accepts it as an object name, else a usage error."""
    try:
        return app_spec.check_name(name)
    except app_spec.SpecError:
        raise click.BadParameter(
            f"{name!r} is not a valid {what} name: {app_spec.NAME_RULE}", param_hint="'NAME'"
        ) from None


def key_value(text: str, flag: str) -> tuple[str, str]:
    """Split ``KEY=VALUE`` (the value may contain ``=``); a usage error otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint=f"'{flag}'")
    return key.strip(), value


def load_documents(source: str) -> list[JSON]:
    """The YAML/JSON documents of a file (``-``: stdin); ``kind: List`` is flattened.

    Empty documents are skipped; anything that is not a mapping is a usage error.
    """
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {source}: {exc}", param_hint="'-f'") from None
    where = "stdin" if source == "-" else source
    try:
        raw_docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{where}: invalid YAML: {exc}", param_hint="'-f'") from None
    documents: list[JSON] = []
    for index, doc in enumerate(raw_docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise click.BadParameter(
                f"{where}: document {index} is not a mapping", param_hint="'-f'"
            )
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            documents.extend(item for item in doc["items"] if isinstance(item, dict))
        else:
            documents.append(doc)
    return documents
