"""Keep an Application's status under a size budget. Pure.

Why: the status lives in the Application object, which etcd stores whole
(its default request limit is 1.5 MiB, and the API server refuses a body
over 3 MiB) and every watcher receives again at each change. The API
server's work per write grows with the object (measured here: ~50-100 ms of
its CPU for a 150 KB status, whatever the patch changes). A large app's
status is mostly two lists with an entry per object: ``status.resources``
(sync and health of each object, and the inventory pruning relies on) and
``operationState.resources`` (what the last operation did to each object).
Past ~6,000 objects the two no longer fit and the status could never be
written again.

Contract of ``fit(status, budget)``:

* A status whose compact JSON encoding is at most ``budget`` bytes is
  returned as it is (the same object).
* Over the budget, a *finished* operation's ``resources`` keeps only the
  entries worth reading: hooks, every result other than Synced (failed,
  pruned, prune-skipped, pending) and any entry with a message. The plain
  Synced ones are dropped and counted in ``resourcesOmitted``: each is also
  in ``status.resources``, synced. Still over (thousands of objects pruned
  or failed at once), it lists none and counts them all: the operation's
  phase and message, its events and the history stay. The input is not
  modified.
* A running operation (or one whose phase is missing or unknown) is never
  shortened: its entries are the step machine's record of what was applied
  (``driftless.sync``).
* ``status.resources`` is never shortened (pruning reads it), so a status
  can stay over the budget; the write then fails and is reported like any
  failed write.
"""

from __future__ import annotations

import json
from typing import Any

from driftless.core.models import OperationPhase, resources_omitted
from driftless.core.vocabulary import ResultCode

JSON = dict[str, Any]

# Room under etcd's 1.5 MiB for the spec, metadata and managedFields, and a
# write cost (API server CPU, watch traffic) kept to a fraction of a second.
DEFAULT_BUDGET = 512 * 1024
# The API server refuses a request body over 3 MiB: a larger budget would mean nothing.
MAX_BUDGET = 3 * 1024 * 1024
# Operations whose results are history, not a record a later pass resumes from. A
# status without a phase reads as Running (the model's default): never shortened.
_FINISHED = frozenset(
    {
        OperationPhase.SUCCEEDED,
        OperationPhase.FAILED,
        OperationPhase.ERROR,
        OperationPhase.SUPERSEDED,
        OperationPhase.TERMINATED,
    }
)


def fit(status: JSON, budget: int = DEFAULT_BUDGET) -> JSON:
    """``status``, its finished operation's plain results left out if it is over ``budget``."""
    if size(status) <= budget:
        return status
    operation = status.get("operationState")
    if not isinstance(operation, dict) or operation.get("phase") not in _FINISHED:
        return status
    entries = operation.get("resources") or []
    if not isinstance(entries, list) or not entries:
        return status
    notable = _listing(status, operation, [entry for entry in entries if not _plain(entry)])
    if size(notable) <= budget:
        return notable
    return _listing(status, operation, [])


def _listing(status: JSON, operation: JSON, kept: list[Any]) -> JSON:
    """``status`` whose operation lists ``kept`` of its results and counts the others."""
    entries = operation.get("resources") or []
    if len(kept) == len(entries):
        return status
    omitted = len(entries) - len(kept) + resources_omitted(operation)
    return {
        **status,
        "operationState": {**operation, "resources": kept, "resourcesOmitted": omitted},
    }


def size(status: JSON) -> int:
    """Bytes of ``status`` in compact JSON (the API server stores about as many)."""
    return len(json.dumps(status, separators=(",", ":"), ensure_ascii=False).encode())


def _plain(entry: Any) -> bool:
    """A result that says no more than its synced entry in ``status.resources``."""
    return (
        isinstance(entry, dict)
        and entry.get("status") == ResultCode.SYNCED
        and not entry.get("hookType")
        and not entry.get("hookPhase")
        and not entry.get("message")
    )
