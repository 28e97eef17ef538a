"""The one writer of every ``list`` command (``app``, ``project``, ``repo``, ``cluster``).

A command builds a ``Listing`` (what it lists, its columns) and passes the
items; ``write`` prints them in the format of ``-o``, the same way for all:

* ``table`` (default) and ``wide``: kubectl's columns, padded to the widest
  cell and three spaces apart; ``wide`` adds the wide-only columns;
  ``--no-headers`` drops the header line. No item: a note on stderr
  (``No Projects found in namespace x.``), nothing on stdout.
* ``json`` and ``yaml``: kubectl's list, ``{"apiVersion": "v1", "kind":
  "List", "items": [...]}`` -- the items as they are passed (``[]`` when none).
* ``name``: ``<kind>.<group>/<name>`` per line, like ``kubectl get -o name``.

Items are JSON objects shaped like Kubernetes objects (``metadata.name``).
Callers redact before passing them: this module never sees a credential.
Listings of things stored as Secrets (repository credentials, clusters)
pass *views* -- ``view(...)`` -- rather than the Secrets: the facts a table
shows (URL, type, server, kind of authentication), never a value of the
Secret's ``data``. A view's ``kind`` names what it is (``RepositoryCredential``,
``Cluster``, group ``driftless.dev``); no such API kind exists in the cluster.

The rendering functions are pure (``render`` returns the text); ``write``
only echoes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from driftless.cli.output import age, dump, table
from driftless.core.models import API_VERSION

JSON = dict[str, Any]
Cell = Callable[[JSON], str]


@dataclass(frozen=True)
class Column:
    """One table column: its header and how to read its cell from an item."""

    header: str
    cell: Cell
    wide: bool = False  # shown only with ``-o wide``


@dataclass(frozen=True)
class Listing:
    """What a ``list`` command lists.

    ``resource``: kubectl's ``<kind>.<group>`` (``application.driftless.dev``;
    just ``<kind>`` for the core group), the prefix of ``-o name``;
    ``empty``: the note on stderr when there is nothing to list.
    """

    resource: str
    columns: Sequence[Column]
    empty: str = "No resources found."
    leading: Sequence[Column] = field(default_factory=tuple)  # e.g. NAMESPACE with -A


def columns_for(listing: Listing, output: str) -> list[Column]:
    """The columns ``output`` shows (``wide``: every column). Pure."""
    wide = output == "wide"
    return [*listing.leading, *(c for c in listing.columns if wide or not c.wide)]


def name_of(item: JSON) -> str:
    return str((item.get("metadata") or {}).get("name", ""))


def as_list(items: Sequence[JSON]) -> JSON:
    """kubectl's ``List``. Pure."""
    return {"apiVersion": "v1", "kind": "List", "items": list(items)}


def render(
    listing: Listing, items: Sequence[JSON], output: str, *, no_headers: bool = False
) -> str:
    """The text ``-o output`` prints on stdout (``""``: nothing). Pure."""
    if output in ("json", "yaml"):
        return dump(as_list(items), output)
    if output == "name":
        return "\n".join(f"{listing.resource}/{name_of(item)}" for item in items)
    if output not in ("table", "wide"):
        raise click.UsageError(f"unknown output format {output!r}")
    if not items:
        return ""
    cols = columns_for(listing, output)
    rows = [[col.cell(item) for col in cols] for item in items]
    return table([c.header for c in cols], rows, no_headers=no_headers)


def write(
    listing: Listing, items: Sequence[JSON], output: str, *, no_headers: bool = False
) -> None:
    """Print the listing; an empty table is a note on stderr instead."""
    if not items and output in ("table", "wide"):
        click.echo(listing.empty, err=True)
        return
    text = render(listing, items, output, no_headers=no_headers)
    if text:
        click.echo(text)


def view(
    kind: str,
    name: str,
    *,
    namespace: str | None,
    created: str | None,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
) -> JSON:
    """An item for something stored as a Secret, holding only what may be shown."""
    metadata: JSON = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if created:
        metadata["creationTimestamp"] = created
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "spec": dict(spec),
        "status": dict(status),
    }


def age_column(*, wide: bool = False) -> Column:
    """AGE, from ``metadata.creationTimestamp`` (kubectl's short form)."""
    return Column("age", lambda item: age(field_of("metadata", "creationTimestamp")(item)), wide)


def field_of(*path: str, default: str = "") -> Cell:
    """A cell reading ``item[path[0]][path[1]]...`` as a string (``default`` when absent)."""

    def cell(item: JSON) -> str:
        value: Any = item
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return default if value is None or value == "" else str(value)

    return cell
