"""The one progress printer of commands that wait: ``apply --wait``, ``app sync``, ``app wait``.

Progress goes to stderr (stdout stays for what a script reads): on a
terminal one line rewritten in place, elsewhere (a CI log) one line per
change, each prefixed with the seconds since the wait began. The body of a
line is made by a pure formatter: ``operation_body`` for an operation run
here (push mode), ``app_body`` for an Application run by the controller.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from driftless.core.models import OperationState
from driftless.core.vocabulary import HookPhase, ResultCode

JSON = dict[str, Any]


def operation_body(state: OperationState, total: int, healthy: int) -> str:
    """``operation=Running phase=Sync wave=0 applied=2/3 healthy=1/3 [hooks=Job/x]``. Pure."""
    step = state.step
    applied = (state.resources_omitted or 0) + sum(
        1 for r in state.resources if r.hook_type is None and r.status == ResultCode.SYNCED
    )
    hooks = [f"{r.kind}/{r.name}" for r in state.resources if r.hook_phase == HookPhase.RUNNING]
    return " ".join(
        [
            f"operation={state.phase.value}",
            f"phase={step.phase if step else '-'}",
            f"wave={step.wave if step and step.wave is not None else '-'}",
            f"applied={applied}/{total}",
            f"healthy={healthy}/{total}",
            *(["hooks=" + ",".join(hooks)] if hooks else []),
        ]
    )


def app_body(app: JSON) -> str:
    """The same facts read from an Application's status, plus its sync and health. Pure."""
    status = app.get("status") or {}
    op = status.get("operationState") or {}
    step = op.get("step") or {}
    resources = status.get("resources") or []
    healthy = sum(1 for r in resources if (r.get("health") or {}).get("status") == "Healthy")
    synced = sum(1 for r in resources if r.get("status") == "Synced")
    hooks = [r for r in op.get("resources") or [] if r.get("hookPhase") == HookPhase.RUNNING]
    parts = [
        f"operation={op.get('phase', '-')}",
        f"phase={step.get('phase', '-')}",
        f"wave={step.get('wave', '-')}",
        f"synced={synced}/{len(resources)}",
        f"healthy={healthy}/{len(resources)}",
        f"sync={(status.get('sync') or {}).get('status', 'Unknown')}",
        f"health={(status.get('health') or {}).get('status', 'Unknown')}",
    ]
    if hooks:
        parts.append("hooks=" + ",".join(f"{h['kind']}/{h['name']}" for h in hooks))
    return " ".join(parts)


class Progress:
    """Progress lines on stderr: rewritten in place on a terminal, one per change otherwise."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.interactive = sys.stderr.isatty()
        self.last = ""
        self._open = False  # a rewritten line is on screen without its newline

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, body: str) -> None:
        """Show ``body`` (on a terminal always, elsewhere only when it changed)."""
        line = f"[{self.elapsed():5.1f}s] {body}"
        if self.interactive:
            click.echo(f"\r\033[K{line}", nl=False, err=True)
            self._open = True
        elif body != self.last:
            click.echo(line, err=True)
        self.last = body

    def show(self, state: OperationState, total: int, healthy: int) -> None:
        """An operation run here: ``total`` planned objects, ``healthy`` of them done."""
        self.line(operation_body(state, total, healthy))

    def show_app(self, app: JSON) -> None:
        """An Application as the controller reports it."""
        self.line(app_body(app))

    def done(self) -> None:
        """End the rewritten line, so what follows starts on its own line (idempotent)."""
        if self._open:
            click.echo("", err=True)
            self._open = False

    def say(self, message: str) -> None:
        """A message of its own line on stderr (after ending a rewritten line)."""
        self.done()
        click.echo(message, err=True)
