"""Ending the controller in bounded time, whatever state it is in.

The installed controller pod gets 15 s between SIGTERM and SIGKILL
(``terminationGracePeriodSeconds``: ``core.deployment.CONTROLLER_GRACE_SECONDS``;
Kubernetes' default is 30 s); a controller whose API server went away, or whose
workers are deep in a sync, must still end within a few seconds and leave the
cluster in a state a successor can resume.
The order is:

1. stop taking work (``Drain.stopping``): workers take no new key;
2. let the passes in flight end by themselves for ``grace`` seconds — a pass
   ends by writing the app's status, which stores the sync's cursor, so the
   next owner resumes the operation where it stands instead of re-running it;
3. cancel whatever still runs (``cancel_all``) and wait for it, bounded;
4. closing steps (watches, clients, Leases) each get their own small budget
   (``bounded``); one that hangs is abandoned with a warning, never waited for.

Nothing here talks to the API server; it only bounds the waits of the code
that does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterable, Iterator

log = logging.getLogger(__name__)

# The worst case adds up to 5 s (grace, cancel, Leases, watches, remote clusters), well
# inside the 15 s the installed pod gets, even when every request hangs.
DEFAULT_GRACE_SECONDS = 2.0
CANCEL_WAIT_SECONDS = 0.5
CLOSE_STEP_SECONDS = 0.5
LEASES_SECONDS = 1.5


class Drain:
    """Counts the passes in flight and tells workers when to stop taking work."""

    def __init__(self) -> None:
        self.stopping = False
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Wrap one pass: shutdown waits (up to its grace) for it to end."""
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._busy

    async def wait_idle(self, grace: float) -> bool:
        """Stop taking work, then wait up to ``grace`` s for the passes in flight."""
        self.stopping = True
        try:
            async with asyncio.timeout(max(grace, 0.0)):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


async def cancel_all(
    tasks: Iterable[asyncio.Task[object]], wait: float = CANCEL_WAIT_SECONDS
) -> None:
    """Cancel ``tasks`` and wait up to ``wait`` s for them to unwind."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if not pending:
        return
    _, stuck = await asyncio.wait(pending, timeout=wait)
    if stuck:
        names = ", ".join(sorted(_name(t) for t in stuck))
        log.warning(
            "shutdown: %d tasks did not stop within %gs (%s); leaving them", len(stuck), wait, names
        )


def _name(task: asyncio.Task[object]) -> str:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", task.get_name())


async def bounded(what: str, step: Awaitable[object], seconds: float = CLOSE_STEP_SECONDS) -> None:
    """Run one closing step for at most ``seconds``; a failure is logged, not raised."""
    try:
        async with asyncio.timeout(seconds):
            await step
    except TimeoutError:
        log.warning("shutdown: %s did not finish within %gs; skipped", what, seconds)
    except Exception as exc:  # closing must go on with the next step
        log.warning("shutdown: %s failed: %s", what, exc)
