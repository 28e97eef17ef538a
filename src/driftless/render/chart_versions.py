"""Choosing a chart version from a version or a semver range (pure).

``targetRevision`` of a chart-repository source is what users write for
``helm install --version``: an exact version (``1.2.3``, ``v1.2.3``), or a
range (``~1.2``, ``^1``, ``>=1.0 <2``, ``>= 1.0, < 2``, ``1.2.x``,
``>1 || <0.5``), or nothing (``""``, ``HEAD``, ``*``, ``latest``) for the
newest release. Ranges are read with ``semantic_version.NpmSpec`` after
rewriting Helm's (Masterminds) spellings — comma as AND, a space after the
operator — into npm's, which has the same meaning for these forms.

Contract of ``pick_version(wanted, available)``:

* an exact version picks the available version equal to it (``v`` prefix and
  missing ``.0`` parts ignored), prereleases included — an exact ask is exact;
* a range picks the highest available version inside it; prereleases only
  when the range itself names one (npm rules);
* returns the version string *as the repository spells it* (it names the
  tag or archive to fetch), or ``None`` when nothing matches;
* available strings that are not versions are ignored;
* ``InvalidRange`` (a ``ValueError``) for a range that cannot be parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import semantic_version  # type: ignore[import-untyped]

_LATEST = frozenset({"", "head", "*", "latest"})
_OPERATOR_SPACE = re.compile(r"(>=|<=|>|<|=|~|\^)\s+")
_EXACT = re.compile(r"^v?\d+(\.\d+){0,2}(-[0-9A-Za-z.\-]+)?(\+[0-9A-Za-z.\-]+)?$")


class InvalidRangeError(ValueError):
    """A targetRevision that is neither a version nor a semver range."""


def parse_version(text: str) -> semantic_version.Version | None:
    """``text`` as a version (``v`` prefix and short forms allowed); ``None`` if it is not."""
    candidate = text.strip()
    if candidate[:1] in ("v", "V"):
        candidate = candidate[1:]
    try:
        return semantic_version.Version(candidate)
    except ValueError:
        pass
    try:
        return semantic_version.Version.coerce(candidate)
    except ValueError:
        return None


def is_exact(wanted: str) -> bool:
    """Whether ``wanted`` names one version rather than a range."""
    return bool(_EXACT.match(wanted.strip()))


def to_npm_range(wanted: str) -> str:
    """Helm/Masterminds range syntax rewritten to npm's."""
    text = wanted.strip()
    if text.lower() in _LATEST:
        return "*"
    text = _OPERATOR_SPACE.sub(r"\1", text)
    return " ".join(text.replace(",", " ").split())


def pick_version(wanted: str, available: Iterable[str]) -> str | None:
    """The best of ``available`` for ``wanted`` (see the module contract)."""
    parsed = [(text, v) for text in available if (v := parse_version(text)) is not None]
    if is_exact(wanted):
        target = parse_version(wanted)
        matches = [text for text, v in parsed if v == target]
        # Prefer the repository's own spelling equal to what the user wrote.
        return wanted.strip() if wanted.strip() in matches else (matches[0] if matches else None)
    try:
        spec = semantic_version.NpmSpec(to_npm_range(wanted))
    except ValueError as exc:
        raise InvalidRangeError(f"{wanted!r} is neither a version nor a semver range") from exc
    best: tuple[semantic_version.Version, str] | None = None
    for text, version in parsed:
        if version in spec and (best is None or version > best[0]):
            best = (version, text)
    return best[1] if best else None


def newest(available: Iterable[str], count: int) -> list[str]:
    """Up to ``count`` of the highest versions of ``available``, highest first."""
    parsed = [(v, text) for text in available if (v := parse_version(text)) is not None]
    parsed.sort(key=lambda pair: pair[0], reverse=True)
    return [text for _, text in parsed[:count]]
