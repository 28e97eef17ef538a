"""Compare desired objects with the cluster; validate objects before any write.

Contract:

* ``compare`` reads every desired object's live state and decides per
  object whether it is in sync. An object that exists live is compared with
  a server-side dry-run of applying it; a dry-run that the server refuses
  (schema error, admission denial) raises ``ValidationError`` naming the
  object and its file, so a refused change never reaches the cluster: the
  sync runner only writes after a ``compare`` that succeeded for every
  object. An object that does not exist yet is dry-run only when a hook of
  the operation runs before it or beside it (``hooked_from``: a PreSync hook,
  or a Sync hook of its wave or an earlier one): a hook is a side effect
  (a database migration Job) that no later refusal can take back, so such a
  refusal fails the plan before anything is written, as for a live object.
  Otherwise it is *not* dry-run: a create's dry-run predicts nothing a diff
  needs (the diff of a new object is its desired body) and costs the API
  server as much as the create itself, so the apply that creates it is its
  validation — a refusal then fails the operation naming the object and the
  server's message (``sync.runner``), after the earlier waves were applied
  and before anything is pruned. Objects bound for a namespace this sync
  will create are, when dry-run, dry-run in ``default`` instead (a request
  into a missing namespace is refused), and custom resources whose CRD is
  part of the same render cannot be validated before that CRD exists. An
  object of a kind the cluster does not serve is refused, unless its sync
  options say ``SkipDryRunOnMissingResource=true`` (its CRD comes from
  elsewhere): it is then reported out of sync and applied when its step
  runs.
* ``validate_new`` dry-runs objects that do not exist yet (hooks; a hook
  template written with ``generateName`` as an instance of it).
* ``wait_established`` waits for CRDs the sync applied (``sync.runner``
  writes; this module never does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from driftless.core import argocd
from driftless.core.crd import kinds_defined
from driftless.core.errors import DriftlessError, TransientError, ValidationError
from driftless.core.vocabulary import AppSyncOption, SyncPhase
from driftless.diff.ignore import strip_ignored
from driftless.diff.normalize import equivalent
from driftless.kube.client import KubeApiError, KubeClient, KubeNotFoundError, UnknownKindError
from driftless.sync import plan as sp
from driftless.sync.live import LiveReader, Verdict, VerdictCache, body_hash, live_fingerprint
from driftless.sync.prepare import DesiredObject, instance
from driftless.sync.redact import redact_api_error
from driftless.sync.scope import is_builtin_group
from driftless.sync.states import ObjectState

T = TypeVar("T")
R = TypeVar("R")
JSON = dict[str, Any]

CRD_KIND = "CustomResourceDefinition"
SKIP_DRY_RUN = argocd.SKIP_DRY_RUN_OPTION
VALIDATION_NAMESPACE = "default"
#: The message of an object that does not exist yet.
MISSING = "missing from the cluster"


async def compare(
    client: KubeClient,
    desired: list[DesiredObject],
    *,
    concurrency: int = 16,
    live: LiveReader | None = None,
    verdicts: VerdictCache | None = None,
    hooks: Sequence[sp.Task] = (),
) -> list[ObjectState]:
    """Live state and in-sync verdict for every desired object, in the same order.

    ``hooks`` are the operation's hook tasks: a new object that one of them
    runs before or beside is dry-run too (see the module docstring).
    """
    reader = live or LiveReader(client, None)
    pending_namespaces = await _namespaces_to_create(client, desired, reader)
    pending_kinds = await _kinds_defined_by(client, desired)
    hooked = hooked_from(hooks)

    async def one(obj: DesiredObject) -> ObjectState:
        check_new = hooked is not None and hooked <= _step_of(obj)
        return await _compare_one(
            client, obj, (pending_namespaces, pending_kinds), reader, verdicts, check_new=check_new
        )

    return await bounded_map(concurrency, desired, one)


async def validate_new(
    client: KubeClient,
    objects: list[DesiredObject],
    *,
    context: list[DesiredObject],
    concurrency: int = 16,
) -> None:
    """Dry-run the objects that do not exist yet (hooks: existing ones get replaced).

    ``context`` is the rest of the render: namespaces and CRDs it creates.
    """
    pending_namespaces = await _namespaces_to_create(client, context + objects)
    pending_kinds = await _kinds_defined_by(client, context + objects)

    async def one(obj: DesiredObject) -> None:
        ref = obj.ref
        template = obj.generate_name is not None
        # A hook template is dry-run as an instance under a stand-in name.
        obj = instance(obj, "dry-run") if template else obj
        if (obj.api_version, ref.kind) in pending_kinds:
            return
        if ref.namespace in pending_namespaces:
            await _validate_elsewhere(client, obj)
            return
        try:
            if not template and await client.get(
                obj.api_version, ref.kind, ref.name, ref.namespace or None
            ):
                return
            await client.apply(obj.body, field_manager=obj.field_manager, dry_run=True)
        except UnknownKindError as exc:
            if argocd.skips_dry_run(obj.body):
                return  # its CRD is expected from elsewhere (see ``compare``)
            raise ValidationError(f"{obj.describe()}: {exc}") from None
        except KubeApiError as exc:
            raise _dry_run_failure(_redacted(exc, obj), obj) from None

    await bounded_map(concurrency, objects, one)


def hooked_from(hooks: Sequence[sp.Task]) -> sp.Step | None:
    """The first step at which a hook runs (None without hooks): a new object of
    that step or a later one is dry-run before the operation starts.

    A hook is a side effect (a migration Job) that a later refusal cannot take
    back; a hook runs beside the objects of its own step (they are sent
    together). ``SyncFail`` hooks run only after a failure: they never count.
    """
    steps = [h.step for h in hooks if h.phase != SyncPhase.SYNC_FAIL]
    return min(steps, default=None)


def _step_of(obj: DesiredObject) -> sp.Step:
    """The step at which the operation applies a resource (``sync.plan``)."""
    [task] = sp.resource_tasks([obj])
    return task.step


async def _compare_one(
    client: KubeClient,
    obj: DesiredObject,
    pending: tuple[set[str], set[tuple[str, str]]],
    reader: LiveReader,
    verdicts: VerdictCache | None,
    *,
    check_new: bool,
) -> ObjectState:
    """``check_new``: a hook runs before this object, so if it is new it is dry-run too."""
    pending_namespaces, pending_kinds = pending
    ref = obj.ref
    if (obj.api_version, ref.kind) in pending_kinds:
        # Its CRD is part of this render and not established yet: nothing to compare.
        return ObjectState(obj, None, in_sync=False, message="CRD not yet applied")
    if ref.namespace in pending_namespaces:
        # New by definition: validated by its apply, once its namespace exists,
        # unless a hook runs first.
        if check_new:
            await _validate_elsewhere(client, obj)
        return ObjectState(obj, None, in_sync=False, message="namespace not yet created")
    try:
        live = await reader.get(obj.api_version, ref.kind, ref.name, ref.namespace)
        # Ignored fields are left out of what is applied, so their owner keeps them.
        obj.body = strip_ignored(obj.body, obj.ignore, live)
        if live is None:
            # A create: its apply is its validation, unless a hook runs first (see
            # the module docstring). The dry-run's answer is not kept: a new
            # object's diff is its desired body either way.
            if check_new:
                await client.apply(obj.body, field_manager=obj.field_manager, dry_run=True)
            return ObjectState(obj, None, False, MISSING)
        digest = body_hash(obj.body)
        version = live_fingerprint(live)
        known = verdicts.lookup(ref, digest, version) if verdicts else None
        if known is not None:
            message = "" if known.in_sync else "differs from git"
            return ObjectState(obj, live, known.in_sync, message, known.predicted)
        predicted = await client.apply(obj.body, field_manager=obj.field_manager, dry_run=True)
    except UnknownKindError as exc:
        if argocd.skips_dry_run(obj.body):
            # Its CRD is expected from elsewhere: applied when its step runs.
            return ObjectState(obj, None, in_sync=False, message=f"{exc} yet ({SKIP_DRY_RUN})")
        raise ValidationError(
            f"{obj.describe()}: {exc}; is the CRD that defines it installed?"
        ) from None
    except KubeApiError as exc:
        raise _dry_run_failure(_redacted(exc, obj), obj) from None
    in_sync = equivalent(
        strip_ignored(predicted, obj.ignore, live), strip_ignored(live, obj.ignore, live)
    )
    if verdicts is not None:
        verdicts.store(ref, Verdict(digest, version, in_sync, predicted))
    return ObjectState(obj, live, in_sync, "" if in_sync else "differs from git", predicted)


async def _validate_elsewhere(client: KubeClient, obj: DesiredObject) -> None:
    """Dry-run an object whose namespace does not exist yet in ``default`` instead.

    The API server refuses any request into a missing namespace, but creating
    the namespace first would write to the cluster before the render is known
    to be valid. ``default`` always exists; the result is thrown away, only a
    refusal (schema, admission) matters.
    """
    body = {**obj.body, "metadata": {**obj.body["metadata"], "namespace": VALIDATION_NAMESPACE}}
    try:
        await client.apply(body, field_manager=obj.field_manager, dry_run=True)
    except UnknownKindError as exc:
        if argocd.skips_dry_run(obj.body):
            return  # its CRD is expected from elsewhere (see ``compare``)
        raise ValidationError(f"{obj.describe()}: {exc}") from None
    except KubeApiError as exc:
        # Name the namespace the user wrote, not the stand-in.
        exc = exc.with_message(
            exc.message.replace(
                f"{VALIDATION_NAMESPACE}/{obj.ref.name}", f"{obj.ref.namespace}/{obj.ref.name}"
            )
        )
        raise _dry_run_failure(_redacted(exc, obj), obj) from None


async def _namespaces_to_create(
    client: KubeClient, desired: list[DesiredObject], reader: LiveReader | None = None
) -> set[str]:
    """Namespaces that this render creates and that do not exist yet."""
    in_render = {d.ref.name for d in desired if d.ref.kind == "Namespace" and not d.ref.group}
    missing: set[str] = set()
    reader = reader or LiveReader(client, None)
    for name in in_render:
        try:
            if await reader.get("v1", "Namespace", name, "") is None:
                missing.add(name)
        except KubeApiError as exc:
            raise exc.in_context(f"cannot read namespace {name}") from None
    return missing


async def _kinds_defined_by(
    client: KubeClient, desired: list[DesiredObject]
) -> set[tuple[str, str]]:
    """(apiVersion, kind) of every custom resource whose CRD is in this render and
    that the cluster does not serve yet. A kind the cluster serves is validated
    as usual whatever the render's CRDs say, and a built-in group is never a
    render's to define (``sync.scope``)."""
    pending: set[tuple[str, str]] = set()
    for d in desired:
        if d.ref.kind != CRD_KIND:
            continue
        for api_version, kind, _ in kinds_defined(d.body):
            if is_builtin_group(api_version.rpartition("/")[0]):
                continue
            try:
                await client.resource_type(api_version, kind)
            except UnknownKindError:
                pending.add((api_version, kind))
            except KubeApiError as exc:
                raise exc.in_context("discovery failed") from None
    return pending


async def wait_established(client: KubeClient, names: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            try:
                crd = await client.get("apiextensions.k8s.io/v1", CRD_KIND, name)
            except KubeApiError as exc:
                raise exc.in_context(f"cannot read CRD {name}") from None
            conditions = ((crd or {}).get("status") or {}).get("conditions") or []
            if any(
                c.get("type") == "Established" and c.get("status") == "True" for c in conditions
            ):
                break
            if time.monotonic() > deadline:
                raise TransientError(f"CRD {name} was not Established within {timeout:.0f}s")
            await asyncio.sleep(0.2)


def _redacted(exc: KubeApiError, obj: DesiredObject) -> KubeApiError:
    """For Secrets, drop values the API server echoes in its error (``sync.redact``)."""
    return exc.with_message(redact_api_error(exc.message, obj.ref))


def _dry_run_failure(exc: KubeApiError, obj: DesiredObject) -> DriftlessError:
    """A failed dry-run, as its class says (``kube.errors``), named after the object.

    A dry-run into a namespace that does not exist is answered 404 "namespaces
    ... not found": the render is wrong (or lacks CreateNamespace), so it is a
    refusal that says how to fix it, not a missing object.
    """
    failure = exc.in_context(f"dry-run of {obj.describe()} failed")
    hint = missing_namespace_hint(exc)
    return ValidationError(f"{failure.message}{hint}") if hint else failure


def missing_namespace_hint(exc: KubeApiError) -> str:
    """How to fix a request refused because its namespace does not exist ("" otherwise).

    The API server answers such a request 404 "namespaces ... not found": the
    render is wrong (or lacks CreateNamespace), not the object missing.
    """
    if isinstance(exc, KubeNotFoundError) and "namespaces" in exc.message:
        return (
            f" (create the namespace in git or set syncOptions "
            f"{AppSyncOption.CREATE_NAMESPACE}=true)"
        )
    return ""


async def bounded_map(limit: int, items: Iterable[T], func: Callable[[T], Awaitable[R]]) -> list[R]:
    """``func`` over ``items`` with at most ``limit`` running, results in order; the first
    error cancels the rest and is raised."""
    semaphore = asyncio.Semaphore(limit)

    async def guarded(item: T) -> R:
        async with semaphore:
            return await func(item)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(guarded(item)) for item in items]
    except BaseExceptionGroup as grouped:
        raise _first_leaf(grouped) from None
    return [task.result() for task in tasks]


def _first_leaf(grouped: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real exception inside (possibly nested) exception groups."""
    first = grouped.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
