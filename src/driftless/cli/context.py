"""Flags every command shares (kubeconfig, context, namespace) and client setup."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import click

from driftless.core import names
from driftless.core.errors import DriftlessError
from driftless.core.models import API_VERSION
from driftless.core.resources import DEFAULT_APP_NAMESPACE
from driftless.kube.client import KubeApiError, KubeClient, UnknownKindError

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Globals:
    kubeconfig: str | None
    context: str | None
    debug: bool

    async def client(self) -> KubeClient:
        try:
            return await KubeClient.connect(self.kubeconfig, self.context)
        except Exception as exc:
            raise click.ClickException(f"cannot load kubeconfig: {exc}") from exc


def app_namespace(namespace: str | None) -> str:
    return namespace or os.environ.get("DRIFTLESS_NAMESPACE") or DEFAULT_APP_NAMESPACE


def checked_namespace(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: a namespace option must be a DNS-1123 label (never a flag)."""
    problem = names.namespace_problem(value) if value else None
    if problem:
        raise click.BadParameter(f"{value!r} is not a valid namespace: {problem}")
    return value


def unknown_kind_message(exc: UnknownKindError) -> str:
    """The error, plus the way out when the missing kind is driftless's own."""
    if exc.api_version == API_VERSION:
        return f"{exc}: driftless is not installed in this cluster; run `driftless install`"
    return str(exc)


def run_async(func: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """Run an async click command; user-facing failures become one clear line."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            return asyncio.run(func(*args, **kwargs))
        except (KubeApiError, DriftlessError) as exc:
            if debug:
                raise
            raise click.ClickException(str(exc)) from None
        except UnknownKindError as exc:
            if debug:
                raise
            raise click.ClickException(unknown_kind_message(exc)) from None
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


async def with_client(globals_: Globals, body: Callable[[KubeClient], Awaitable[T]]) -> T:
    client = await globals_.client()
    try:
        return await body(client)
    finally:
        await client.close()
