"""Custom health checks: per (group, kind) rules written in CEL.

A check replaces the built-in judgement for its kind. Its rules are tried in
order; the first whose ``when`` is true gives the verdict::

    healthChecks:
      - group: example.com            # or apiVersion: example.com/v1; "" is the core group
        kind: Widget
        rules:
          - when: "has(self.status.phase) && self.status.phase == 'Failed'"
            status: Degraded          # Healthy | Progressing | Degraded | Suspended
            message: "'widget failed: ' + self.status.reason"   # optional, a CEL string
          - when: "self.spec.paused == true"
            status: Suspended
          - when: "self.status.phase == 'Ready'"
            status: Healthy

Flux users can keep their ``healthCheckExprs``: an entry with ``current`` (and
optionally ``inProgress`` and ``failed``) instead of ``rules`` becomes the rules
inProgress → Progressing, failed → Degraded, current → Healthy, and, when none
holds, Progressing — Flux's order and default.

Semantics:

* no rule matches → the built-in judgement applies (the kind's assessor, else
  kstatus conditions), so a check may cover only the cases it cares about; end
  with ``when: "true"`` to decide every case yourself;
* an expression that fails at run time (a missing field: guard with ``has()``;
  a type mismatch; over the evaluation bounds of ``expressions``) → Unknown, with
  the rule and the error in the message; ``assess`` never raises;
* ``when`` must evaluate to a bool and ``message`` to a string, else Unknown;
* everything is compiled and checked when the check is built, so a typo is a
  configuration error (``CustomHealthCheckError``) that names the entry, the field
  and the position, never a surprise at the first evaluation.

``parse_custom_checks`` turns plain data (a list of entries, a mapping holding
them under ``healthChecks``, or YAML text of either) into checks, wherever the
configuration lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from driftless.core.errors import StallingError
from driftless.core.models import HealthStatusCode
from driftless.core.reasons import Reason
from driftless.health.expressions import (
    Bindings,
    EvaluationError,
    Expression,
    ExpressionError,
    bind,
    compile_expression,
    evaluate,
)
from driftless.health.result import HealthResult, unknown

RULE_STATUSES = (
    HealthStatusCode.HEALTHY,
    HealthStatusCode.PROGRESSING,
    HealthStatusCode.DEGRADED,
    HealthStatusCode.SUSPENDED,
)
_FLUX_KEYS = (
    ("inProgress", HealthStatusCode.PROGRESSING),
    ("failed", HealthStatusCode.DEGRADED),
    ("current", HealthStatusCode.HEALTHY),
)
_CHECK_KEYS = frozenset({"group", "apiVersion", "kind", "rules", *(k for k, _ in _FLUX_KEYS)})
_RULE_KEYS = frozenset({"when", "status", "message"})


class CustomHealthCheckError(StallingError):
    """A custom health check configuration that cannot be used; the message says where."""

    reason = Reason.VALIDATION_FAILED


@dataclass(frozen=True)
class HealthRule:
    """When ``when`` holds for an object, its health is ``status`` (with ``message``).

    Both expressions are compiled on construction; ``CustomHealthCheckError``
    names the offending field.
    """

    when: str
    status: HealthStatusCode
    message: str | None = None
    _when: Expression = field(init=False, compare=False, repr=False)
    _message: Expression | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.status not in RULE_STATUSES:
            allowed = ", ".join(RULE_STATUSES)
            raise CustomHealthCheckError(f"status: {self.status!r} is not one of {allowed}")
        object.__setattr__(self, "_when", _compile("when", self.when))
        compiled = None if self.message is None else _compile("message", self.message)
        object.__setattr__(self, "_message", compiled)

    @property
    def variables(self) -> frozenset[str]:
        """The object variables the rule's expressions read."""
        message = self._message.variables if self._message is not None else frozenset()
        return self._when.variables | message

    def judge(self, bindings: Bindings) -> HealthResult | None:
        """The verdict if the rule matches, None if not; ``EvaluationError`` on failure."""
        matched = evaluate(self._when, bindings)
        if not isinstance(matched, bool):
            raise EvaluationError(f"'when' gave {type(matched).__name__}, not a bool")
        if not matched:
            return None
        if self._message is None:
            return HealthResult(self.status, f"custom health check: {self.when}")
        text = evaluate(self._message, bindings)
        if not isinstance(text, str):
            raise EvaluationError(f"'message' gave {type(text).__name__}, not a string")
        return HealthResult(self.status, text)


@dataclass(frozen=True)
class CustomHealthCheck:
    """The rules that judge objects of one (group, kind); "" is the core group."""

    group: str
    kind: str
    rules: tuple[HealthRule, ...]
    _variables: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.kind:
            raise CustomHealthCheckError("kind: must not be empty")
        if not self.rules:
            raise CustomHealthCheckError("rules: at least one rule is needed")
        object.__setattr__(self, "rules", tuple(self.rules))
        variables = frozenset().union(*(rule.variables for rule in self.rules))
        object.__setattr__(self, "_variables", variables)

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.kind)

    def evaluate(self, obj: Mapping[str, Any]) -> HealthResult | None:
        """The first matching rule's verdict; None when none matches; Unknown on error."""
        try:
            bindings = bind(obj, self._variables)
        except EvaluationError as err:
            return unknown(f"custom health check for {self.kind}: {err}")
        for index, rule in enumerate(self.rules):
            try:
                verdict = rule.judge(bindings)
            except EvaluationError as err:
                return unknown(f"custom health check for {self.kind}, rules[{index}]: {err}")
            if verdict is not None:
                return verdict
        return None


def parse_custom_checks(data: object) -> list[CustomHealthCheck]:
    """Custom health checks from plain data; ``CustomHealthCheckError`` says what is wrong.

    ``data`` is a list of entries, a mapping with the list under ``healthChecks``,
    or YAML text of either (``None`` or empty text: no checks). Two entries for
    the same (group, kind) are an error.
    """
    entries = _entries(data)
    checks: list[CustomHealthCheck] = []
    for index, entry in enumerate(entries):
        where = f"healthChecks[{index}]"
        if isinstance(entry, Mapping) and entry.get("kind"):
            where += f" ({entry.get('apiVersion') or entry.get('group') or 'core'}/{entry['kind']})"
        try:
            checks.append(_check(entry))
        except CustomHealthCheckError as err:
            raise CustomHealthCheckError(f"{where}: {err.message}") from None
    ensure_unique(checks)
    return checks


def ensure_unique(checks: Iterable[CustomHealthCheck]) -> None:
    """Raise ``CustomHealthCheckError`` if two checks judge the same (group, kind)."""
    seen: set[tuple[str, str]] = set()
    for check in checks:
        if check.key in seen:
            group = check.group or "core"
            raise CustomHealthCheckError(f"two health checks for {group}/{check.kind}")
        seen.add(check.key)


def _compile(name: str, source: object) -> Expression:
    if not isinstance(source, str):
        raise CustomHealthCheckError(f"{name}: must be a string holding a CEL expression")
    try:
        return compile_expression(source)
    except ExpressionError as err:
        raise CustomHealthCheckError(f"{name}: {err}") from None


def _entries(data: object) -> Sequence[object]:
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as err:
            raise CustomHealthCheckError(f"health checks are not valid YAML: {err}") from None
    if data is None:
        return []
    if isinstance(data, Mapping):
        if set(data) - {"healthChecks"}:
            unexpected = ", ".join(sorted(map(str, set(data) - {"healthChecks"})))
            raise CustomHealthCheckError(f"unexpected keys {unexpected}; expected healthChecks")
        data = data.get("healthChecks") or []
    if not isinstance(data, list):
        raise CustomHealthCheckError("health checks must be a list of entries")
    return data


def _check(entry: object) -> CustomHealthCheck:
    if not isinstance(entry, Mapping):
        raise CustomHealthCheckError("must be a mapping with kind and rules")
    _no_unknown_keys(entry, _CHECK_KEYS)
    kind = entry.get("kind")
    if not isinstance(kind, str) or not kind:
        raise CustomHealthCheckError("kind: required, a string")
    return CustomHealthCheck(group=_group(entry), kind=kind, rules=_rules(entry))


def _group(entry: Mapping[str, Any]) -> str:
    if "group" in entry and "apiVersion" in entry:
        raise CustomHealthCheckError("give group or apiVersion, not both")
    if "apiVersion" in entry:
        api_version = entry["apiVersion"]
        if not isinstance(api_version, str) or not api_version:
            raise CustomHealthCheckError("apiVersion: must be a non-empty string")
        return api_version.rpartition("/")[0]
    group = entry.get("group") or ""
    if not isinstance(group, str):
        raise CustomHealthCheckError("group: must be a string")
    return group


def _rules(entry: Mapping[str, Any]) -> tuple[HealthRule, ...]:
    flux = [key for key, _ in _FLUX_KEYS if key in entry]
    if "rules" in entry and flux:
        raise CustomHealthCheckError(f"give rules or {'/'.join(flux)}, not both")
    if flux:
        return _flux_rules(entry)
    raw = entry.get("rules")
    if not isinstance(raw, list) or not raw:
        raise CustomHealthCheckError("rules: required, a non-empty list")
    rules = []
    for index, rule in enumerate(raw):
        try:
            rules.append(_rule(rule))
        except CustomHealthCheckError as err:
            raise CustomHealthCheckError(f"rules[{index}]: {err.message}") from None
    return tuple(rules)


def _rule(raw: object) -> HealthRule:
    if not isinstance(raw, Mapping):
        raise CustomHealthCheckError("must be a mapping with when and status")
    _no_unknown_keys(raw, _RULE_KEYS)
    if "when" not in raw:
        raise CustomHealthCheckError("when: required")
    status = raw.get("status")
    if status not in RULE_STATUSES:
        allowed = ", ".join(RULE_STATUSES)
        raise CustomHealthCheckError(f"status: {status!r} is not one of {allowed}")
    return HealthRule(when=raw["when"], status=HealthStatusCode(status), message=raw.get("message"))


def _flux_rules(entry: Mapping[str, Any]) -> tuple[HealthRule, ...]:
    if "current" not in entry:
        raise CustomHealthCheckError("current: required when inProgress or failed is given")
    rules = [_flux_rule(key, entry[key], status) for key, status in _FLUX_KEYS if key in entry]
    rules.append(
        HealthRule(
            when="true",
            status=HealthStatusCode.PROGRESSING,
            message="'waiting: none of inProgress, failed, current holds'",
        )
    )
    return tuple(rules)


def _flux_rule(key: str, source: object, status: HealthStatusCode) -> HealthRule:
    if not isinstance(source, str):
        raise CustomHealthCheckError(f"{key}: must be a string holding a CEL expression")
    try:
        return HealthRule(when=source, status=status)
    except CustomHealthCheckError as err:
        # HealthRule names the field "when"; the user wrote it under ``key``.
        raise CustomHealthCheckError(key + err.message.removeprefix("when")) from None


def _no_unknown_keys(raw: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unexpected = sorted(map(str, set(raw) - allowed))
    if unexpected:
        expected = ", ".join(sorted(allowed))
        found = ", ".join(unexpected)
        raise CustomHealthCheckError(f"unexpected keys {found}; allowed: {expected}")
