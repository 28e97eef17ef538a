"""Print objects the way kubectl does: aligned tables, or json / yaml / name."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click
import yaml

OUTPUT_FORMATS = ("table", "wide", "json", "yaml", "name")


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, no_headers: bool = False
) -> str:
    """Columns padded to their widest cell and separated by three spaces, like kubectl."""
    all_rows = [list(rows_) for rows_ in rows]
    if not no_headers:
        all_rows.insert(0, [h.upper() for h in headers])
    if not all_rows:
        return ""
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(headers))]
    lines = [
        "   ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in all_rows
    ]
    return "\n".join(lines)


def dump(objects: list[dict[str, Any]] | dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(objects, indent=2, sort_keys=False)
    if fmt == "yaml":
        return yaml.safe_dump(objects, sort_keys=False, default_flow_style=False).rstrip()
    raise click.UsageError(f"unknown output format {fmt!r}")


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """kubectl's short age: 45s, 12m, 3h, 5d."""
    if not timestamp:
        return "<unknown>"
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"
