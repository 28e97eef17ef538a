"""Message templates: Jinja2's immutable sandbox, strict, capped (runs in the sandbox worker).

Contract:

* ``environment()`` is an ``ImmutableSandboxedEnvironment`` with
  ``StrictUndefined`` (a misspelt variable is an error, not an empty string)
  and no autoescape (messages are plain text; each service escapes for its
  own format). Operators that build huge values (``'x' * 10**9``, ``2**10**9``,
  ``'%999999999s' % x``) are refused before they allocate; ``range`` is capped
  by the sandbox.
* ``check(fields)`` parses each template; ``render(fields, context)`` renders
  each one, streaming and stopping past ``MAX_OUTPUT`` characters. Both
  return a ``Failure`` naming the field (``title`` / ``body``) and the
  template line, never raise for a bad template.
* ``DEFAULTS`` are the built-in title and body of every trigger, used for a
  field a rule leaves empty.

These functions are not a defence on their own: a template can still burn
CPU (nested loops) or memory (``center``, ``format`` widths). The engine runs
them only in ``sandbox_worker``, a separate process with a memory limit and a
hard deadline (``renderer``).
"""

from __future__ import annotations

import operator
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_OUTPUT = 16 * 1024
MAX_BUILT = 64 * 1024  # the largest string/list an operator may build
MAX_EXPONENT = 256
FIELDS = ("title", "body")

_HEAD = "{{ app.namespace }}/{{ app.name }}"
_BODY_TAIL = (
    "Project: {{ app.project }}\n"
    "Repository: {{ app.repoURL }} ({{ app.path }})\n"
    "{% if revision %}Revision: {{ revision }}\n{% endif %}"
    "{% if commit.message %}Commit: {{ commit.message.splitlines()[0] }}"
    " ({{ commit.author.name }})\n{% endif %}"
    "Sync: {{ app.sync }}, health: {{ app.health }}\n"
    "{% if app_url %}{{ app_url }}\n{% endif %}"
)
_RESULTS = (
    "{% for r in resources %}- {{ r.kind }} {{ r.namespace ~ '/' if r.namespace }}{{ r.name }}:"
    " {{ r.status }}{{ ' (' ~ r.message ~ ')' if r.message }}\n{% endfor %}"
)
DEFAULTS: dict[str, tuple[str, str]] = {
    "on-sync-running": (
        f"{_HEAD}: sync of {{{{ short_revision }}}} started",
        "{{ operation.message }}\n" + _BODY_TAIL,
    ),
    "on-sync-succeeded": (
        f"{_HEAD}: synced {{{{ short_revision }}}}",
        "{{ operation.message }}\n" + _BODY_TAIL + _RESULTS,
    ),
    "on-sync-failed": (
        f"{_HEAD}: sync of {{{{ short_revision }}}} failed",
        "{{ operation.message }}\n" + _BODY_TAIL + _RESULTS,
    ),
    "on-health-degraded": (
        f"{_HEAD} is Degraded",
        "{{ app.healthMessage }}\n" + _BODY_TAIL,
    ),
    "on-health-recovered": (f"{_HEAD} is Healthy again", _BODY_TAIL),
    "on-drift-detected": (
        f"{_HEAD} drifted from git",
        "The cluster no longer matches {{ short_revision }} and self-heal is off.\n" + _BODY_TAIL,
    ),
    "on-deployed": (f"{_HEAD}: {{{{ short_revision }}}} deployed and Healthy", _BODY_TAIL),
    "on-pruned": (
        f"{_HEAD}: objects pruned",
        _BODY_TAIL + "{% for r in resources if r.status == 'Pruned' %}"
        "- {{ r.kind }} {{ r.namespace ~ '/' if r.namespace }}{{ r.name }}\n{% endfor %}",
    ),
}


class RefusedError(Exception):
    """An operation the sandbox does not allow (a value too large to build)."""


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


def _checked_mul(a: Any, b: Any) -> Any:
    for seq, count in ((a, b), (b, a)):
        if _size(seq) and isinstance(count, int) and _size(seq) * max(count, 0) > MAX_BUILT:
            raise RefusedError(f"'*' would build more than {MAX_BUILT} items")
    return operator.mul(a, b)


def _checked_pow(a: Any, b: Any) -> Any:
    if isinstance(b, int | float) and abs(b) > MAX_EXPONENT:
        raise RefusedError(f"exponent larger than {MAX_EXPONENT}")
    return operator.pow(a, b)


def _checked_mod(a: Any, b: Any) -> Any:
    # printf-style formatting: a width like '%999999999s' allocates first; refuse wide ones.
    if isinstance(a, str) and any(int(w) > MAX_OUTPUT for w in _WIDTH.findall(a)):
        raise RefusedError("format width too large")
    return operator.mod(a, b)


_WIDTH = re.compile(r"%[-+ #0]*(\d+)")

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": _checked_mul,
    "**": _checked_pow,
    "%": _checked_mod,
}


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(_BINOPS)

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        checked = _BINOPS.get(operator_)
        if checked is not None:
            return checked(left, right)
        return super().call_binop(context, operator_, left, right)


def environment() -> ImmutableSandboxedEnvironment:
    """The one template environment (see the module docstring)."""
    return _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass(frozen=True)
class Failure:
    """Why a template cannot be used: the field, the template line, what went wrong."""

    field: str
    line: int | None
    message: str
    # A limit was hit (time, memory): the engine quarantines the rule.
    exhausted: bool = False

    def describe(self) -> str:
        where = f"line {self.line}" if self.line else "unknown line"
        return f"template {self.field}, {where}: {self.message}"


def check(fields: Mapping[str, str]) -> Failure | None:
    """The first syntax error of the given templates, or None."""
    env = environment()
    for field in FIELDS:
        source = fields.get(field)
        if not source:
            continue
        try:
            env.parse(source)
        except TemplateSyntaxError as exc:
            return Failure(field, exc.lineno, _short(exc.message or "syntax error"))
        except RecursionError:
            return Failure(field, None, "template nested too deeply")
    return None


def render(fields: Mapping[str, str], context: Mapping[str, Any]) -> dict[str, str] | Failure:
    """Every field given rendered, or the first failure (syntax, runtime error, too long)."""
    env = environment()
    out = {}
    for field in FIELDS:
        if field not in fields:
            continue
        source = fields[field]
        try:
            out[field] = _render_one(env, source, context)
        except TemplateSyntaxError as exc:
            return Failure(field, exc.lineno, _short(exc.message or "syntax error"))
        except RefusedError as exc:
            return Failure(field, _template_line(exc), str(exc))
        except RecursionError as exc:
            return Failure(field, _template_line(exc), "recursion too deep")
        except MemoryError as exc:
            return Failure(field, _template_line(exc), "out of memory", exhausted=True)
        except Exception as exc:  # a template's runtime error, whatever its type
            return Failure(field, _template_line(exc), _short(f"{type(exc).__name__}: {exc}"))
    return out


def _render_one(env: ImmutableSandboxedEnvironment, source: str, context: Mapping[str, Any]) -> str:
    template = env.from_string(source)
    parts: list[str] = []
    size = 0
    for chunk in template.generate(dict(context)):
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise RefusedError(f"output longer than {MAX_OUTPUT} characters")
        parts.append(chunk)
    return "".join(parts).strip()


def _template_line(exc: BaseException) -> int | None:
    """The template line of the innermost template frame (Jinja rewrites them)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == "<template>":
            line = frame.lineno
    return line


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
