"""The audit trail: every write through the API and every login, as a log line and an Event.

One place for both records (the write routes, ``routes_ops`` and
``routes_edit``, and the logins of ``auth`` and ``oidc`` call it):

* a log line (logger ``driftless.server.audit``, INFO), one JSON object:
  writes ``{"audit": "write", "user", "method", "action", "app": "ns/name",
  "result": "accepted"|"refused"|"failed"}`` (+ ``"code"`` when refused,
  ``"token"``, the API token's record id, when a token acted);
  logins ``{"audit": "login", "user", "method", "address", "result":
  "success"|"failure"}`` (+ ``"reason"`` for a failure);
* a Kubernetes Event (``reportingComponent: driftless-server``): for a write,
  on the Application (with its uid when the server knows the app, so
  ``kubectl describe application APP`` lists it; ``kubectl get events -n NS
  --field-selector involvedObject.name=APP`` in any case), reason ``Requested`` (Normal) or
  ``RequestRefused`` (Warning), message ``<user> (<method>): <action>
  <result>`` (``(token <id>)`` for an API token); for a login, on Secret
  ``driftless-sessions`` in the controller's namespace (``kubectl get events
  -n driftless --field-selector involvedObject.name=driftless-sessions``),
  reason ``LoggedIn`` (Normal) or ``LoginFailed`` (Warning), message
  ``<user> (<method>) from <address>``.

What a line or Event may hold: user names, the action, the app, the
result, an error code, the client address. A failed login's user name is
what was typed (it may be a password typed in the wrong field): it goes to
the log cut to 64 characters, as sshd logs an invalid user, and never into
an Event, which every reader of the namespace sees. Never a password, a
token, a cookie or a session id: the callers have none to pass, and every
text is bounded and made printable.

Events are created in the background (a write or a login never waits for
one, nor fails because one could not be made) and bounded: at most
``MAX_PENDING`` in flight and ``EVENTS_PER_MINUTE`` per minute, beyond which
only the log line is written (a flood of failed logins cannot fill etcd with
Events). Writes and logins have a budget each: anonymous failed logins
cannot use up the one of the writes and hide them. Attempts that name no
login at all -- a throttled one, an unknown or replayed single sign-on state
or CLI code (``LOG_ONLY``), which anyone can send -- are logged, never made
Events. ``Audit(None, ...)`` (no client) only logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from driftless.core import deployment
from driftless.core.conditions import now_rfc3339
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.reasons import Reason
from driftless.kube.client import KubeApiError, KubeClient

__all__ = [
    "COMPONENT",
    "EVENTS_PER_MINUTE",
    "LOG_ONLY",
    "MAX_PENDING",
    "Audit",
    "Budget",
    "login_line",
    "write_line",
]

log = logging.getLogger(__name__)

COMPONENT: Final = "driftless-server"
MAX_PENDING: Final = 64
EVENTS_PER_MINUTE: Final = 120
MAX_TEXT: Final = 64
#: Failed logins that are only logged (``why``): anyone may send them, no account is tried.
#: The single sign-on ones are ``oidc_tokens.PendingLogins``'s and ``CliCodes``'s words.
LOG_ONLY: Final = frozenset(
    {
        "throttled",
        "the login's state or its cookie is missing",
        "unknown, replayed or expired login state",
        "unknown, replayed or expired CLI login code",
    }
)
JSON = dict[str, Any]


def _text(value: str, limit: int = MAX_TEXT) -> str:
    """``value`` made printable and at most ``limit`` characters."""
    cleaned = "".join(c if c.isprintable() else "?" for c in value)
    return cleaned[:limit]


def write_line(
    user: str,
    method: str,
    action: str,
    namespace: str,
    name: str,
    result: str,
    code: str = "",
    token: str = "",
) -> JSON:
    """The log object of one write through the API (``token``: the API token's record id,
    if one acted). Pure."""
    line: JSON = {
        "audit": "write",
        "user": _text(user, 253),
        "method": method,
        "action": action,
        "app": f"{namespace}/{name}",
        "result": result,
    }
    if code:
        line["code"] = code
    if token:
        line["token"] = _text(token, 253)
    return line


def login_line(user: str, method: str, address: str, result: str, why: str = "") -> JSON:
    """The log object of one login attempt. Pure."""
    line: JSON = {
        "audit": "login",
        "user": _text(user),
        "method": method,
        "address": _text(address),
        "result": result,
    }
    if why:
        line["reason"] = why
    return line


class Budget:
    """At most ``MAX_PENDING`` Events in flight and ``EVENTS_PER_MINUTE`` a minute."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.pending: set[asyncio.Task[None]] = set()
        self._recent: deque[float] = deque()

    def take(self) -> bool:
        """Whether one more Event may be made now (and count it)."""
        now = self.clock()
        while self._recent and self._recent[0] <= now - 60:
            self._recent.popleft()
        if len(self.pending) >= MAX_PENDING or len(self._recent) >= EVENTS_PER_MINUTE:
            return False
        self._recent.append(now)
        return True


class Audit:
    """Writes the audit trail (see the module docstring)."""

    def __init__(
        self,
        client: KubeClient | None,
        namespace: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        app_of: Callable[[str, str], JSON | None] = lambda namespace, name: None,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.clock = clock
        self.app_of = app_of  # an Application as the server's cache has it, or None
        self._writes = Budget(clock)
        self._logins = Budget(clock)

    def write(
        self,
        user: str,
        method: str,
        action: str,
        namespace: str,
        name: str,
        result: str,
        code: str = "",
        token: str = "",
        *,
        event: bool = True,
    ) -> None:
        """Record one write (accepted, refused or failed) on Application ``namespace/name``;
        ``token``: the record id of the API token that acted; ``event=False``: the log line
        only (an app the caller may not see gets no Event)."""
        line = write_line(user, method, action, namespace, name, result, code, token)
        log.info(json.dumps(line))
        if not event:
            return
        reason = Reason.REQUESTED if result == "accepted" else Reason.REQUEST_REFUSED
        how = f"{method} {_text(token, 253)}" if token else method
        said = f"{_text(user, 253)} ({how}): {action} {result}" + (f" ({code})" if code else "")
        involved = {
            "apiVersion": API_VERSION,
            "kind": APPLICATION_KIND,
            "name": name,
            "namespace": namespace,
        }
        uid = ((self.app_of(namespace, name) or {}).get("metadata") or {}).get("uid")
        if isinstance(uid, str) and uid:
            involved["uid"] = uid
        self._event(self._writes, involved, reason, said)

    def login(self, user: str, method: str, address: str, *, ok: bool, why: str = "") -> None:
        """Record one login attempt (a failure's user name stays out of the Event; a failure
        ``why`` in ``LOG_ONLY`` is only logged)."""
        line = login_line(user, method, address, "success" if ok else "failure", why)
        log.info(json.dumps(line))
        if not ok and why in LOG_ONLY:
            return
        who = _text(user) if ok else "a user"
        said = f"{who} ({method}) from {_text(address)}" + (f": {why}" if why else "")
        involved = {
            "apiVersion": "v1",
            "kind": "Secret",
            "name": deployment.SESSIONS_SECRET,
            "namespace": self.namespace,
        }
        self._event(self._logins, involved, Reason.LOGGED_IN if ok else Reason.LOGIN_FAILED, said)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for the Events in flight (tests, shutdown); past ``timeout`` s, cancel the rest."""
        pending = self._writes.pending | self._logins.pending
        if not pending:
            return
        _, late = await asyncio.wait(list(pending), timeout=timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _event(self, budget: Budget, involved: JSON, reason: Reason, message: str) -> None:
        if self.client is None or not budget.take():
            return
        task = asyncio.get_running_loop().create_task(
            self._create(involved, reason, message), name="audit event"
        )
        budget.pending.add(task)
        task.add_done_callback(budget.pending.discard)

    async def _create(self, involved: JSON, reason: Reason, message: str) -> None:
        assert self.client is not None
        now = now_rfc3339()
        kind = "Normal" if reason in (Reason.REQUESTED, Reason.LOGGED_IN) else "Warning"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{involved['name']}.{uuid.uuid4().hex[:16]}",
                "namespace": involved["namespace"],
            },
            "involvedObject": involved,
            "type": kind,
            "reason": reason.value,
            "message": message,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.client.create(event)
        except KubeApiError as exc:
            log.warning(
                "cannot record the audit event: %s (HTTP %s)", type(exc).__name__, exc.status
            )
