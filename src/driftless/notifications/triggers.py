"""Which notification triggers an Application's status change fires (pure).

The engine calls ``step(memory, old, new)`` for every observed update of an
Application (the raw objects the controller's watch holds) and gets the
``(trigger, revision)`` pairs that fired plus the app's next ``Memory``.
``baseline(app)`` is the memory of an app seen for the first time (the
controller's initial list, or an app just created): nothing fires for it.

Triggers, read from ``status`` as ``pipeline.status`` and the sync engine
write it:

======================  =====================================================
on-sync-running         a new operation (``operationState.startedAt``
                        changed), even one first seen already ended
on-sync-succeeded       the operation ended Succeeded
on-sync-failed          the operation ended Failed or Error
on-pruned               an operation ended and its results pruned an object
on-health-degraded      ``health.status`` became Degraded
on-health-recovered     ``health.status`` became Healthy after a Degraded
                        (through Progressing too)
on-drift-detected       ``sync.status`` became OutOfSync at the *same*
                        revision while ``selfHeal`` is off: the cluster
                        drifted, git did not move
on-deployed             a sync of a revision not deployed before ended
                        Succeeded and the app is Healthy at that revision
                        (once per revision; it may come after the sync ends)
======================  =====================================================

``Dedupe`` keeps one message per (rule, trigger, app uid, ``occurrence``)
until that trigger's condition turns false again (``cleared``). The
occurrence of the operation triggers (running, succeeded, failed, pruned) is
the operation itself (its revision and ``startedAt``): a retry or a re-sync
of the same commit is a new operation and is told again, so a commit status
set back to pending always gets its outcome. The others' is the revision: a
flapping health does not repeat the same message. It is in memory only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

JSON = dict[str, Any]

RUNNING = "on-sync-running"
SUCCEEDED = "on-sync-succeeded"
FAILED = "on-sync-failed"
DEGRADED = "on-health-degraded"
RECOVERED = "on-health-recovered"
DRIFT = "on-drift-detected"
DEPLOYED = "on-deployed"
PRUNED = "on-pruned"

_FAILED_PHASES = frozenset({"Failed", "Error"})
_ENDED_PHASES = frozenset({"Succeeded", "Failed", "Error", "Superseded", "Terminated"})
# Told once per operation, not once per revision (``occurrence``).
_PER_OPERATION = frozenset({RUNNING, SUCCEEDED, FAILED, PRUNED})

Fired = tuple[str, str | None]


@dataclass(frozen=True)
class Memory:
    """What one app's triggers remember between updates (none of it is in status)."""

    degraded: bool = False  # Degraded seen since the last Healthy
    deployed: str | None = None  # the last revision on-deployed was about
    pending: str | None = None  # a new revision synced, waiting to be Healthy


def _status(app: JSON | None) -> JSON:
    status = (app or {}).get("status")
    return status if isinstance(status, dict) else {}


def _sub(obj: JSON, key: str) -> JSON:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _op(app: JSON | None) -> JSON:
    return _sub(_status(app), "operationState")


def _health(app: JSON | None) -> str:
    return str(_sub(_status(app), "health").get("status") or "")


def _sync(app: JSON | None) -> tuple[str, str | None]:
    sync = _sub(_status(app), "sync")
    revision = sync.get("revision")
    return str(sync.get("status") or ""), str(revision) if revision else None


def _op_revision(app: JSON | None) -> str | None:
    revision = _op(app).get("revision")
    return str(revision) if revision else _sync(app)[1]


def _self_heal(app: JSON) -> bool:
    automated = _sub(_sub(_sub(app, "spec"), "syncPolicy"), "automated")
    return bool(automated.get("selfHeal"))


def _op_identity(op: JSON) -> tuple[object, ...]:
    """What tells one operation from the next.

    ``startedAt`` has one-second precision, so two syncs started within the
    same second (quick successive pushes) share it; the revision, the request's
    ``requestedAt`` and the retry count tell them apart.
    """
    operation = _sub(op, "operation")
    return (
        op.get("startedAt"),
        op.get("revision"),
        _sub(operation, "sync").get("revision"),
        operation.get("requestedAt"),
        operation.get("retry"),
    )


def _same_op(old: JSON, new: JSON) -> bool:
    return bool(old) and _op_identity(old) == _op_identity(new)


def baseline(app: JSON) -> Memory:
    """The memory of an app first seen as it is now: nothing fires for that state."""
    op = _op(app)
    deployed = _op_revision(app) if op.get("phase") == "Succeeded" else None
    return Memory(degraded=_health(app) == "Degraded", deployed=deployed)


def step(memory: Memory, old: JSON, new: JSON) -> tuple[Memory, list[Fired]]:
    """The triggers ``old -> new`` fires, and the app's memory after it."""
    fired: list[Fired] = [*_operation(old, new), *_drift(old, new)]
    memory, health = _health_triggers(memory, new)
    fired += health
    memory, deployed = _deployed(memory, old, new)
    fired += deployed
    return memory, fired


def _operation(old: JSON, new: JSON) -> list[Fired]:
    before, after = _op(old), _op(new)
    phase = after.get("phase")
    if not phase:
        return []
    started = not _same_op(before, after)
    if not started and before.get("phase") == phase:
        return []
    revision = _op_revision(new)
    # A sync that finishes within one pass is written once, already ended: it
    # still started, and "running" comes first (a commit status goes pending, then
    # success).
    fired: list[Fired] = [(RUNNING, revision)] if started else []
    if phase == "Succeeded":
        fired.append((SUCCEEDED, revision))
    elif phase in _FAILED_PHASES:
        fired.append((FAILED, revision))
    if phase in _ENDED_PHASES and pruned(after):
        fired.append((PRUNED, revision))
    return fired


def pruned(op: JSON) -> list[JSON]:
    """The results of an operation that deleted an object (dry runs excluded)."""
    sync = _sub(_sub(op, "operation"), "sync")
    if sync.get("dryRun"):
        return []
    results = op.get("resources")
    return (
        [r for r in results or [] if isinstance(r, dict) and r.get("status") == "Pruned"]
        if isinstance(results, list)
        else []
    )


def _drift(old: JSON, new: JSON) -> list[Fired]:
    (was, old_rev), (now, new_rev) = _sync(old), _sync(new)
    if now != "OutOfSync" or was != "Synced" or _self_heal(new):
        return []
    if old_rev is None or old_rev != new_rev:
        return []  # git moved (or nothing was compared yet): not drift
    if _op(new).get("phase") == "Running":
        return []  # the sync itself is changing the cluster
    return [(DRIFT, new_rev)]


def _health_triggers(memory: Memory, new: JSON) -> tuple[Memory, list[Fired]]:
    health, revision = _health(new), _sync(new)[1]
    if health == "Degraded" and not memory.degraded:
        return replace(memory, degraded=True), [(DEGRADED, revision)]
    if health == "Healthy" and memory.degraded:
        return replace(memory, degraded=False), [(RECOVERED, revision)]
    return memory, []


def _deployed(memory: Memory, old: JSON, new: JSON) -> tuple[Memory, list[Fired]]:
    before, after = _op(old), _op(new)
    if after.get("phase") == "Succeeded" and not (
        _same_op(before, after) and before.get("phase") == "Succeeded"
    ):
        revision = _op_revision(new)
        if revision and revision != memory.deployed:
            memory = replace(memory, pending=revision)
    pending = memory.pending
    if pending and _health(new) == "Healthy" and _sync(new)[1] == pending:
        return replace(memory, deployed=pending, pending=None), [(DEPLOYED, pending)]
    if pending and after.get("phase") in _FAILED_PHASES:
        memory = replace(memory, pending=None)  # a later failed sync: that deploy is over
    return memory, []


def occurrence(trigger: str, revision: str | None, app: JSON) -> str:
    """What two firings of ``trigger`` share when they are the same message (``Dedupe``'s key).

    Operation triggers: the operation (``startedAt``, which names an operation
    everywhere in driftless, with its revision). Others: the revision.
    """
    if trigger in _PER_OPERATION:
        op = _op(app)
        retry = _sub(op, "operation").get("retry") or 0
        requested = _sub(op, "operation").get("requestedAt") or ""
        return f"{revision or ''}@{op.get('startedAt') or ''}#{requested}#{retry}"
    return revision or ""


def cleared(new: JSON) -> frozenset[str]:
    """Triggers whose condition is false in ``new``: their next message is not a repeat."""
    out = set()
    phase = _op(new).get("phase")
    if phase == "Succeeded":
        out.add(FAILED)
    if phase in _FAILED_PHASES:
        out.add(SUCCEEDED)
    health = _health(new)
    if health == "Healthy":
        out.add(DEGRADED)
    if health == "Degraded":
        out.add(RECOVERED)
    if _sync(new)[0] == "Synced":
        out.add(DRIFT)
    return frozenset(out)


class Dedupe:
    """One message per (rule, trigger, app uid, occurrence) until the condition clears."""

    def __init__(self) -> None:
        # uid -> (rule, trigger) -> revision sent; per uid so an update costs O(its rules).
        self._sent: dict[str, dict[tuple[str, str], str]] = {}

    def clear(self, uid: str, triggers: Iterable[str]) -> None:
        """Forget what was sent for ``uid`` about ``triggers`` (their condition is false)."""
        sent = self._sent.get(uid)
        if not sent:
            return
        gone = set(triggers)
        for key in [k for k in sent if k[1] in gone]:
            del sent[key]

    def first(self, rule: str, trigger: str, uid: str, revision: str | None) -> bool:
        """True (and remembered) unless this exact message was already sent.

        ``revision`` is the firing's ``occurrence`` (or its plain revision).
        """
        sent = self._sent.setdefault(uid, {})
        value = revision or ""
        if sent.get((rule, trigger)) == value:
            return False
        sent[(rule, trigger)] = value
        return True

    def forget_app(self, uid: str) -> None:
        self._sent.pop(uid, None)

    def __len__(self) -> int:
        return sum(len(sent) for sent in self._sent.values())
