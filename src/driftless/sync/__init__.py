"""Sync: converge the cluster to one git revision, safely and resumably.

This docstring is the contract of the package; the code follows it.

Operations
    A sync is an *operation* on one Application, pinned to one commit. It is
    started by the controller when the app is automated and out of sync, or
    by a person (``driftless app sync``, ``driftless app rollback``), who
    writes the request into the Application's top-level ``operation`` field.
    Its progress lives in ``status.operationState``; the request is cleared
    when the operation finishes and a ``status.history`` entry is added.

Phases
    Every operation runs the phases ``PreSync`` → ``Sync`` → ``PostSync``.
    If any step fails, the remaining steps are skipped and the ``SyncFail``
    phase runs instead; the operation ends Failed either way.

Tasks
    Each rendered object is a task of the ``Sync`` phase, unless it carries
    the annotation ``driftless.dev/hook``: then it is a *hook* of the phases
    listed there (comma-separated: ``PreSync``, ``Sync``, ``PostSync``,
    ``SyncFail``; ``Skip`` means "never apply this object"). Hooks are not
    part of the app's desired state: they are never compared, never shown
    OutOfSync and never pruned, only created when their phase runs.

Order
    Within a phase, tasks run in *waves*: ``driftless.dev/sync-wave`` (an
    integer, default 0; Helm hook weights are mapped onto it), lower first.
    Within a wave, objects are applied concurrently (bounded) in kind order
    (Namespaces, CRDs, ServiceAccounts, RBAC, ConfigMaps/Secrets, Services,
    workloads, …) so dependencies are created first; a CRD is Established
    before any custom resource is applied.

Gates
    A wave is complete when every object of it is healthy (``Healthy`` or
    ``Suspended``) and every hook of it has completed (a Job Complete, a Pod
    Succeeded, any other kind Healthy). Only then does the next wave start.
    A ``Degraded`` object or a failed hook fails the operation. Objects that
    are still ``Progressing`` simply keep the operation Running: the
    controller re-checks a few seconds later and never blocks a worker.

Pruning
    With ``prune``, objects of the app that git no longer has are deleted
    after the last wave of the ``Sync`` phase, in reverse kind order, except
    those annotated ``driftless.dev/sync-options: Prune=false``; pruning is
    refused when the render is suddenly empty and the app does not allow it.

Hook delete policies
    ``driftless.dev/hook-delete-policy`` (comma-separated):
    ``BeforeHookCreation`` (default) deletes the previous instance before a
    hook is created again; ``HookSucceeded`` deletes it once it succeeded;
    ``HookFailed`` once it failed.

Options
    ``driftless.dev/sync-options`` on an object: ``Prune=false`` (never
    prune it), ``Replace=true`` (delete and recreate instead of apply, for
    fields that cannot be updated in place). On the Application:
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
    After each step the cursor (phase, wave, whether its objects were sent)
    and every task's result are written to ``status.operationState``. A
    controller that restarts mid-sync continues from the cursor; finished
    hooks are recorded and are not run again; applying an already applied
    object is a no-op under server-side apply.
"""
