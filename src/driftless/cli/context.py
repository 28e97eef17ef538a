"""What every command shares: global flags, the client, and the one async runner.

``run_async`` runs a command's coroutine and turns its outcome into the
process's exit: the ``int`` it returns is the exit code (``None`` means 0);
an error a user can cause or meet ends as one line on stderr and the code
``exits.code_of`` gives it, never as a traceback (``--debug`` shows the
traceback instead). Errors handled:

* ``click.ClickException``/``UsageError``: click's own ``Error: ...`` (1, 2);
* ``NoKubeconfigError``: no kubeconfig where one was looked for (1);
* ``UnknownKindError`` for a driftless kind: the cluster lacks the CRDs, so
  the line says to run ``driftless install`` (1); likewise a namespace that
  is not there (``driftless install`` creates driftless's own);
* ``KubeApiError`` and every ``DriftlessError`` (1, or 2/5 for
  ``UsageFailedError``/``SourceFailedError``);
* pydantic's ``ValidationError``: an object this version cannot parse (an
  Application stored by another version, or with ``--validate=false``) —
  the line names the model and the first bad field (1);
* Ctrl-C: 130, quietly.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from pydantic import ValidationError as PydanticValidationError

from driftless.cli import exits
from driftless.cli.options import checked_namespace
from driftless.core.errors import DriftlessError
from driftless.core.models import API_VERSION
from driftless.core.resources import DEFAULT_APP_NAMESPACE
from driftless.kube.client import KubeApiError, KubeClient, KubeNotFoundError, UnknownKindError
from driftless.pipeline.status import first_error

P = ParamSpec("P")
T = TypeVar("T")

__all__ = [
    "Globals",
    "NoKubeconfigError",
    "app_namespace",
    "checked_namespace",
    "failure_message",
    "run_async",
    "unknown_kind_message",
    "with_client",
]

KUBECONFIG_HINT = (
    "pass --kubeconfig or set $KUBECONFIG to a cluster's kubeconfig"
    " (`driftless devcluster up` starts a local cluster and prints one)"
)


class NoKubeconfigError(DriftlessError):
    """No kubeconfig where one was looked for, and not running inside a cluster."""


@dataclass
class Globals:
    """The global flags. ``server``: ``--server`` or ``$DRIFTLESS_SERVER`` (which one:
    ``server_from_flag``); ``kubeconfig_from_flag``: ``--kubeconfig`` was given, not just
    ``$KUBECONFIG`` -- the app commands choose between the two by ``remote.target``."""

    kubeconfig: str | None
    context: str | None
    debug: bool
    server: str | None = None
    server_from_flag: bool = False
    kubeconfig_from_flag: bool = False

    def kubeconfig_problem(self) -> str | None:
        """Why no client can be made, when that is clear before trying (no file). Pure-ish."""
        if self.kubeconfig is not None:
            path = Path(self.kubeconfig).expanduser()
            return None if path.is_file() else f"no kubeconfig at {path}"
        default = Path("~/.kube/config").expanduser()
        if default.is_file() or os.environ.get("KUBERNETES_SERVICE_HOST"):
            return None
        return f"no kubeconfig: $KUBECONFIG is not set and {default} does not exist"

    async def client(self) -> KubeClient:
        problem = self.kubeconfig_problem()
        if problem is not None:
            raise NoKubeconfigError(f"{problem}; {KUBECONFIG_HINT}")
        try:
            return await KubeClient.connect(self.kubeconfig, self.context)
        except Exception as exc:
            raise NoKubeconfigError(f"cannot load kubeconfig: {exc}") from exc


def app_namespace(namespace: str | None) -> str:
    return namespace or os.environ.get("DRIFTLESS_NAMESPACE") or DEFAULT_APP_NAMESPACE


def unknown_kind_message(exc: UnknownKindError) -> str:
    """The error, plus the way out when the missing kind is driftless's own."""
    if exc.api_version == API_VERSION:
        return f"{exc}: driftless is not installed in this cluster; run `driftless install`"
    return str(exc)


def failure_message(exc: BaseException) -> str:
    """The one line (without its label) a failed command prints for ``exc``."""
    if isinstance(exc, UnknownKindError):
        return unknown_kind_message(exc)
    if isinstance(exc, PydanticValidationError):
        return f"invalid {exc.title} (for this version of driftless): {first_error(exc)}"
    if isinstance(exc, KubeNotFoundError) and exc.message.startswith('namespaces "'):
        # Writing into a namespace that is not there: most often driftless's
        # own, which `driftless install` creates.
        return f"{exc}: create it, or run `driftless install` (it creates driftless's namespace)"
    return str(exc)


def _debug() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("debug"))


def run_async(func: Callable[P, Coroutine[Any, Any, int | None]]) -> Callable[P, None]:
    """Run an async click command; its ``int`` result is the exit code (see module doc)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            code = asyncio.run(func(*args, **kwargs))
        except KeyboardInterrupt:
            sys.exit(exits.EXIT_INTERRUPTED)
        except (DriftlessError, KubeApiError, UnknownKindError, PydanticValidationError) as exc:
            if _debug():
                raise
            click.echo(f"{exits.label_of(exc)}: {failure_message(exc)}", err=True)
            sys.exit(exits.code_of(exc))
        if code:
            sys.exit(code)

    return wrapper


async def with_client(globals_: Globals, body: Callable[[KubeClient], Awaitable[T]]) -> T:
    client = await globals_.client()
    try:
        return await body(client)
    finally:
        await client.close()
