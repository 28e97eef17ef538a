"""Sync: converge the cluster to one git revision, safely and resumably.

This docstring is the contract of the package; the code follows it.

Operations
    A sync is an *operation* on one Application, pinned to one commit. It is
    started by the controller when the app is automated and out of sync, or
    by a person (``driftless app sync``, ``driftless app rollback``), who
    writes the request into the Application's top-level ``operation`` field.
    Its progress lives in ``status.operationState``; the request is cleared
    when the operation finishes and a ``status.history`` entry is added.
    An operation ends ``Succeeded``, ``Failed``, ``Superseded`` or
    ``Terminated``.

Phases
    Every operation runs the phases ``PreSync`` → ``Sync`` → ``PostSync``.
    If any step fails, the remaining steps are skipped and the ``SyncFail``
    phase runs instead; the operation ends Failed either way. The API server
    refusing a request (RBAC, admission, schema) is such a failure; the API
    server being unreachable, throttling or losing a write race is not: the
    pass ends where it got to and the step is sent again by a later pass.
    A change to a live object is validated before anything is written (the
    plan's dry-run), and so is an object that does not exist yet when a hook
    runs before or beside it (a PreSync hook, or a Sync hook of its wave or
    an earlier one; a custom resource whose CRD this sync creates excepted):
    a hook's side effect cannot be taken back. Any other new object is
    validated by the apply that creates it (``sync.execute``): a refused one
    fails the operation naming it and the server's message, its wave's other
    objects and the earlier waves stay applied, later waves and pruning do
    not run.

Tasks
    Each rendered object is a task of the ``Sync`` phase, unless it carries
    the annotation ``driftless.dev/hook``: then it is a *hook* of the phases
    listed there (comma-separated: ``PreSync``, ``Sync``, ``PostSync``,
    ``SyncFail``; ``Skip`` means "never apply this object"). Hooks are not
    part of the app's desired state: they are never compared, never shown
    OutOfSync and never pruned, only created when their phase runs. A hook
    may have ``metadata.generateName`` instead of a name (no other object
    may): each operation then creates its own instance with POST, named from
    the operation so that a resumed pass finds it (``core.generate_name``).
    Argo CD's ``argocd.argoproj.io/*`` annotations are read as driftless's
    (``core.argocd``, in ``sync.prepare``); a value driftless lacks refuses
    the render, naming the object and the value.

Order
    Within a phase, tasks run in *waves*: ``driftless.dev/sync-wave`` (an
    integer, default 0; Helm hook weights are mapped onto it), lower first.
    Within a wave, objects are applied concurrently (bounded) in kind order
    (Namespaces, CRDs, ServiceAccounts, RBAC, ConfigMaps/Secrets, Services,
    workloads, …) so dependencies are created first; a CRD is Established
    before any custom resource is applied.

Gates
    A step is complete when every hook of it has completed (a Job Complete,
    a Pod Succeeded, any other kind Healthy) and, *if anything depends on
    it*, every object of it is healthy (``Healthy`` or ``Suspended``). Only
    then does the next step start. Something depends on a step's health when
    a later step other than pruning follows it (a later wave, a PostSync
    hook), or when the caller asks for it (push mode's ``--wait``). The last
    step is therefore complete once its objects are applied: the operation
    ends ``Succeeded`` and the app's health keeps being reported
    (``Progressing``, ``Ready=False reason=Progressing``) without holding an
    operation open — an object that never turns healthy (a LoadBalancer
    Service without a load balancer) cannot freeze the app.

    A health gate has a deadline: ``spec.syncPolicy.healthTimeout`` (default
    ``5m``), counted from the moment the step first waited (kept in the
    cursor, so a restart does not reset it). At the deadline the operation
    fails with a message naming every object still waiting and its health
    message; the ``SyncFail`` phase runs and the retry policy applies.
    A failed hook, or a ``Degraded`` object the step waits for, fails the
    operation at once (a ``Degraded`` object of the last step shows on the
    app's health instead).
    Hooks have no such deadline (a Job has ``activeDeadlineSeconds``).
    Waiting never blocks a worker: the controller re-checks a few seconds
    later.

Safe points, supersession and termination
    Between two passes of the step machine an operation is at a *safe
    point* unless one of its hooks is running. There:

    * a newer revision *supersedes* an automated operation that is only
      waiting (for health or its deadline): the operation ends with phase
      ``Superseded`` (recorded in ``status.history``) and a new automated
      operation starts for the new revision. A running hook is never cut in
      half: the operation is superseded once the hook has ended.
      ``spec.syncPolicy.supersede: false`` turns this off; an operation a
      person requested (``app sync --revision X``) is never superseded by
      the automation.
    * a termination request (the annotation
      ``driftless.dev/terminate-operation`` whose value is the operation's
      ``startedAt``, written by ``driftless app terminate-op``) ends the
      running operation with phase ``Terminated`` (recorded in history).
      Termination does not wait for a running hook: the hook is left to run
      to its end, nothing further is applied. A request naming another
      operation (a stale one) is ignored and removed. A terminated
      operation is not retried by the retry policy; a new revision or a
      manual sync starts the next one.

Status during an operation
    The comparison with git keeps running while an operation is in
    progress: the app's sync status compares the live objects with the
    *current* target revision, so a new commit shows ``OutOfSync`` with its
    SHA at the next check (the refresh annotation, a webhook or the poll),
    while ``status.operationState`` keeps reporting the operation's own
    revision and progress.

Pruning
    With ``prune``, objects of the app that git no longer has are deleted
    after the last wave of the ``Sync`` phase, in reverse kind order, except
    those annotated ``driftless.dev/sync-options: Prune=false``; pruning is
    refused when the render is suddenly empty and the app does not allow it.

Hook delete policies
    ``driftless.dev/hook-delete-policy`` (comma-separated):
    ``BeforeHookCreation`` (default) deletes the previous instance before a
    hook is created again (for a ``generateName`` hook: every earlier
    instance of it that carries its template label and this app's tracking
    id); ``HookSucceeded`` deletes it once it succeeded; ``HookFailed`` once
    it failed.

Options
    ``driftless.dev/sync-options`` on an object: ``Prune=false`` (never
    prune it), ``Replace=true`` (delete and recreate instead of apply, for
    fields that cannot be updated in place), ``CreateNamespace=true`` (its
    namespace is created first, as the Application option below does);
    ``driftless.dev/compare-options: IgnoreExtraneous``: the object, once git
    no longer has it, does not make the app OutOfSync. On the Application:
    ``CreateNamespace=true`` (its bare Namespace is applied under a field
    manager of its own, so it never strips what the namespace already has);
    ``AllowTakeover=true`` (adopt objects another app of the same namespace
    tracks; see ``sync.ownership``). A *selective* sync (``resources`` set)
    applies only the named objects, runs no hooks and prunes nothing else.

Ownership
    A sync never writes an object whose live tracking id names another app
    (the whole plan is refused with reason ``ResourceOwnedElsewhere``), and
    prune never deletes one (``sync.ownership``, ``sync.prune``). Whether a
    kind is namespaced comes from discovery (``sync.scope``).

Resumption
    After each step the cursor (phase, wave, whether its objects were sent,
    since when its health gate waits) and every task's result are written
    to ``status.operationState``. A controller that restarts mid-sync
    continues from the cursor; finished hooks are recorded and are not run
    again; applying an already applied object is a no-op under server-side
    apply.
"""
