"""The operation requests every front end writes (``pipeline.requests``), as fixture tables.

Each row is an Application as read (or the arguments a person gave) and the
patch that must be written, or the typed refusal, with the field or words a
user sees. Hostile rows: resource names with ``/``, huge or option-like
revisions, negative history ids, control characters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from driftless.core.wellknown import REFRESH_ANNOTATION, RESOURCES_FINALIZER, TERMINATE_ANNOTATION
from driftless.pipeline import requests

JSON = dict[str, Any]
NOW = datetime(2026, 12, 3, 11, 0, 0, 123456, tzinfo=UTC)
STAMP = "2026-12-03T11:00:00.123456Z"
SHA = "a" * 40
RUNNING_AT = "2026-12-03T10:59:00Z"
STAMP_OP = "2026-12-03T10:58:59.000001Z"
LATER = "2026-12-03T10:59:30.000001Z"


def app(
    *,
    state: JSON | None = None,
    operation: JSON | None = None,
    history: list[Any] | None = None,
    automated: bool = False,
    finalizers: list[str] | None = None,
    deleting: bool = False,
) -> JSON:
    meta: JSON = {"name": "web", "namespace": "driftless", "resourceVersion": "7"}
    if finalizers is not None:
        meta["finalizers"] = finalizers
    if deleting:
        meta["deletionTimestamp"] = "2026-12-03T10:00:00Z"
    body: JSON = {
        "metadata": meta,
        "spec": {"syncPolicy": {"automated": {"prune": True}} if automated else {}},
        "status": {"history": history or []},
    }
    if state is not None:
        body["status"]["operationState"] = state
    if operation is not None:
        body["operation"] = operation
    return body


def op(username: str = "ann", requested_at: str | None = None, **sync: Any) -> JSON:
    body: JSON = {"sync": sync, "initiatedBy": {"username": username, "automated": False}}
    if requested_at is not None:
        body["requestedAt"] = requested_at
    return body


def state(phase: str, operation: JSON | None = None) -> JSON:
    return {
        "operation": operation or op(),
        "phase": phase,
        "startedAt": RUNNING_AT,
        "revision": SHA,
    }


# -- sync_operation ---------------------------------------------------------------------------

SYNCS: list[tuple[str, JSON, JSON]] = [
    (
        "defaults",
        {},
        {"prune": False, "dryRun": False, "resources": [], "revision": None},
    ),
    (
        "every option",
        {
            "revision": " v1.2.0 ",
            "prune": True,
            "dry_run": True,
            "resources": [{"group": "apps", "kind": "Deployment", "name": "web"}],
        },
        {
            "prune": True,
            "dryRun": True,
            "resources": [{"group": "apps", "kind": "Deployment", "namespace": "", "name": "web"}],
            "revision": "v1.2.0",
        },
    ),
    ("HEAD is the target", {"revision": "HEAD"}, {"revision": None}),
    ("empty revision is the target", {"revision": "  "}, {"revision": None}),
    ("a semver range", {"revision": ">=1.0.0 <2.0.0"}, {"revision": ">=1.0.0 <2.0.0"}),
    ("a full ref", {"revision": "refs/heads/main"}, {"revision": "refs/heads/main"}),
    (
        "core group, namespaced",
        {"resources": [{"group": None, "kind": "ConfigMap", "namespace": "ns", "name": "a"}]},
        {"resources": [{"group": "", "kind": "ConfigMap", "namespace": "ns", "name": "a"}]},
    ),
]


@pytest.mark.parametrize(("case", "given", "wanted"), SYNCS, ids=[s[0] for s in SYNCS])
def test_sync_operation(case: str, given: JSON, wanted: JSON) -> None:
    built = requests.sync_operation("ann", NOW, **given)
    for key, value in wanted.items():
        assert built["sync"][key] == value, case
    assert set(built["sync"]) == {"prune", "dryRun", "resources", "revision"}
    assert built["initiatedBy"] == {"username": "ann", "automated": False}
    assert built["requestedAt"] == STAMP


def test_two_syncs_with_the_same_options_are_two_requests() -> None:
    first = requests.sync_operation("ann", NOW, prune=True)
    again = requests.sync_operation("ann", NOW.replace(microsecond=123457), prune=True)
    assert again != first
    assert {**again, "requestedAt": STAMP} == first  # only the stamp tells them apart


BAD_SYNCS: list[tuple[str, JSON, str, str]] = [
    ("huge revision", {"revision": "v" * 100_000}, "revision", "longer than 1024"),
    ("option-like revision", {"revision": "--upload-pack=x"}, "revision", "not a valid"),
    ("revision with a space", {"revision": "main branch"}, "revision", "not a valid"),
    ("revision with ..", {"revision": "a..b"}, "revision", "not a valid"),
    ("revision with a NUL", {"revision": "main\x00"}, "revision", "not a valid"),
    (
        "name with a slash",
        {"resources": [{"kind": "ConfigMap", "name": "a/b"}]},
        "resources[0].name",
        "cannot contain '/'",
    ),
    (
        "namespace with a slash",
        {"resources": [{"kind": "ConfigMap", "namespace": "../kube-system", "name": "a"}]},
        "resources[0].namespace",
        "cannot contain '/'",
    ),
    (
        "name missing",
        {"resources": [{"kind": "ConfigMap", "name": "ok"}, {"kind": "ConfigMap"}]},
        "resources[1].name",
        "required",
    ),
    ("kind missing", {"resources": [{"name": "a"}]}, "resources[0].kind", "required"),
    (
        "name not a string",
        {"resources": [{"kind": "ConfigMap", "name": ["a"]}]},
        "resources[0].name",
        "not a string",
    ),
    (
        "huge name",
        {"resources": [{"kind": "ConfigMap", "name": "a" * 254}]},
        "resources[0].name",
        "longer than 253",
    ),
    (
        "newline in a kind",
        {"resources": [{"kind": "Config\nMap", "name": "a"}]},
        "resources[0].kind",
        "cannot contain",
    ),
    (
        "too many objects",
        {"resources": [{"kind": "ConfigMap", "name": f"c{i}"} for i in range(1001)]},
        "resources",
        "more than 1000",
    ),
]


@pytest.mark.parametrize(
    ("case", "given", "field", "says"), BAD_SYNCS, ids=[s[0] for s in BAD_SYNCS]
)
def test_sync_operation_refuses_malformed_requests(
    case: str, given: JSON, field: str, says: str
) -> None:
    with pytest.raises(requests.InvalidRequestError) as caught:
        requests.sync_operation("ann", NOW, **given)
    assert caught.value.field == field, case
    assert says in caught.value.message, case
    assert len(caught.value.message) < 300, "a hostile value is cut short in the message"


@pytest.mark.parametrize("username", ["", "   ", "x" * 300, "ann\x1b[2J"])
def test_sync_operation_refuses_a_bad_username(username: str) -> None:
    with pytest.raises(requests.InvalidRequestError, match="username"):
        requests.sync_operation(username, NOW)


def test_operation_patch_is_a_copy() -> None:
    operation = requests.sync_operation("ann", NOW)
    patch = requests.operation_patch(operation)
    patch["operation"]["sync"]["prune"] = True
    assert operation["sync"]["prune"] is False


# -- operation_in_progress ----------------------------------------------------------------------

IN_PROGRESS: list[tuple[str, JSON, str | None]] = [
    ("fresh app", app(), None),
    ("last operation succeeded", app(state=state("Succeeded")), None),
    ("running", app(state=state("Running")), "an operation is already running"),
    ("a request waits, nothing ran yet", app(operation=op(prune=True)), "already waits"),
    (
        "a request waits, another ran before",
        app(operation=op(prune=True), state=state("Succeeded", op())),
        "already waits",
    ),
    (
        "the served request was left behind",
        app(operation=op(prune=True), state=state("Failed", op(prune=True))),
        None,
    ),
    (
        "the served stamped request was left behind",
        app(operation=op(STAMP_OP, prune=True), state=state("Failed", op(STAMP_OP, prune=True))),
        None,
    ),
    (
        "a new request with the options of the last one waits",
        app(operation=op(LATER, prune=True), state=state("Succeeded", op(STAMP_OP, prune=True))),
        "already waits",
    ),
    (
        "a stamped request after one without a stamp waits",
        app(operation=op(LATER), state=state("Succeeded", op())),
        "already waits",
    ),
    (
        "running beats a left-behind request",
        app(operation=op(), state=state("Running", op())),
        "already running",
    ),
    (
        "a request the model cannot read still waits",
        app(operation={"sync": "nonsense"}, state=state("Succeeded")),
        "already waits",
    ),
]


@pytest.mark.parametrize(("case", "body", "says"), IN_PROGRESS, ids=[s[0] for s in IN_PROGRESS])
def test_operation_in_progress(case: str, body: JSON, says: str | None) -> None:
    found = requests.operation_in_progress(body)
    if says is None:
        assert found is None, case
    else:
        assert found is not None and says in found and "application web" in found, case


def test_running_message_names_the_operation() -> None:
    found = requests.operation_in_progress(app(state=state("Running")))
    assert found is not None and SHA[:12] in found and RUNNING_AT in found


# -- refresh and terminate --------------------------------------------------------------------


def test_refresh_patch() -> None:
    assert requests.refresh_patch(NOW) == {"metadata": {"annotations": {REFRESH_ANNOTATION: STAMP}}}


def test_a_hard_refresh_patch_says_hard_and_stays_unique() -> None:
    patch = requests.refresh_patch(NOW, hard=True)
    assert patch == {"metadata": {"annotations": {REFRESH_ANNOTATION: f"hard:{STAMP}"}}}
    later = requests.refresh_patch(NOW.replace(microsecond=1), hard=True)
    assert later != patch  # a second request while one waits is still a change


HARD_VALUES: list[tuple[str | None, bool]] = [
    ("hard", True),  # what a person types: kubectl annotate ... driftless.dev/refresh=hard
    (" HARD ", True),
    (f"hard:{STAMP}", True),
    (STAMP, False),  # a normal refresh
    ("", False),
    (None, False),
    ("hardly", False),
    ("soft:hard", False),
    ("hard\n", True),
]


def test_a_served_refresh_is_removed_only_while_it_holds_the_value_served() -> None:
    pointer = "/metadata/annotations/driftless.dev~1refresh"  # "/" escaped as JSON pointers say
    assert requests.served_refresh_patch(f"hard:{STAMP}") == [
        {"op": "test", "path": pointer, "value": f"hard:{STAMP}"},
        {"op": "remove", "path": pointer},
    ]


@pytest.mark.parametrize(("value", "hard"), HARD_VALUES)
def test_is_hard_refresh(value: str | None, hard: bool) -> None:
    assert requests.is_hard_refresh(value) is hard


TERMINATES: list[tuple[str, JSON, JSON | None]] = [
    (
        "running",
        app(state=state("Running")),
        {
            "metadata": {
                "annotations": {TERMINATE_ANNOTATION: RUNNING_AT, REFRESH_ANNOTATION: STAMP}
            }
        },
    ),
    ("nothing ran", app(), None),
    ("ended", app(state=state("Succeeded")), None),
    ("running without a start", app(state={**state("Running"), "startedAt": ""}), None),
]


@pytest.mark.parametrize(("case", "body", "wanted"), TERMINATES, ids=[s[0] for s in TERMINATES])
def test_terminate_patch(case: str, body: JSON, wanted: JSON | None) -> None:
    if wanted is not None:
        assert requests.terminate_patch(body, NOW) == wanted, case
        return
    with pytest.raises(requests.NoRunningOperationError) as caught:
        requests.terminate_patch(body, NOW)
    assert caught.value.message == "application web has no running operation"
    assert caught.value.app is body
    assert isinstance(caught.value, requests.RequestConflictError)


# -- rollback -----------------------------------------------------------------------------------

HISTORY = [
    {"id": 0, "revision": "b" * 40, "deployedAt": "t0"},
    {"id": 1, "revision": SHA, "deployedAt": "t1"},
]


@pytest.mark.parametrize("automated", [True, False])
def test_rollback_patch(automated: bool) -> None:
    body = app(history=HISTORY, automated=automated)
    patch, rollback = requests.rollback_patch(body, 0, "ann", NOW)
    assert patch["operation"] == {
        "sync": {"prune": True, "dryRun": False, "resources": [], "revision": "b" * 40},
        "initiatedBy": {"username": "ann", "automated": False},
        "requestedAt": STAMP,
    }
    assert rollback == requests.Rollback(0, "b" * 40, automated, patch["operation"])
    if automated:
        assert patch["spec"] == {"syncPolicy": {"automated": None}}
    else:
        assert "spec" not in patch


BAD_ROLLBACKS: list[tuple[str, JSON, int, str]] = [
    ("unknown id", app(history=HISTORY), 7, "no history entry 7 (known: 0, 1)"),
    ("negative id", app(history=HISTORY), -1, "no history entry -1 (known: 0, 1)"),
    ("no history", app(), 0, "no history entry 0 (known: none)"),
    ("entry without a revision", app(history=[{"id": 0, "revision": ""}]), 0, "known: 0"),
    ("junk in history", app(history=["junk", {"id": 3, "revision": SHA}]), 1, "known: 3"),
]


@pytest.mark.parametrize(
    ("case", "body", "history_id", "says"), BAD_ROLLBACKS, ids=[s[0] for s in BAD_ROLLBACKS]
)
def test_rollback_to_an_unknown_entry(case: str, body: JSON, history_id: int, says: str) -> None:
    with pytest.raises(requests.HistoryEntryNotFoundError) as caught:
        requests.rollback_patch(body, history_id, "ann", NOW)
    assert says in caught.value.message, case
    assert caught.value.message.startswith("application web: ")


# -- delete -------------------------------------------------------------------------------------

FINALIZERS: list[tuple[str, JSON, bool, JSON]] = [
    ("no cascade, none set", app(finalizers=["other"]), False, {}),
    (
        "cascade adds it",
        app(finalizers=["other"]),
        True,
        {"metadata": {"finalizers": ["other", RESOURCES_FINALIZER]}},
    ),
    ("cascade, already set", app(finalizers=[RESOURCES_FINALIZER]), True, {}),
    (
        "no cascade removes it",
        app(finalizers=[RESOURCES_FINALIZER]),
        False,
        {"metadata": {"finalizers": []}},
    ),
    ("no finalizers field", app(), False, {}),
    (
        "deleting with cascade already",
        app(finalizers=[RESOURCES_FINALIZER], deleting=True),
        True,
        {},
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "cascade", "wanted"), FINALIZERS, ids=[s[0] for s in FINALIZERS]
)
def test_finalizer_patch(case: str, body: JSON, cascade: bool, wanted: JSON) -> None:
    assert requests.finalizer_patch(body, cascade) == wanted, case


def test_cascade_of_an_app_deleted_without_cascade_is_refused() -> None:
    with pytest.raises(requests.DeletionUnderwayError, match="already being deleted"):
        requests.finalizer_patch(app(deleting=True), cascade=True)


def test_error_classes_say_what_a_front_end_does() -> None:
    from driftless.core.errors import NotFoundError

    assert issubclass(requests.AppNotFoundError, NotFoundError)
    assert issubclass(requests.HistoryEntryNotFoundError, NotFoundError)
    for conflict in (
        requests.OperationRunningError,
        requests.NoRunningOperationError,
        requests.DeletionUnderwayError,
        requests.AppChangingError,
    ):
        assert issubclass(conflict, requests.RequestConflictError)
    assert not issubclass(requests.RequestConflictError, NotFoundError)


# -- names ------------------------------------------------------------------------------------

KEYS: list[tuple[str, str, str, str | None]] = [
    ("plain", "driftless", "web", None),
    ("dotted name", "team-a", "web.v2", None),
    ("parent directory", "driftless", "..", "name"),
    ("a slash", "driftless", "a/b", "name"),
    ("an encoded slash", "driftless", "a%2Fb", "name"),
    ("upper case", "driftless", "Web", "name"),
    ("option-like", "driftless", "-web", "name"),
    ("too long", "driftless", "a" * 254, "name"),
    ("trailing newline", "driftless", "web\n", "name"),
    ("namespace with a dot", "a.b", "web", "namespace"),
    ("namespace with a slash", "../x", "web", "namespace"),
    ("empty namespace", "", "web", "namespace"),
]


@pytest.mark.parametrize(("case", "namespace", "name", "field"), KEYS, ids=[k[0] for k in KEYS])
def test_check_key(case: str, namespace: str, name: str, field: str | None) -> None:
    if field is None:
        requests.check_key(namespace, name)
        return
    with pytest.raises(requests.InvalidRequestError) as caught:
        requests.check_key(namespace, name)
    assert caught.value.field == field, case
    assert len(caught.value.message) < 200
