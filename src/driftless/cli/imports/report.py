"""What a conversion returns: the driftless objects and what could not be carried. Pure.

A ``Finding`` names the source object (``Kind namespace/name``), the field and
the reason, never a value of the field (a Secret's value must not reach a
terminal or a log). Its ``severity``:

* ``unsupported``: driftless has no equivalent; the field (or the whole
  object) is left out of the output. Any such finding makes ``driftless
  import`` exit non-zero unless ``--allow-partial``;
* ``skipped``: left out on purpose (a credential without
  ``--include-secrets``); not an error;
* ``note``: carried over, but the user should know how (a default that
  differs, an equivalent that is already driftless's behaviour).

``Conversion`` collects both; converters append to it, so the order of the
output follows the order of the input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSON = dict[str, Any]


class Severity(StrEnum):
    UNSUPPORTED = "not expressible"
    SKIPPED = "skipped"
    NOTE = "note"


@dataclass(frozen=True)
class Finding:
    """One field (or object, ``field=""``) and why it was not carried as is."""

    source: str
    field: str
    reason: str
    severity: Severity = Severity.UNSUPPORTED

    def line(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        return f"{self.severity}: {where}: {self.reason}"


@dataclass
class Conversion:
    """The driftless objects made so far and the findings about the input."""

    objects: list[JSON] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def unsupported(self, source: str, field_: str, reason: str) -> None:
        self.findings.append(Finding(source, field_, reason))

    def note(self, source: str, field_: str, reason: str) -> None:
        self.findings.append(Finding(source, field_, reason, Severity.NOTE))

    def skipped(self, source: str, field_: str, reason: str) -> None:
        self.findings.append(Finding(source, field_, reason, Severity.SKIPPED))

    @property
    def partial(self) -> bool:
        """Something of the input could not be expressed."""
        return any(f.severity is Severity.UNSUPPORTED for f in self.findings)


def describe(obj: JSON) -> str:
    """``Kind namespace/name`` of an input object, for findings."""
    meta = mapping(obj.get("metadata"))
    name = str(meta.get("name") or "<unnamed>")
    namespace = meta.get("namespace")
    return (
        f"{obj.get('kind', '<no kind>')} {namespace}/{name}"
        if namespace
        else (f"{obj.get('kind', '<no kind>')} {name}")
    )


def leftover(
    out: Conversion,
    source: str,
    prefix: str,
    body: Any,
    handled: frozenset[str],
    reason: str,
    reasons: Mapping[str, str] | None = None,
) -> None:
    """List every key of ``body`` not in ``handled``: nothing is dropped silently.

    Each is listed with its own entry of ``reasons`` when it has one, else ``reason``.
    """
    if not isinstance(body, dict):
        return
    for key in body:
        if key not in handled:
            out.unsupported(source, f"{prefix}.{key}", (reasons or {}).get(key, reason))


def mapping(value: Any) -> JSON:
    """``value`` when it is a mapping, else ``{}`` (input objects are untrusted)."""
    return value if isinstance(value, dict) else {}
