"""What a person asks of an Application, written the one way every front end writes it.

A person operates an app only through the Application object; the controller
(``controller.reconciler``) serves the requests. The CLI (``cli.app_ops``,
``cli.app``, ``cli.app_edit``) and the API server (``server.routes_ops``) both
call this module, so a request typed at a terminal and one sent from a
browser are the same bytes and obey the same rules:

=============  =============================================================
request        what is written
=============  =============================================================
sync           ``operation`` (``sync`` options + ``initiatedBy`` +
               ``requestedAt``), guarded by the resourceVersion read: refused
               while an operation runs or another person's request waits for
               the controller
rollback       the same ``operation`` at a history entry's revision, with
               ``prune``, and ``spec.syncPolicy.automated`` removed in the same
               write (otherwise the automation would sync forward at once)
refresh        annotation ``driftless.dev/refresh`` = a new timestamp; a hard
               refresh writes ``hard:<timestamp>``: the controller then asks
               the repository for its refs even when its revision cache says
               they are fresh, and renders again instead of reusing a render
terminate      annotation ``driftless.dev/terminate-operation`` = the running
               operation's ``startedAt`` (+ a refresh, to wake the controller);
               refused when nothing runs
delete         the resources finalizer added (cascade) or removed (no
               cascade), guarded, then the DELETE
=============  =============================================================

Every operation carries ``requestedAt``, the time it was asked for to the
microsecond: the controller runs each request once and recognises one it
already ran by it (``pipeline.policy.served``), so pressing Sync twice with
the same options runs two syncs.

The builders (``sync_operation``, ``operation_patch``, ``refresh_patch``,
``is_hard_refresh``, ``served_refresh_patch``, ``terminate_patch``,
``rollback_patch``, ``finalizer_patch``, ``operation_in_progress``,
``history_entry``, ``check_key``) are pure: JSON in, JSON patch or a
typed error out. The ``request_*`` and ``delete_app`` coroutines read the app,
ask a builder, and write, nothing else.

Every refusal is a ``RequestError`` whose class says what the front end does
with it (the server's HTTP status, the CLI's exit code)::

    RequestError (DriftlessError)
    ├── InvalidRequestError        the request itself is malformed (422); .field
    ├── AppNotFoundError           + NotFoundError: no such Application (404)
    ├── HistoryEntryNotFoundError  + NotFoundError: no such history id (404)
    └── RequestConflictError       the app's state refuses it now (409)
        ├── OperationRunningError      an operation runs or a request waits
        ├── NoRunningOperationError    nothing to terminate; .app
        ├── DeletionUnderwayError      cascade asked of an app deleted without
        └── AppChangingError           the app kept changing under the write

Messages name the app and never hold a credential (no repoURL is quoted).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError as PydanticValidationError

from driftless.core import names
from driftless.core.errors import DriftlessError, NotFoundError
from driftless.core.models import (
    API_VERSION,
    APPLICATION_KIND,
    Operation,
    OperationPhase,
    OperationState,
)
from driftless.core.wellknown import (
    REFRESH_ANNOTATION,
    REFRESH_HARD,
    RESOURCES_FINALIZER,
    TERMINATE_ANNOTATION,
)
from driftless.kube.client import KubeClient
from driftless.kube.errors import KubeConflictError, KubeNotFoundError
from driftless.pipeline import policy
from driftless.sources import refs, tagrange

__all__ = [
    "AppChangingError",
    "AppNotFoundError",
    "DeletionUnderwayError",
    "HistoryEntryNotFoundError",
    "InvalidRequestError",
    "NoRunningOperationError",
    "OperationRunningError",
    "RequestConflictError",
    "RequestError",
    "Rollback",
    "check_key",
    "checked_revision",
    "delete_app",
    "finalizer_patch",
    "get_app",
    "history_entry",
    "is_hard_refresh",
    "operation_in_progress",
    "operation_patch",
    "refresh_patch",
    "request_refresh",
    "request_rollback",
    "request_sync",
    "request_terminate",
    "rollback_patch",
    "served_refresh_patch",
    "sync_operation",
    "terminate_patch",
]

JSON = dict[str, Any]
# Guarded writes re-read and retry this often when someone else wrote meanwhile.
WRITE_ATTEMPTS: Final = 4
# Longer than any ref name git or a semver range needs; bounds what reaches the object.
MAX_REVISION: Final = 1024
# Kubernetes names (and groups, kinds) are at most 253 characters.
MAX_NAME: Final = 253
# A selective sync of more objects than this is a whole-app sync in disguise.
MAX_RESOURCES: Final = 1000
MAX_USERNAME: Final = 256
_SELECTOR_FIELDS: Final = ("group", "kind", "namespace", "name")


# -- errors -----------------------------------------------------------------------------------


class RequestError(DriftlessError):
    """A request that was not written (nothing changed)."""


class InvalidRequestError(RequestError):
    """The request is malformed; ``field`` names the part (``revision``, ``resources[2].name``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class AppNotFoundError(RequestError, NotFoundError):
    """No Application of that name in that namespace."""


class HistoryEntryNotFoundError(RequestError, NotFoundError):
    """The rollback names a history id the app does not have."""


class RequestConflictError(RequestError):
    """The app's current state refuses the request; it may succeed later."""


class OperationRunningError(RequestConflictError):
    """An operation is already running, or a request waits for the controller."""


class NoRunningOperationError(RequestConflictError):
    """Termination asked, but no operation runs; ``app`` is the object as read."""

    def __init__(self, message: str, app: JSON) -> None:
        super().__init__(message)
        self.app = app


class DeletionUnderwayError(RequestConflictError):
    """A cascading delete of an app already being deleted without cascade."""


class AppChangingError(RequestConflictError):
    """Someone else kept writing the app between our read and our write."""


# -- pure builders -----------------------------------------------------------------------------


def sync_operation(
    username: str,
    now: datetime,
    *,
    revision: str | None = None,
    prune: bool = False,
    dry_run: bool = False,
    resources: Sequence[Mapping[str, Any]] = (),
) -> JSON:
    """The ``operation`` a person's sync asks at ``now``; ``InvalidRequestError`` when malformed.

    Pure. ``requestedAt`` is ``now`` to the microsecond: it tells this request
    from an earlier one with the same options. Every ``sync`` key is present
    (``revision: null`` when absent) so a merge patch replaces whatever an
    older request left there. ``resources`` items hold ``group``, ``kind``,
    ``namespace`` and ``name`` (group and namespace may be empty: core group,
    cluster-scoped or the destination namespace).
    """
    return {
        "sync": {
            "prune": prune,
            "dryRun": dry_run,
            "resources": _checked_resources(resources),
            "revision": checked_revision(revision),
        },
        "initiatedBy": {"username": _checked_username(username), "automated": False},
        "requestedAt": _stamp(now),
    }


def operation_patch(operation: JSON) -> JSON:
    """The merge patch that requests ``operation``. Pure."""
    return {"operation": copy.deepcopy(operation)}


def refresh_patch(now: datetime, *, hard: bool = False) -> JSON:
    """The merge patch asking for a re-check now: a new, unique refresh value. Pure.

    Unique, so a request written while the controller serves an earlier one
    is a change (a watch event) and is not removed with the earlier one (the
    controller removes only the value it served). ``hard``: ``hard:<stamp>``.
    """
    value = f"{REFRESH_HARD}:{_stamp(now)}" if hard else _stamp(now)
    return {"metadata": {"annotations": {REFRESH_ANNOTATION: value}}}


def is_hard_refresh(value: str | None) -> bool:
    """Whether a refresh annotation's value asks for a hard refresh. Pure.

    ``hard`` (what a person types with kubectl) or ``hard:<anything>`` (what
    ``refresh_patch`` writes); case and surrounding spaces do not matter.
    """
    if value is None:
        return False
    word = value.strip().lower()
    return word == REFRESH_HARD or word.startswith(f"{REFRESH_HARD}:")


def served_refresh_patch(served: str) -> list[JSON]:
    """The JSON patch the controller removes a served refresh with. Pure.

    It applies only while the annotation still holds ``served`` (the ``test``
    fails, 422, when a newer request replaced it: that one stays for its pass).
    """
    path = "/metadata/annotations/" + REFRESH_ANNOTATION.replace("~", "~0").replace("/", "~1")
    return [{"op": "test", "path": path, "value": served}, {"op": "remove", "path": path}]


def operation_in_progress(app: JSON) -> str | None:
    """Why a new operation cannot be requested now, or ``None`` when it can. Pure.

    Refused while ``status.operationState`` is Running, and while a request
    waits in ``operation`` that the controller has not served yet (one it
    already ran but could not clear, the "leftover", does not count).
    """
    name = _name(app)
    state = (app.get("status") or {}).get("operationState") or {}
    if state.get("phase") == OperationPhase.RUNNING:
        revision = str(state.get("revision") or "")[:12] or "the target"
        return (
            f"application {name}: an operation is already running (sync of {revision}"
            f" started {state.get('startedAt', '?')}); wait for it, or terminate it first"
        )
    requested = app.get("operation")
    if requested is not None and not _served(requested, state):
        return (
            f"application {name}: a sync request already waits for the controller"
            " (is the driftless controller running?)"
        )
    return None


def terminate_patch(app: JSON, now: datetime) -> JSON:
    """The merge patch that stops the running operation; ``NoRunningOperationError`` if none. Pure.

    The termination names the operation by its ``startedAt``, so a request
    arriving late never stops a later operation; the refresh wakes the
    controller now instead of at its next poll.
    """
    state = (app.get("status") or {}).get("operationState") or {}
    started_at = state.get("startedAt")
    if state.get("phase") != OperationPhase.RUNNING or not started_at:
        raise NoRunningOperationError(f"application {_name(app)} has no running operation", app)
    annotations = {TERMINATE_ANNOTATION: str(started_at), REFRESH_ANNOTATION: _stamp(now)}
    return {"metadata": {"annotations": annotations}}


def history_entry(app: JSON, history_id: int) -> JSON:
    """The entry ``history_id``, or ``HistoryEntryNotFoundError`` naming the known ids. Pure."""
    entries = (app.get("status") or {}).get("history") or []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") == history_id and entry.get("revision"):
            return entry
    known = ", ".join(str(e.get("id")) for e in entries if isinstance(e, dict)) or "none"
    raise HistoryEntryNotFoundError(
        f"application {_name(app)}: no history entry {history_id} (known: {known})"
    )


@dataclass(frozen=True)
class Rollback:
    """A rollback as requested: the entry's revision, and whether automation was turned off."""

    history_id: int
    revision: str
    automation_disabled: bool
    operation: JSON


def rollback_patch(
    app: JSON, history_id: int, username: str, now: datetime
) -> tuple[JSON, Rollback]:
    """(merge patch, what it requests at ``now``) for a rollback to ``history_id``. Pure.

    A sync with prune to the entry's revision; the automation is removed in the
    same write, so the controller never syncs forward in between.
    """
    entry = history_entry(app, history_id)
    operation = sync_operation(username, now, revision=str(entry["revision"]), prune=True)
    patch = operation_patch(operation)
    sync_policy = (app.get("spec") or {}).get("syncPolicy") or {}
    automated = sync_policy.get("automated") is not None
    if automated:
        patch["spec"] = {"syncPolicy": {"automated": None}}
    return patch, Rollback(history_id, str(entry["revision"]), automated, operation)


def finalizer_patch(app: JSON, cascade: bool) -> JSON:
    """Add (cascade) or remove (no cascade) the resources finalizer; ``{}`` if already so. Pure.

    With the finalizer the controller deletes every object the app manages
    before the Application goes; without it they keep running, unmanaged. An
    app already being deleted without it cannot be made to cascade
    (``DeletionUnderwayError``): its deletion may end any moment.
    """
    meta = app.get("metadata") or {}
    finalizers = [str(f) for f in meta.get("finalizers") or []]
    has = RESOURCES_FINALIZER in finalizers
    if cascade == has:
        return {}
    if cascade and meta.get("deletionTimestamp"):
        raise DeletionUnderwayError(
            f'application "{meta.get("name")}" is already being deleted without cascade;'
            " its objects will keep running"
        )
    if cascade:
        finalizers.append(RESOURCES_FINALIZER)
    else:
        finalizers.remove(RESOURCES_FINALIZER)
    return {"metadata": {"finalizers": finalizers}}


def _served(requested: Any, state: Mapping[str, Any]) -> bool:
    """Did the controller already run ``requested`` (its clearing was interrupted)?"""
    if not state:
        return False
    try:
        wanted = Operation.model_validate(requested)
        ran = OperationState.model_validate(state)
    except PydanticValidationError:
        return False
    return policy.served(wanted, ran)


def checked_revision(revision: str | None) -> str | None:
    """``revision`` stripped, or None for the default; ``InvalidRequestError`` naming
    ``revision`` when git could not take it (too long, an option, a bad ref name)."""
    if revision is None or refs.is_default_revision(revision):
        return None
    wanted = revision.strip()
    if len(wanted) > MAX_REVISION:
        raise InvalidRequestError("revision", f"longer than {MAX_REVISION} characters")
    if tagrange.parse_range(wanted) is not None:
        return wanted
    problem = refs.check_revision(wanted)
    if problem is not None:
        raise InvalidRequestError("revision", f"{_shown(wanted)}: {problem}")
    return wanted


def _checked_resources(resources: Sequence[Mapping[str, Any]]) -> list[JSON]:
    if len(resources) > MAX_RESOURCES:
        raise InvalidRequestError("resources", f"more than {MAX_RESOURCES} objects")
    checked: list[JSON] = []
    for index, item in enumerate(resources):
        selector: JSON = {}
        for key in _SELECTOR_FIELDS:
            value = item.get(key) or ""
            where = f"resources[{index}].{key}"
            if not isinstance(value, str):
                raise InvalidRequestError(where, "not a string")
            if key in ("kind", "name") and not value:
                raise InvalidRequestError(where, "required")
            if len(value) > MAX_NAME:
                raise InvalidRequestError(where, f"longer than {MAX_NAME} characters")
            if "/" in value or any(ch.isspace() or ord(ch) < 0x20 for ch in value):
                raise InvalidRequestError(where, f"{_shown(value)} cannot contain '/' or spaces")
            selector[key] = value
        checked.append(selector)
    return checked


def _checked_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > MAX_USERNAME or any(ord(ch) < 0x20 for ch in name):
        raise InvalidRequestError("initiatedBy.username", "empty, too long or not printable")
    return name


def _shown(value: str) -> str:
    """``value`` for a message: quoted, and cut short when long."""
    return repr(value if len(value) <= 80 else value[:80] + "…")


def _stamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _name(app: JSON) -> str:
    return str((app.get("metadata") or {}).get("name", "?"))


# -- applying them ----------------------------------------------------------------------------


def check_key(namespace: str, name: str) -> None:
    """``InvalidRequestError`` unless these can be an Application's namespace and name. Pure.

    A name that is no Kubernetes name (``..``, ``a/b``) never reaches a request
    path, where it could address another object.
    """
    problem = names.namespace_problem(namespace)
    if problem is not None:
        raise InvalidRequestError("namespace", f"{_shown(namespace)} is {problem}")
    if len(name) > MAX_NAME or not names.matches(names.RELEASE_NAME_PATTERN, name):
        raise InvalidRequestError(
            "name", f"{_shown(name)} is not a Kubernetes object name (DNS-1123 subdomain)"
        )


async def get_app(client: KubeClient, namespace: str, name: str) -> JSON:
    """The Application, or ``AppNotFoundError`` (``InvalidRequestError`` for a bad name)."""
    check_key(namespace, name)
    app = await client.get(API_VERSION, APPLICATION_KIND, name, namespace)
    if app is None:
        raise _not_found(namespace, name)
    return app


async def request_sync(client: KubeClient, namespace: str, name: str, operation: JSON) -> JSON:
    """Write ``operation`` (from ``sync_operation``); returns the app as stored now.

    ``OperationRunningError`` while another operation runs or waits.
    """

    def patch_for(app: JSON) -> JSON:
        busy = operation_in_progress(app)
        if busy is not None:
            raise OperationRunningError(busy)
        return operation_patch(operation)

    return await _guarded(client, namespace, name, patch_for)


async def request_rollback(
    client: KubeClient, namespace: str, name: str, history_id: int, username: str, now: datetime
) -> Rollback:
    """Request at ``now`` a rollback to ``history_id`` (see ``rollback_patch``); refused like
    a sync."""
    done: list[Rollback] = []

    def patch_for(app: JSON) -> JSON:
        busy = operation_in_progress(app)
        if busy is not None:
            raise OperationRunningError(busy)
        patch, rollback = rollback_patch(app, history_id, username, now)
        done.append(rollback)
        return patch

    await _guarded(client, namespace, name, patch_for)
    return done[-1]


async def request_refresh(
    client: KubeClient, namespace: str, name: str, now: datetime, *, hard: bool = False
) -> str:
    """Ask for a re-check now (``hard``: bypassing the controller's caches); returns the
    value written to the refresh annotation."""
    await get_app(client, namespace, name)
    patch = refresh_patch(now, hard=hard)
    await _patch(client, namespace, name, patch)
    return str(patch["metadata"]["annotations"][REFRESH_ANNOTATION])


async def request_terminate(client: KubeClient, namespace: str, name: str, now: datetime) -> str:
    """Ask to stop the running operation; returns its ``startedAt``.

    ``NoRunningOperationError`` when none runs. Not guarded: a request that
    arrives after the operation ended names no running one and the controller
    removes it unserved.
    """
    app = await get_app(client, namespace, name)
    patch = terminate_patch(app, now)
    await _patch(client, namespace, name, patch)
    return str(patch["metadata"]["annotations"][TERMINATE_ANNOTATION])


async def delete_app(client: KubeClient, namespace: str, name: str, *, cascade: bool) -> None:
    """Set the resources finalizer as ``cascade`` asks (guarded), then delete the app."""
    await _guarded(client, namespace, name, lambda app: finalizer_patch(app, cascade))
    try:
        await client.delete(API_VERSION, APPLICATION_KIND, name, namespace)
    except KubeNotFoundError:
        raise _not_found(namespace, name) from None


async def _guarded(
    client: KubeClient, namespace: str, name: str, patch_for: Callable[[JSON], JSON]
) -> JSON:
    """Read, ask ``patch_for(app)``, write guarded by the resourceVersion read; retry on 409.

    ``patch_for`` runs again on the fresh object after a conflict, so it must
    decide from its argument alone; ``{}`` means nothing to write.
    """
    for _ in range(WRITE_ATTEMPTS):
        app = await get_app(client, namespace, name)
        patch = patch_for(copy.deepcopy(app))
        if not patch:
            return app
        version = app["metadata"]["resourceVersion"]
        patch.setdefault("metadata", {})["resourceVersion"] = version
        try:
            return await _patch(client, namespace, name, patch)
        except KubeConflictError:
            continue
    raise AppChangingError(
        f"application {name} kept changing while the request was written"
        f" ({WRITE_ATTEMPTS} attempts); try again"
    )


async def _patch(client: KubeClient, namespace: str, name: str, patch: JSON) -> JSON:
    try:
        return await client.merge_patch(
            API_VERSION, APPLICATION_KIND, name, patch, namespace=namespace
        )
    except KubeNotFoundError:
        raise _not_found(namespace, name) from None


def _not_found(namespace: str, name: str) -> AppNotFoundError:
    return AppNotFoundError(f'application "{name}" not found in namespace {namespace}')
