"""When an API server answer says "come back later", how long to wait. Pure.

An API server under load sheds requests instead of queueing them forever:
API Priority and Fairness answers ``429 Too Many Requests`` when a priority
level's queues are full, and the server (or an aggregated API behind it) may
answer a ``5xx`` while it starts or restarts; both carry a ``Retry-After``
header when sending the same request again later is the right thing to do.
Such a request was not carried out, so sending it again is harmless whatever
its verb (a create, an apply, a status write), and at scale it is the
difference between a sync that waits a second and a sync marked Failed for
a reason that fixes itself.

The rules follow client-go's (``rest.checkWait``), so driftless behaves as
``kubectl`` and every controller built on client-go do:

* only ``429`` and ``5xx`` answers are sent again, and only when they carry a
  ``Retry-After`` of whole seconds (``0`` included): a 5xx without it is a
  failure the server reported, not a request to retry;
* at most ``RETRY_AFTER_ATTEMPTS`` sends in all, then the last answer is the
  caller's error (a ``KubeUnavailableError``, itself retried with backoff by
  the reconciler);
* a wait is capped at ``MAX_RETRY_AFTER`` seconds, so a server's hostile or
  mistaken header cannot park a worker for an hour.
"""

from __future__ import annotations

RETRY_AFTER_ATTEMPTS = 10
MAX_RETRY_AFTER = 10.0
_MAX_DIGITS = 6  # longer is no wait a server means; it is capped anyway


def retry_wait(status: int, retry_after: str | None, attempt: int) -> float | None:
    """Seconds to wait before sending again the request that got this answer, or
    ``None`` to give up and report it.

    ``attempt`` counts the sends so far (1 after the first). Pure.
    """
    if attempt >= RETRY_AFTER_ATTEMPTS:
        return None
    if status != 429 and not 500 <= status <= 599:
        return None
    seconds = _whole_seconds(retry_after)
    if seconds is None:
        return None
    return min(float(seconds), MAX_RETRY_AFTER)


def _whole_seconds(value: str | None) -> int | None:
    """The header's non-negative whole seconds, or ``None`` when it is not that.

    The HTTP-date form of ``Retry-After`` is legal HTTP but never sent by
    Kubernetes; client-go ignores it too, and so does this (no retry)."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_DIGITS:
        return None
    return int(text)
