"""Options shared by many commands, defined once so they read and behave the same.

* ``namespace_option(what)``: ``-n/--namespace`` of the driftless objects a
  command works on; default ``$DRIFTLESS_NAMESPACE`` or ``driftless`` (resolved
  by ``context.app_namespace``, so ``None`` reaches the command when unset);
  a value must be a DNS-1123 label (never a flag).
* ``controller_namespace_option``: the controller's namespace, where Projects
  are read and which apps may not deploy to.
* ``output_option(formats, default)``: ``-o/--output``.
* ``log_level_option``, ``render_socket_option``: ``--log-level`` and
  ``--render-socket`` of the long-running commands (controller, server).
* ``Duration``: a click type for ``--timeout`` and friends: plain seconds
  (``300``, ``2.5``) or a Go-style duration (``90s``, ``5m``, ``1h30m``);
  the command gets float seconds.
* ``webhook_max_body_option``: ``--webhook-max-body`` (``ByteSize``: bytes,
  or ``512KiB``, ``4MiB``, ``25MB``; the command gets int bytes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import click

from driftless.cli.output import OUTPUT_FORMATS
from driftless.core import names
from driftless.core.listen import AddressError, parse_listen_address
from driftless.core.models import parse_duration
from driftless.core.resources import DEFAULT_APP_NAMESPACE
from driftless.webhooks.receiver import DEFAULT_MAX_BODY

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

LIST_FORMATS = OUTPUT_FORMATS


def checked_namespace(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: a namespace option must be a DNS-1123 label (never a flag)."""
    problem = names.namespace_problem(value) if value else None
    if problem:
        raise click.BadParameter(f"{value!r} is not a valid namespace: {problem}")
    return value


def namespace_option(what: str = "the driftless objects") -> Decorator:
    """``-n/--namespace``; ``what`` completes the help text (``"the Application"``)."""
    return click.option(
        "-n",
        "--namespace",
        default=None,
        callback=checked_namespace,
        help=f"Namespace of {what} (default: $DRIFTLESS_NAMESPACE or driftless).",
    )


# The controller reads Projects only from its own namespace and protects it as a
# destination; a plan made by the CLI must use the same one (the controller's flag
# of the same name), or it checks the app against the wrong Projects.
controller_namespace_option: Decorator = click.option(
    "--controller-namespace",
    default=DEFAULT_APP_NAMESPACE,
    callback=checked_namespace,
    show_default=True,
    envvar="DRIFTLESS_CONTROLLER_NAMESPACE",
    help="The controller's namespace: where Projects are read, and the destination apps may"
    " not use.",
)


def output_option(formats: Sequence[str] = LIST_FORMATS, default: str = "table") -> Decorator:
    """``-o/--output`` restricted to ``formats``."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(list(formats)),
        default=default,
        show_default=True,
        help="Output format.",
    )


# The long-running commands' (controller, server) logging threshold.
log_level_option: Decorator = click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)

# The long-running commands' (controller, server) renderer: the renderer container's
# socket in a deployment (``core.deployment``), else a render server of their own.
render_socket_option: Decorator = click.option(
    "--render-socket",
    type=click.Path(path_type=Path),
    default=None,
    envvar="DRIFTLESS_RENDER_SOCKET",
    help="Unix socket of a `driftless render-server` (the renderer container); default:"
    " start one as a child process.",
)

no_headers_option: Decorator = click.option(
    "--no-headers", is_flag=True, help="Omit the header line of tables."
)


def duration_seconds(text: str) -> float:
    """``300``/``2.5`` (seconds) or ``90s``/``5m``/``1h30m``; ``ValueError`` otherwise. Pure."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = parse_duration(text).total_seconds()
    if not seconds >= 0 or seconds == float("inf"):  # also refuses NaN
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 3m, 1h30m or seconds")
    return seconds


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """A length of time as float seconds: ``300``, ``90s``, ``5m``, ``1h30m``.

    ``positive``: zero is refused too (a deadline of nothing).
    """

    name = "duration"

    def __init__(self, *, positive: bool = False) -> None:
        self.positive = positive

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            seconds = duration_seconds(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if self.positive and seconds == 0:
            self.fail(f"{value!r} must be positive", param, ctx)
        return seconds


def timeout_option(default: str, what: str = "Give up waiting after this long") -> Decorator:
    """``--timeout`` as a ``Duration`` (the command gets float seconds)."""
    return click.option(
        "--timeout",
        type=Duration(),
        default=default,
        show_default=True,
        help=f"{what} (e.g. 90s, 5m, or seconds).",
    )


def _listen_address(
    _ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, int] | None:
    if not value:
        return None
    try:
        return parse_listen_address(value)
    except AddressError as exc:
        raise click.BadParameter(str(exc), param=param) from None


def metrics_address_option(what: str) -> Decorator:
    """``--metrics-address HOST:PORT`` (``$DRIFTLESS_METRICS_ADDRESS``; off by default):
    the command gets ``(host, port)`` or ``None``."""
    return click.option(
        "--metrics-address",
        default=None,
        envvar="DRIFTLESS_METRICS_ADDRESS",
        callback=_listen_address,
        help=f"Serve {what} on HOST:PORT (:PORT: every interface); off by default.",
    )


def webhook_address_option(what: str) -> Decorator:
    """``--webhook-address HOST:PORT`` (``$DRIFTLESS_WEBHOOK_ADDRESS``; off by default):
    the command gets ``(host, port)`` or ``None``."""
    return click.option(
        "--webhook-address",
        default=None,
        envvar="DRIFTLESS_WEBHOOK_ADDRESS",
        callback=_listen_address,
        help=f"Serve {what} on HOST:PORT (:8081: every interface); off by default.",
    )


_SIZE = re.compile(r"^\s*(\d{1,12})\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS: Final = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
# The largest body a webhook may be given: past that, a body cap protects nothing.
MAX_WEBHOOK_BODY: Final = 1024**3


def byte_size(text: str) -> int:
    """``4194304``, ``512KiB``, ``4MiB``, ``25MB`` (``Ki``/``Mi``/``Gi``: powers of 1024,
    ``K``/``M``/``G``: of 1000) as bytes; ``ValueError`` otherwise. Pure."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"{text[:32]!r} is not a size: use bytes or e.g. 512KiB, 4MiB, 25MB")
    unit = (match.group(2) or "").lower()
    scale = _UNITS[unit[:1]] if "i" not in unit else 1024 ** ("kmg".index(unit[0]) + 1)
    return int(match.group(1)) * scale


class ByteSize(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    """A size in bytes (``byte_size``), between 1 and ``maximum``."""

    name = "size"

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            size = value
        else:
            try:
                size = byte_size(str(value))
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        if not 1 <= size <= self.maximum:
            self.fail(f"{value!r} must be between 1 byte and {self.maximum} bytes", param, ctx)
        return size


webhook_max_body_option: Decorator = click.option(
    "--webhook-max-body",
    type=ByteSize(MAX_WEBHOOK_BODY),
    default=DEFAULT_MAX_BODY,
    show_default="4MiB",
    envvar="DRIFTLESS_WEBHOOK_MAX_BODY",
    help="Refuse (413) git webhook bodies larger than this (bytes, or 512KiB, 4MiB, 25MB:"
    " GitHub sends up to 25 MB).",
)
