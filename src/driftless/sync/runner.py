"""The resumable sync step machine (see the package docstring for the rules).

``SyncRunner.advance`` moves one ``OperationState`` forward as far as it can
without waiting: it applies the current step's objects once, checks the
step's gate, and either moves to the next step or returns with the operation
still Running, to be called again a few seconds later. All progress is in the
state object, which the controller stores in ``status.operationState``; a
restarted controller therefore continues exactly where it stopped.

A step's objects are waited for only when something depends on their health
(``needs_health``); that wait has a deadline (``health_timeout``, counted
from ``SyncStep.waiting_since``). ``at_safe_point`` and ``end_early`` are the
pure rules by which the controller supersedes or terminates an operation
between two passes.

API failures (``kube.errors``) never escape ``advance``; what happens
depends on the request and on whether the API server answered at all:

* a **send** (apply, replace, the delete-and-wait of a hook before it is
  created again, the delete of an orphan) that got no answer
  (``kube.errors.unreachable``: refused, reset, timed out) interrupts the
  pass like a failed read below: the step stays unsent and a later pass
  sends it again, once the API server answers. That repeat is harmless: an
  apply or a delete is idempotent, a generated hook instance is found again
  by its name, and a named hook is found again by its operation stamp
  (``OPERATION_ANNOTATION``), never deleted and created a second time;
* a send the API server answered with an error fails the operation,
  whatever the class — a 503 "failed calling webhook" as much as a 403: the
  redacted message goes to the operation, the SyncFail phase runs and the
  app's retry policy decides whether it is tried again (an answered send
  may have half-happened, so only a new operation may repeat it); in a wave
  where one send was refused and another got no answer, the refusal wins;
* a failed **read** (the health-gate read, the read of an applied CRD until
  it is Established, the discovery refresh after it, the delete policy of a
  hook that already ended) ends the pass where it stands — whatever was
  applied and recorded stays in the state; an unsent step is re-sent by the
  next pass (applies are idempotent; hooks already created are not
  re-created) — and is exposed as ``SyncRunner.interrupted`` so the caller
  stores the progress, shows the message and retries later.

The caller must store the state a pass returns before the next pass of the
same operation runs (the controller retries that status write: see
``controller.reconciler``): a hook's creation is recorded only there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from driftless.core.conditions import now_rfc3339
from driftless.core.errors import DriftlessError
from driftless.core.models import (
    HealthStatusCode,
    OperationPhase,
    OperationState,
    ResourceResult,
    SyncStep,
)
from driftless.core.resources import ResourceRef
from driftless.core.vocabulary import (
    HookDeletePolicy,
    HookPhase,
    ObjectOption,
    ResultCode,
    SyncPhase,
)
from driftless.core.wellknown import HOOK_OPERATION_ANNOTATION, HOOK_TEMPLATE_LABEL
from driftless.health import DONE_HEALTH, HealthResult
from driftless.health import assess as builtin_assess
from driftless.kube.client import KubeApiError, KubeClient, UnknownKindError
from driftless.kube.errors import KubeConflictError, unreachable
from driftless.sync import plan as sp
from driftless.sync.execute import bounded_map, missing_namespace_hint, wait_established
from driftless.sync.live import LiveReader
from driftless.sync.prune import prune
from driftless.sync.redact import redact_api_error
from driftless.sync.states import Orphan

JSON = dict[str, Any]
# The hook phases after which a hook never changes again.
_HOOK_ENDED = frozenset({HookPhase.SUCCEEDED, HookPhase.FAILED})
DEFAULT_HEALTH_TIMEOUT = 300.0
# How many waiting objects a deadline message names before "(+N more)".
NAMED_WAITING = 10
# On a named hook as applied: the operation (``plan.operation_seed``) and phase
# that created it, so a pass whose record of the creation was lost (no answer
# to the apply, a status write lost) finds it instead of re-creating it.
OPERATION_ANNOTATION = HOOK_OPERATION_ANNOTATION


@dataclass
class Gate:
    """The verdict on one step: done, still waiting, or failed with a message."""

    done: bool
    failure: str = ""
    # Why an object of the step is not done yet ("<ref>: <health message>");
    # empty for hooks, which have no health deadline.
    waiting: str = ""


class SyncRunner:
    """Executes steps against one cluster."""

    def __init__(
        self,
        client: KubeClient,
        *,
        concurrency: int = 16,
        live: LiveReader | None = None,
        assess: Callable[[JSON], HealthResult] = builtin_assess,
        health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
        wait_at_end: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.assess = assess
        self.health_timeout = health_timeout
        # True: the last step waits for health too (push mode's --wait).
        self.wait_at_end = wait_at_end
        self.clock = clock
        self.client = client
        self.concurrency = concurrency
        self.live = live or LiveReader(client, None)
        # Objects as the API server returned them from our applies, per advance()
        # call: the freshest possible live state, at no extra request.
        self.applied: dict[ResourceRef, JSON] = {}
        # Why the last advance() stopped early, None when it ran as far as it could.
        self.interrupted: DriftlessError | None = None
        # The operation advance() works on (``plan.operation_seed``): stamps its hooks.
        self._seed = ""

    async def advance(
        self,
        state: OperationState,
        tasks: list[sp.Task],
        *,
        orphans: list[Orphan],
        prune_blocked: str | None,
    ) -> OperationState:
        """Run steps until one must wait, the operation ends, or a read fails.

        ``self.applied`` afterwards holds the objects this call wrote, and
        ``self.interrupted`` the failed read that ended the pass early (None
        otherwise). Never raises a ``KubeApiError``.
        """
        self.applied = {}
        self.interrupted = None
        operation = state.operation
        seed = sp.operation_seed(state.started_at, operation.retry, operation.requested_at)
        self._seed = seed
        # Hook templates (generateName) get this operation's names: the same on every pass.
        tasks = sp.instances(tasks, seed)
        sync = state.operation.sync
        normal = sp.steps(tasks, prune=sync.prune and not sync.resources)
        failing = sp.fail_steps(tasks)
        while True:
            step = _current(state, normal, failing)
            if step is None:
                return self._finish(state)
            try:
                pools = (normal, failing)
                waiting = await self._step(state, step, tasks, orphans, prune_blocked, pools)
            except KubeApiError as exc:
                # A read, or a send without answer (``_send`` fails the operation
                # on an answered error itself).
                self.interrupted = exc
                return state
            if waiting:
                return state

    async def _step(
        self,
        state: OperationState,
        step: sp.Step,
        tasks: list[sp.Task],
        orphans: list[Orphan],
        prune_blocked: str | None,
        pools: tuple[list[sp.Step], list[sp.Step]],
    ) -> bool:
        """Send, gate and leave one step; True when it must wait for a later pass.

        ``pools`` are the normal and the SyncFail steps of the operation.
        """
        normal, failing = pools
        sent = bool(state.step and state.step.applied)
        if not sent and not await self._send(state, step, tasks, orphans, prune_blocked):
            return False  # the failure moved the cursor to SyncFail (or ended it)
        pool = failing if step.phase == SyncPhase.SYNC_FAIL else normal
        needs_health = self.wait_at_end or needs_health_gate(step, pool)
        gate = await self._gate(state, step, tasks, needs_health=needs_health)
        if not gate.done and not gate.failure:
            return True
        await self._after_hooks(state, step, tasks)
        if gate.failure:
            self._fail(state, gate.failure, failing)
            return False
        following = _next(step, pool)
        if following is None:
            self._finish(state)
        else:
            state.step = SyncStep(phase=following.phase, wave=following.wave, applied=False)
        return False

    # -- sending --------------------------------------------------------

    async def _send(
        self,
        state: OperationState,
        step: sp.Step,
        tasks: list[sp.Task],
        orphans: list[Orphan],
        prune_blocked: str | None,
    ) -> bool:
        """Send the step's objects once; False when that failed (cursor already moved).

        A send the API server answered with an error fails the operation
        whatever the error's class; a send without answer and the reads after
        applying CRDs raise their ``KubeApiError`` (``advance`` interrupts the
        pass and the step stays unsent).
        """
        state.step = SyncStep(phase=step.phase, wave=step.wave, applied=False)
        step_tasks = sp.tasks_of(tasks, step)
        try:
            if step.wave == sp.PRUNE_WAVE:
                await self._prune(state, orphans, prune_blocked)
            else:
                await self._apply_step(state, step_tasks)
        except KubeApiError as exc:
            if unreachable(exc):
                raise  # no answer: advance() interrupts the pass, a later pass re-sends
            self._fail(state, exc.message, sp.fail_steps(tasks))
            return False
        except DriftlessError as err:
            self._fail(state, err.message, sp.fail_steps(tasks))
            return False
        try:
            await self._crds_ready(state, step_tasks)
        except KubeApiError:
            raise  # a read: advance() interrupts the pass
        except DriftlessError as err:  # a CRD not Established in time
            self._fail(state, err.message, sp.fail_steps(tasks))
            return False
        state.step.applied = True
        return True

    async def _apply_step(self, state: OperationState, step_tasks: list[sp.Task]) -> None:
        dry_run = state.operation.sync.dry_run
        results = {id(t): r for t, r in zip(step_tasks, _results(state, step_tasks), strict=True)}

        async def one(task: sp.Task) -> None:
            result = results[id(task)]
            if task.hook and result.hook_phase is not None:
                return  # created by an earlier pass of this operation
            try:
                if task.generated and not dry_run:
                    await self._create_instance(task)
                elif task.hook and not dry_run:
                    await self._create_named_hook(task)
                else:
                    await self._apply(task, task.obj.body, dry_run=dry_run)
            except KubeApiError as exc:
                if unreachable(exc):
                    # No answer: nothing to record; the pass is interrupted and a
                    # later pass sends this task again (see the module docstring).
                    raise exc.in_context(f"cannot apply {task.obj.describe()}") from None
                # Whatever the class: the write may have half-happened (a webhook
                # timing out after admitting it), so the operation fails here.
                # A new object was not dry-run (``sync.execute``): this is its validation.
                message = redact_api_error(exc.message, task.obj.ref) + missing_namespace_hint(exc)
                result.status, result.message = ResultCode.SYNC_FAILED, message
                raise DriftlessError(f"{task.obj.describe()}: {message}") from None
            except UnknownKindError as exc:
                # Only planned with SkipDryRunOnMissingResource: its CRD never came.
                result.status, result.message = ResultCode.SYNC_FAILED, str(exc)
                raise DriftlessError(f"{task.obj.describe()}: {exc}") from None
            result.status = ResultCode.SYNCED
            result.message = "dry run" if dry_run else None
            if task.hook:
                result.hook_phase = HookPhase.RUNNING

        await _bounded(self.concurrency, step_tasks, one)

    async def _crds_ready(self, state: OperationState, step_tasks: list[sp.Task]) -> None:
        """Wait until the step's CRDs are served (reads: a ``KubeApiError`` escapes)."""
        crds = [t.obj.ref.name for t in step_tasks if t.obj.ref.kind == "CustomResourceDefinition"]
        if not crds or state.operation.sync.dry_run:
            return
        await wait_established(self.client, crds)
        try:
            await self.client.discovery.refresh()
        except KubeApiError as exc:
            raise exc.in_context("cannot refresh API discovery after applying CRDs") from None

    async def _apply(self, task: sp.Task, body: JSON, *, dry_run: bool) -> None:
        if ObjectOption.REPLACE in sp.object_options(task.obj) and not dry_run:
            self.applied[task.obj.ref] = await self.client.replace(body)
            return
        manager = task.obj.field_manager
        result = await self.client.apply(body, field_manager=manager, dry_run=dry_run)
        if not dry_run:
            self.applied[task.obj.ref] = result

    async def _delete_and_wait(
        self, task: sp.Task, timeout: float = 60, *, name: str | None = None
    ) -> None:
        """Delete the hook's object (or its template's instance ``name``) and wait it is gone."""
        ref = task.obj.ref
        name = name or ref.name
        args = (task.obj.api_version, ref.kind, name, ref.namespace or None)
        if not await self.client.delete(*args, propagation="Foreground"):
            return
        for _ in range(int(timeout / 0.2)):
            if await self.client.get(*args) is None:
                return
            await asyncio.sleep(0.2)
        shown = ResourceRef(ref.group, ref.kind, ref.namespace, name)
        raise DriftlessError(f"previous instance of hook {shown} was not deleted in {timeout:.0f}s")

    async def _create_named_hook(self, task: sp.Task) -> None:
        """Apply a named hook, stamped with this operation (``OPERATION_ANNOTATION``).

        ``BeforeHookCreation`` first deletes the hook's previous run, unless
        the live object carries this operation's stamp: then an earlier pass
        of this operation created it and its record was lost (an apply whose
        answer never came, a status write the API server did not take), and
        it is this run, applied again unchanged instead of run a second time.
        """
        stamp = f"{self._seed}|{task.phase}"
        body = _stamped(task.obj.body, stamp)
        if HookDeletePolicy.BEFORE_HOOK_CREATION in task.delete_policies:
            ref = task.obj.ref
            live = await self.client.get(
                task.obj.api_version, ref.kind, ref.name, ref.namespace or None
            )
            if live is not None and _stamp_of(live) != stamp:
                await self._delete_and_wait(task)
        await self._apply(task, body, dry_run=False)

    async def _create_instance(self, task: sp.Task) -> None:
        """Create this operation's instance of a hook template with POST.

        ``BeforeHookCreation`` first deletes the template's earlier instances.
        An instance that already exists with this operation's tracking id was
        created by an earlier pass whose state was not stored: it is the one.
        """
        obj = task.obj
        ref = obj.ref
        if HookDeletePolicy.BEFORE_HOOK_CREATION in task.delete_policies:
            label = sp.template_label_of(obj)
            listed = await self.client.list(
                obj.api_version,
                ref.kind,
                ref.namespace or None,
                label_selector=f"{HOOK_TEMPLATE_LABEL}={label}",
            )
            for name in sp.earlier_instances(listed, obj):
                await self._delete_and_wait(task, name=name)
        try:
            await self.client.create(obj.body)
        except KubeConflictError:
            live = await self.client.get(obj.api_version, ref.kind, ref.name, ref.namespace or None)
            if not sp.same_instance(live, obj):
                raise

    async def _prune(
        self, state: OperationState, orphans: list[Orphan], prune_blocked: str | None
    ) -> None:
        if prune_blocked:
            for orphan in orphans:
                _orphan_result(state, orphan, ResultCode.PRUNE_SKIPPED, prune_blocked)
            return
        if state.operation.sync.dry_run:
            for orphan in orphans:
                _orphan_result(state, orphan, ResultCode.PRUNED, "dry run")
            return
        deleted = await prune(self.client, orphans)
        for orphan in orphans:
            if orphan in deleted:
                _orphan_result(state, orphan, ResultCode.PRUNED, None)
            else:
                _orphan_result(state, orphan, ResultCode.PRUNE_SKIPPED, ObjectOption.NO_PRUNE.value)

    # -- gates ----------------------------------------------------------

    async def _gate(
        self, state: OperationState, step: sp.Step, tasks: list[sp.Task], *, needs_health: bool
    ) -> Gate:
        if state.operation.sync.dry_run or step.wave == sp.PRUNE_WAVE:
            return Gate(done=True)
        waiting = False
        unhealthy: list[str] = []
        gated = [t for t in sp.tasks_of(tasks, step) if t.hook or needs_health]
        # Other tasks: nothing depends on them; their health is the app's, not the sync's.
        lives = await bounded_map(self.concurrency, gated, self._read_for_gate)
        for task, result, live in zip(gated, _results(state, gated), lives, strict=True):
            verdict = _task_gate(task, result, live, self.assess)
            if verdict.failure:
                return verdict
            waiting = waiting or not verdict.done
            if verdict.waiting:
                unhealthy.append(verdict.waiting)
        if not unhealthy:
            if state.step is not None:
                state.step.waiting_since = None
            return Gate(done=not waiting)
        return self._deadline(state, step, unhealthy)

    def _deadline(self, state: OperationState, step: sp.Step, unhealthy: list[str]) -> Gate:
        """Still waiting for health: fail once the step waited ``health_timeout``."""
        assert state.step is not None  # the cursor is on this step (it was just sent)
        now = self.clock()
        if state.step.waiting_since is None:
            state.step.waiting_since = _stamp(now)
            return Gate(done=False)
        waited = now - _parse_stamp(state.step.waiting_since, now)
        if waited < self.health_timeout:
            return Gate(done=False)
        named = "; ".join(unhealthy[:NAMED_WAITING])
        more = (
            f" (+{len(unhealthy) - NAMED_WAITING} more)" if len(unhealthy) > NAMED_WAITING else ""
        )
        return Gate(
            done=False,
            failure=f"health deadline of {self.health_timeout:g}s passed in {step.phase} wave "
            f"{step.wave} (syncPolicy.healthTimeout); still waiting for: {named}{more}",
        )

    async def _read_for_gate(self, task: sp.Task) -> JSON | None:
        """The task's object as it is now (a GET: the watch cache may not have seen our apply)."""
        ref = task.obj.ref
        try:
            return await self.client.get(
                task.obj.api_version, ref.kind, ref.name, ref.namespace or None
            )
        except KubeApiError as exc:
            raise exc.in_context(f"cannot read {ref} to check its health") from None

    async def _after_hooks(
        self, state: OperationState, step: sp.Step, tasks: list[sp.Task]
    ) -> None:
        """Apply HookSucceeded / HookFailed delete policies of the step's hooks."""
        if state.operation.sync.dry_run:
            return
        for task in sp.tasks_of(tasks, step):
            if not task.hook:
                continue
            phase = _result(state, task).hook_phase
            succeeded = phase == HookPhase.SUCCEEDED
            policy = HookDeletePolicy.HOOK_SUCCEEDED if succeeded else HookDeletePolicy.HOOK_FAILED
            if phase in _HOOK_ENDED and policy in task.delete_policies:
                ref = task.obj.ref
                try:
                    await self.client.delete(
                        task.obj.api_version, ref.kind, ref.name, ref.namespace or None
                    )
                except KubeApiError as exc:
                    message = redact_api_error(exc.message, ref)
                    raise exc.with_message(f"cannot delete hook {ref}: {message}") from None

    # -- endings --------------------------------------------------------

    def _fail(self, state: OperationState, message: str, failing: list[sp.Step]) -> None:
        """Record the failure; switch to the SyncFail phase unless already in it."""
        if state.step and state.step.phase == SyncPhase.SYNC_FAIL:
            state.message = f"{state.message}; {message}" if state.message else message
            state.step = None
            state.phase = OperationPhase.FAILED
            state.finished_at = now_rfc3339()
            return
        state.message = message
        if failing:
            first = failing[0]
            state.step = SyncStep(phase=first.phase, wave=first.wave, applied=False)
        else:
            state.step = None
            state.phase = OperationPhase.FAILED
            state.finished_at = now_rfc3339()

    def _finish(self, state: OperationState) -> OperationState:
        if state.phase == OperationPhase.RUNNING:
            in_fail_phase = bool(state.message)
            state.phase = OperationPhase.FAILED if in_fail_phase else OperationPhase.SUCCEEDED
            if not in_fail_phase:
                state.message = "successfully synced" + (
                    " (dry run)" if state.operation.sync.dry_run else ""
                )
            state.finished_at = now_rfc3339()
        state.step = None
        return state


def needs_health_gate(step: sp.Step, pool: list[sp.Step]) -> bool:
    """Does a later step depend on this step's objects being healthy?

    Pruning does not (it removes what git no longer has, whatever the new
    objects' health); a later wave or a later phase (PostSync) does.
    """
    return any(s > step and s.wave != sp.PRUNE_WAVE for s in pool)


def at_safe_point(state: OperationState) -> bool:
    """May the operation be stopped between passes? Not while one of its hooks runs."""
    if state.phase != OperationPhase.RUNNING:
        return False
    return not any(r.hook_type and r.hook_phase == HookPhase.RUNNING for r in state.resources)


def end_early(state: OperationState, phase: OperationPhase, message: str) -> OperationState:
    """End a running operation where it stands (superseded or terminated)."""
    state.phase = phase
    state.message = message
    state.step = None
    state.finished_at = now_rfc3339()
    return state


def _stamped(body: JSON, stamp: str) -> JSON:
    """``body`` with ``OPERATION_ANNOTATION: stamp`` (a copy; ``body`` is left alone)."""
    meta = dict(body.get("metadata") or {})
    meta["annotations"] = {**(meta.get("annotations") or {}), OPERATION_ANNOTATION: stamp}
    return {**body, "metadata": meta}


def _stamp_of(live: JSON) -> str | None:
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(OPERATION_ANNOTATION) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else None


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_stamp(text: str, default: float) -> float:
    """Seconds of an RFC 3339 stamp; ``default`` (no time waited) when unreadable."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return default


def _current(
    state: OperationState, normal: list[sp.Step], failing: list[sp.Step]
) -> sp.Step | None:
    if state.phase != OperationPhase.RUNNING:
        return None
    if state.step is None:
        if state.message:  # failed before any SyncFail step could start
            return None
        return normal[0] if normal else None
    pool = failing if state.step.phase == SyncPhase.SYNC_FAIL else normal
    wanted = sp.Step(sp.phase_index(state.step.phase), state.step.wave or 0, state.step.phase)
    return next((s for s in pool if s >= wanted), None)


def _next(step: sp.Step, pool: list[sp.Step]) -> sp.Step | None:
    return next((s for s in pool if s > step), None)


def _result(state: OperationState, task: sp.Task) -> ResourceResult:
    return _results(state, [task])[0]


def _results(state: OperationState, tasks: list[sp.Task]) -> list[ResourceResult]:
    """Each task's result in ``state`` (added as Pending when it has none yet).

    One pass over ``state.resources`` for all tasks: a step of a large app
    looks up hundreds of results, and a scan per task would be quadratic.
    """
    index: dict[tuple[str, str, str, str, str | None], ResourceResult] = {}
    for result in state.resources:
        key = (result.group, result.kind, result.namespace, result.name, result.hook_type)
        index.setdefault(key, result)  # the first match, as ever
    found: list[ResourceResult] = []
    for task in tasks:
        ref = task.obj.ref
        hook_type = task.phase if task.hook else None
        key = (ref.group, ref.kind, ref.namespace, ref.name, hook_type)
        known = index.get(key)
        if known is None:
            known = ResourceResult(
                group=ref.group,
                version=task.obj.api_version.rpartition("/")[2],
                kind=ref.kind,
                namespace=ref.namespace,
                name=ref.name,
                status=ResultCode.PENDING,
                hook_type=hook_type,
                sync_phase=task.phase,
                wave=task.wave,
            )
            state.resources.append(known)
            index[key] = known
        found.append(known)
    return found


def _orphan_result(
    state: OperationState, orphan: Orphan, status: ResultCode, message: str | None
) -> None:
    ref = orphan.ref
    state.resources.append(
        ResourceResult(
            group=ref.group,
            version=orphan.api_version.rpartition("/")[2],
            kind=ref.kind,
            namespace=ref.namespace,
            name=ref.name,
            status=status,
            message=message,
            sync_phase=SyncPhase.SYNC,
        )
    )


def _task_gate(
    task: sp.Task,
    result: ResourceResult,
    live: JSON | None,
    assess: Callable[[JSON], HealthResult],
) -> Gate:
    """One task's verdict from its live object (None: it does not exist)."""
    ref = task.obj.ref
    if live is None:
        if task.hook and result.hook_phase in _HOOK_ENDED:
            done = result.hook_phase == HookPhase.SUCCEEDED
            return Gate(done=done, failure=_hook_failure(result))
        return Gate(done=False, waiting="" if task.hook else f"{ref}: missing")
    if task.hook:
        return _hook_gate(result, live)
    verdict = assess(live)
    if verdict.status == HealthStatusCode.DEGRADED:
        return Gate(done=False, failure=f"{ref} is Degraded: {verdict.message}")
    if verdict.status in DONE_HEALTH:
        return Gate(done=True)
    return Gate(done=False, waiting=f"{ref}: {verdict.message or verdict.status}")


def _hook_gate(result: ResourceResult, live: JSON) -> Gate:
    """A hook is done when its Job completed / Pod succeeded / object is Healthy."""
    kind = live.get("kind")
    status = live.get("status") or {}
    if kind == "Job":
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        if conditions.get("Complete", {}).get("status") == "True":
            result.hook_phase = HookPhase.SUCCEEDED
        elif conditions.get("Failed", {}).get("status") == "True":
            result.hook_phase = HookPhase.FAILED
            result.message = str(conditions["Failed"].get("message") or "job failed")
    elif kind == "Pod":
        phase = status.get("phase")
        if phase in _HOOK_ENDED:  # the Pod phases Succeeded and Failed
            result.hook_phase = HookPhase(phase)
    else:
        verdict = builtin_assess(live)
        if verdict.status == HealthStatusCode.HEALTHY:
            result.hook_phase = HookPhase.SUCCEEDED
        elif verdict.status == HealthStatusCode.DEGRADED:
            result.hook_phase, result.message = HookPhase.FAILED, verdict.message
    if result.hook_phase == HookPhase.FAILED:
        return Gate(done=False, failure=_hook_failure(result))
    return Gate(done=result.hook_phase == HookPhase.SUCCEEDED)


def _hook_failure(result: ResourceResult) -> str:
    if result.hook_phase != HookPhase.FAILED:
        return ""
    return f"{result.hook_type} hook {result.kind} {result.name} failed: {result.message or ''}"


async def _bounded(
    limit: int, items: list[sp.Task], func: Callable[[sp.Task], Awaitable[None]]
) -> None:
    semaphore = asyncio.Semaphore(limit)
    failures: list[BaseException] = []

    async def guarded(item: sp.Task) -> None:
        async with semaphore:
            try:
                await func(item)
            except DriftlessError as exc:  # keep going: report every failure of the wave
                failures.append(exc)

    await asyncio.gather(*(guarded(item) for item in items))
    # An answered refusal fails the operation; a send without answer only when alone.
    answered = [f for f in failures if not unreachable(f)]
    if answered or failures:
        raise (answered or failures)[0]
