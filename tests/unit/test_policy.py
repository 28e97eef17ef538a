"""When to start, retry, supersede or stop a sync (``driftless.pipeline.policy``).

Fixture tables of the rules in the module docstring: an app (policy, last
operation, history), the revision git points at, whether the cluster differs,
the app's recent self-heals and the time; and the decision a user observes
(an operation started or not, how long until one is due, the reason shown).
Expected values are written out, never computed by the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from driftless.core.models import (
    Application,
    InitiatedBy,
    Operation,
    OperationPhase,
    OperationState,
    RetryPolicy,
    SyncOperation,
)
from driftless.pipeline import policy

OLD, NEW = "a" * 40, "b" * 40
# 2026-12-03T09:00:00Z: when the previous operation finished.
FINISHED = "2026-12-03T09:00:00Z"
T0 = 1796288400.0
SOURCE = {"repoURL": "https://example.com/r.git", "path": "deploy"}


def app(
    *,
    automated: dict[str, Any] | None = None,
    retry: dict[str, Any] | None = None,
    supersede: bool = True,
    last: OperationState | None = None,
    history_source: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> Application:
    """An app; ``history_source``: the source its last history entry synced."""
    sync_policy: dict[str, Any] = {"supersede": supersede}
    if automated is not None:
        sync_policy["automated"] = automated
    if retry is not None:
        sync_policy["retry"] = retry
    history = []
    if last is not None and history_source is not None:
        history = [
            {"id": 0, "revision": last.revision, "deployedAt": FINISHED, "source": history_source}
        ]
    return Application.model_validate(
        {
            "metadata": {"name": "a", "namespace": "driftless", "annotations": annotations or {}},
            "spec": {"source": SOURCE, "syncPolicy": sync_policy},
            "status": {
                "operationState": last.to_api() if last is not None else None,
                "history": history,
            },
        }
    )


def op(
    phase: OperationPhase,
    *,
    revision: str = OLD,
    retry: int = 0,
    automated: bool = True,
    dry_run: bool = False,
    prune: bool = False,
) -> OperationState:
    return OperationState(
        operation=Operation(
            sync=SyncOperation(dry_run=dry_run, prune=prune),
            initiated_by=InitiatedBy(automated=automated, username=None if automated else "me"),
            retry=retry,
        ),
        phase=phase,
        started_at="2026-12-03T08:59:00Z",
        finished_at=None if phase == OperationPhase.RUNNING else FINISHED,
        revision=revision,
    )


AUTO = {"prune": True}
HEAL = {"prune": False, "selfHeal": True}
RETRY = {"limit": 3, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "1m"}}


@dataclass(frozen=True)
class Want:
    """The decision as the user observes it."""

    starts: bool
    wait: float = 0.0
    reason: str = ""
    is_heal: bool = False
    retry: int = 0  # the retry count of the started operation
    prune: bool = False  # whether the started operation prunes


# -- auto-sync -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_app", "revision", "needs_sync", "heal", "now", "want"),
    [
        pytest.param(
            app(), NEW, True, policy.HealRecord(), T0, Want(False), id="manual app: never"
        ),
        pytest.param(
            app(automated=AUTO),
            OLD,
            False,
            policy.HealRecord(),
            T0,
            Want(False),
            id="cluster matches git: nothing",
        ),
        pytest.param(
            app(automated=AUTO),
            NEW,
            True,
            policy.HealRecord(),
            T0,
            Want(True, reason="new revision bbbbbbbbbbbb", prune=True),
            id="first sync of a revision, prune from the policy",
        ),
        pytest.param(
            app(automated=AUTO, last=op(OperationPhase.SUCCEEDED)),
            NEW,
            True,
            policy.HealRecord(),
            T0,
            Want(True, reason="new revision bbbbbbbbbbbb", prune=True),
            id="new revision after a success",
        ),
        pytest.param(
            app(
                automated=AUTO,
                last=op(OperationPhase.SUCCEEDED),
                history_source={**SOURCE, "path": "old-path"},
            ),
            OLD,
            True,
            policy.HealRecord(),
            T0,
            Want(True, reason="new revision aaaaaaaaaaaa", prune=True),
            id="changed source at the same revision is no heal",
        ),
        pytest.param(
            app(automated=AUTO, last=op(OperationPhase.SUCCEEDED), history_source=SOURCE),
            OLD,
            True,
            policy.HealRecord(),
            T0,
            Want(False, reason="drift at a synced revision; selfHeal is off"),
            id="drift, selfHeal off",
        ),
        pytest.param(
            app(automated=HEAL, last=op(OperationPhase.SUCCEEDED)),
            OLD,
            True,
            policy.HealRecord(),
            T0,
            Want(True, reason="self-heal", is_heal=True),
            id="drift, selfHeal on, no recent heal",
        ),
        pytest.param(
            app(automated=HEAL, last=op(OperationPhase.SUCCEEDED)),
            OLD,
            True,
            policy.HealRecord(count=2, last=T0 - 1),
            T0,
            Want(False, wait=3.0, reason="self-heal backoff"),
            id="drift, selfHeal on, second heal 1s ago: 4s backoff",
        ),
        pytest.param(
            app(automated=HEAL, last=op(OperationPhase.SUCCEEDED)),
            OLD,
            True,
            policy.HealRecord(count=2, last=T0 - 4),
            T0,
            Want(True, reason="self-heal", is_heal=True),
            id="drift, selfHeal on, backoff over",
        ),
        pytest.param(
            app(automated=HEAL, last=op(OperationPhase.SUCCEEDED)),
            OLD,
            False,
            policy.HealRecord(),
            T0,
            Want(False),
            id="selfHeal on, no drift",
        ),
        pytest.param(
            app(automated=AUTO, last=op(OperationPhase.FAILED)),
            OLD,
            True,
            policy.HealRecord(),
            T0,
            Want(False, reason="the last sync of this revision failed"),
            id="failed, no retry policy",
        ),
        pytest.param(
            app(automated=AUTO, retry=RETRY, last=op(OperationPhase.FAILED)),
            OLD,
            False,
            policy.HealRecord(),
            T0 + 4,
            Want(False, wait=6.0, reason="retry backoff"),
            id="failed, retry due in 6s (even when objects look in sync)",
        ),
        pytest.param(
            app(automated=AUTO, retry=RETRY, last=op(OperationPhase.FAILED, prune=True)),
            OLD,
            False,
            policy.HealRecord(),
            T0 + 10,
            Want(True, reason="retry 1 of 3", retry=1, prune=True),
            id="failed, first retry due: the same operation again",
        ),
        pytest.param(
            app(automated=AUTO, retry=RETRY, last=op(OperationPhase.ERROR, retry=2)),
            OLD,
            True,
            policy.HealRecord(),
            T0 + 39,
            Want(False, wait=1.0, reason="retry backoff"),
            id="error, third retry waits 40s",
        ),
        pytest.param(
            app(automated=AUTO, retry=RETRY, last=op(OperationPhase.FAILED, retry=3)),
            OLD,
            True,
            policy.HealRecord(),
            T0 + 3600,
            Want(False, reason="the last sync of this revision failed"),
            id="failed, retry limit reached",
        ),
        pytest.param(
            app(automated=AUTO, retry=RETRY, last=op(OperationPhase.FAILED)),
            NEW,
            True,
            policy.HealRecord(),
            T0,
            Want(True, reason="new revision bbbbbbbbbbbb", prune=True),
            id="failed, but git moved on: new revision at once",
        ),
        pytest.param(
            app(automated=AUTO, retry=RETRY, last=op(OperationPhase.TERMINATED)),
            OLD,
            True,
            policy.HealRecord(),
            T0 + 3600,
            Want(False, reason="the last sync of this revision was terminated; sync manually"),
            id="terminated: not again, not retried",
        ),
        pytest.param(
            app(automated=AUTO, last=op(OperationPhase.TERMINATED)),
            NEW,
            True,
            policy.HealRecord(),
            T0,
            Want(True, reason="new revision bbbbbbbbbbbb", prune=True),
            id="terminated, new revision",
        ),
    ],
)
def test_decide_auto_sync(
    the_app: Application,
    revision: str,
    needs_sync: bool,
    heal: policy.HealRecord,
    now: float,
    want: Want,
) -> None:
    decision = policy.decide_auto_sync(the_app, revision, needs_sync, heal, now)
    assert (decision.operation is not None) is want.starts
    assert decision.wait == pytest.approx(want.wait)
    assert decision.reason == want.reason
    assert decision.is_heal is want.is_heal
    if decision.operation is not None:
        assert decision.operation.initiated_by.automated
        assert decision.operation.retry == want.retry
        assert decision.operation.sync.prune is want.prune


# -- self-heal backoff ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "last", "now", "delay"),
    [
        pytest.param(0, 0.0, 1000.0, 0.0, id="never healed"),
        pytest.param(1, 1000.0, 1000.0, 2.0, id="one heal: 2s"),
        pytest.param(1, 1000.0, 1001.5, 0.5, id="one heal, 1.5s ago"),
        pytest.param(2, 1000.0, 1000.0, 4.0, id="two heals: 4s"),
        pytest.param(4, 1000.0, 1000.0, 16.0, id="four heals: 16s"),
        pytest.param(8, 1000.0, 1000.0, 256.0, id="eight heals: 256s"),
        pytest.param(9, 1000.0, 1000.0, 300.0, id="capped at 5m"),
        pytest.param(50, 1000.0, 1000.0, 300.0, id="no overflow"),
        pytest.param(3, 1000.0, 1009.0, 0.0, id="backoff over"),
        pytest.param(9, 1000.0, 1600.0, 0.0, id="10 minutes later, backoff over"),
        pytest.param(9, 1000.0, 1601.0, 0.0, id="quiet for 10 minutes: reset"),
    ],
)
def test_heal_delay(count: int, last: float, now: float, delay: float) -> None:
    assert policy.HealRecord(count=count, last=last).delay(now) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("count", "last", "now", "after"),
    [
        pytest.param(0, 0.0, 1000.0, 1, id="first heal"),
        pytest.param(2, 1000.0, 1010.0, 3, id="heal soon after: counted"),
        pytest.param(3, 1000.0, 1600.0, 4, id="exactly 10 minutes: still counted"),
        pytest.param(3, 1000.0, 1600.5, 1, id="over 10 minutes: backoff from scratch"),
    ],
)
def test_healed_counts_recent_heals(count: int, last: float, now: float, after: int) -> None:
    record = policy.HealRecord(count=count, last=last)
    record.healed(now)
    assert (record.count, record.last) == (after, now)


# -- retry delays --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backoff", "attempt", "delay"),
    [
        pytest.param({}, 0, 5.0, id="defaults: 5s first"),
        pytest.param({}, 1, 10.0, id="defaults: doubled"),
        pytest.param({}, 5, 160.0, id="defaults: 5s * 2^5"),
        pytest.param({}, 6, 180.0, id="defaults: capped at 3m"),
        pytest.param({"duration": "1m", "factor": 3, "maxDuration": "1h"}, 2, 540.0, id="factor 3"),
        pytest.param({"duration": "30s", "factor": 1}, 7, 30.0, id="factor 1: constant"),
        pytest.param(
            {"duration": "1h30m", "maxDuration": "10m"}, 0, 600.0, id="cap below the first delay"
        ),
        pytest.param({"duration": "0s"}, 3, 0.0, id="zero duration: at once"),
        pytest.param(
            {"duration": "1s", "factor": 10, "maxDuration": "1h"}, 60, 3600.0, id="huge attempt"
        ),
    ],
)
def test_retry_delay(backoff: dict[str, Any], attempt: int, delay: float) -> None:
    retry = RetryPolicy.model_validate({"backoff": backoff})
    assert policy.retry_delay(retry, attempt) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("retry", "state", "wait"),
    [
        pytest.param(None, op(OperationPhase.FAILED), 0.0, id="no retry policy"),
        pytest.param(RETRY, None, 0.0, id="no operation"),
        pytest.param(RETRY, op(OperationPhase.SUCCEEDED), 0.0, id="succeeded"),
        pytest.param(RETRY, op(OperationPhase.RUNNING), 0.0, id="still running"),
        pytest.param(RETRY, op(OperationPhase.FAILED), 10.0, id="failed: first delay"),
        pytest.param(RETRY, op(OperationPhase.ERROR, retry=1), 20.0, id="error: second delay"),
        pytest.param(RETRY, op(OperationPhase.FAILED, retry=2), 40.0, id="third delay"),
        pytest.param(RETRY, op(OperationPhase.FAILED, retry=3), 0.0, id="limit reached"),
        pytest.param({"limit": 0}, op(OperationPhase.FAILED), 0.0, id="limit 0: never retried"),
        pytest.param(RETRY, op(OperationPhase.SUPERSEDED), 0.0, id="superseded"),
        pytest.param(RETRY, op(OperationPhase.TERMINATED), 0.0, id="terminated"),
    ],
)
def test_retry_wait(
    retry: dict[str, Any] | None, state: OperationState | None, wait: float
) -> None:
    retry_policy = RetryPolicy.model_validate(retry) if retry is not None else None
    assert policy.retry_wait(retry_policy, state) == pytest.approx(wait)


# -- supersession and termination --------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_app", "running", "target", "supersedes"),
    [
        pytest.param(app(automated=AUTO), op(OperationPhase.RUNNING), NEW, True, id="newer"),
        pytest.param(app(automated=AUTO), op(OperationPhase.RUNNING), OLD, False, id="same"),
        pytest.param(
            app(automated=AUTO, supersede=False),
            op(OperationPhase.RUNNING),
            NEW,
            False,
            id="supersede off",
        ),
        pytest.param(app(), op(OperationPhase.RUNNING), NEW, False, id="no longer automated"),
        pytest.param(
            app(automated=AUTO),
            op(OperationPhase.RUNNING, automated=False),
            NEW,
            False,
            id="a person's operation",
        ),
        pytest.param(
            app(automated=AUTO),
            op(OperationPhase.RUNNING, dry_run=True),
            NEW,
            False,
            id="dry run",
        ),
        pytest.param(
            app(automated=AUTO),
            op(OperationPhase.RUNNING, revision=""),
            NEW,
            False,
            id="revision not pinned yet",
        ),
    ],
)
def test_should_supersede(
    the_app: Application, running: OperationState, target: str, supersedes: bool
) -> None:
    assert policy.should_supersede(the_app, running, target) is supersedes


@pytest.mark.parametrize(
    ("automated", "prune"),
    [
        pytest.param({"prune": True}, True, id="prune kept"),
        pytest.param({"prune": False, "selfHeal": True}, False, id="no prune"),
        pytest.param(None, False, id="automation gone: no prune"),
    ],
)
def test_superseding_operation(automated: dict[str, Any] | None, prune: bool) -> None:
    operation = policy.superseding_operation(app(automated=automated))
    assert operation.initiated_by.automated
    assert operation.initiated_by.username is None
    assert operation.sync.prune is prune
    assert (operation.retry, operation.sync.dry_run, operation.sync.revision) == (0, False, None)


@pytest.mark.parametrize(
    ("annotations", "terminates"),
    [
        pytest.param({}, False, id="no request"),
        pytest.param(
            {"driftless.dev/terminate-operation": "2026-12-03T08:59:00Z"}, True, id="this one"
        ),
        pytest.param(
            {"driftless.dev/terminate-operation": "\t2026-12-03T08:59:00Z \n"},
            True,
            id="blanks around",
        ),
        pytest.param(
            {"driftless.dev/terminate-operation": "2026-12-03T08:00:00Z"}, False, id="stale"
        ),
        pytest.param({"driftless.dev/terminate-operation": ""}, False, id="empty"),
        pytest.param({"driftless.dev/terminate-operation": "yes"}, False, id="not a time"),
        pytest.param({"driftless.dev/terminate": "2026-12-03T08:59:00Z"}, False, id="other key"),
    ],
)
def test_should_terminate(annotations: dict[str, str], terminates: bool) -> None:
    the_app = app(automated=AUTO, annotations=annotations)
    assert policy.should_terminate(the_app, op(OperationPhase.RUNNING)) is terminates


# -- what history keeps ------------------------------------------------------------------------


def past(*ids: int) -> list[dict[str, Any]]:
    return [{"id": i, "revision": f"{i}" * 40, "deployedAt": FINISHED} for i in ids]


@pytest.mark.parametrize(
    ("history", "limit", "finished", "ids"),
    [
        pytest.param([], 10, op(OperationPhase.SUCCEEDED), [0], id="first entry: id 0"),
        pytest.param(past(0, 1), 10, op(OperationPhase.FAILED), [0, 1, 2], id="failures too"),
        pytest.param(past(3, 7), 10, op(OperationPhase.SUCCEEDED), [3, 7, 8], id="after the max"),
        pytest.param(past(0, 1, 2), 3, op(OperationPhase.SUCCEEDED), [1, 2, 3], id="trimmed"),
        pytest.param(past(5), 1, op(OperationPhase.TERMINATED), [6], id="limit 1"),
        pytest.param(
            past(0, 1), 10, op(OperationPhase.SUCCEEDED, dry_run=True), [0, 1], id="dry run: none"
        ),
    ],
)
def test_add_history(
    history: list[dict[str, Any]], limit: int, finished: OperationState, ids: list[int]
) -> None:
    the_app = Application.model_validate(
        {
            "metadata": {"name": "a", "namespace": "driftless"},
            "spec": {"source": SOURCE, "revisionHistoryLimit": limit},
            "status": {"history": history},
        }
    )
    entries = policy.add_history(the_app, finished)
    assert [h.id for h in entries] == ids
    if ids and ids[-1] not in [h["id"] for h in history]:
        last = entries[-1]
        assert (last.revision, last.result, last.deployed_at) == (OLD, finished.phase, FINISHED)
        assert last.started_at == "2026-12-03T08:59:00Z"
        assert last.source is not None and last.source.path == "deploy"
