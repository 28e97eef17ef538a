"""The closed sets of words of a sync operation, as ``StrEnum``s. Pure.

Users write some of these in their manifests (hook phases, delete policies,
sync options) and read the others in ``status.operationState``; scripts match
them, so a value is never renamed, only added. A ``StrEnum`` member *is* its
string: it compares equal to, hashes like and serializes as the plain value,
so the API's JSON is unchanged whether code holds a member or a literal.

=====================  ====================================================
name                   where it appears
=====================  ====================================================
``SyncPhase``          ``driftless.dev/hook``; ``operationState.step.phase``;
                       ``resources[].syncPhase`` / ``hookType``
``HOOK_SKIP``          ``driftless.dev/hook: Skip`` (not a phase: never applied)
``HookPhase``          ``operationState.resources[].hookPhase``
``ResultCode``         ``operationState.resources[].status``
``HookDeletePolicy``   ``driftless.dev/hook-delete-policy`` (comma-separated)
``ObjectOption``       ``driftless.dev/sync-options`` items on an object
``AppSyncOption``      ``spec.syncPolicy.syncOptions`` names (``<name>=true``)
=====================  ====================================================
"""

from enum import StrEnum, unique
from typing import Final


@unique
class SyncPhase(StrEnum):
    """The phases of a sync, in order; ``SYNC_FAIL`` runs only after a failure."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"


# The phases a successful sync walks through, in order.
NORMAL_PHASES: Final = (SyncPhase.PRE_SYNC, SyncPhase.SYNC, SyncPhase.POST_SYNC)
# Every phase, in the order of ``Step`` comparison (SyncFail last).
ALL_PHASES: Final = (*NORMAL_PHASES, SyncPhase.SYNC_FAIL)
# The value of the hook annotation that keeps an object out of every phase.
HOOK_SKIP: Final = "Skip"


@unique
class HookPhase(StrEnum):
    """Where one hook object of an operation stands."""

    # Applied by this operation; not finished yet.
    RUNNING = "Running"
    # The Job completed, the Pod succeeded, or the object turned Healthy.
    SUCCEEDED = "Succeeded"
    # The Job or Pod failed, or the object turned Degraded.
    FAILED = "Failed"


@unique
class ResultCode(StrEnum):
    """What an operation did to one object."""

    # Planned for a step not sent yet.
    PENDING = "Pending"
    # Applied (or replaced); dry-run applies say so in the message.
    SYNCED = "Synced"
    # The API server refused the apply; the message says why.
    SYNC_FAILED = "SyncFailed"
    # Gone from git and deleted (or would be, in a dry run).
    PRUNED = "Pruned"
    # Gone from git but kept: ``Prune=false``, or pruning was blocked.
    PRUNE_SKIPPED = "PruneSkipped"


@unique
class HookDeletePolicy(StrEnum):
    """When a hook object is deleted."""

    # The previous instance is deleted before the hook is created (the default).
    BEFORE_HOOK_CREATION = "BeforeHookCreation"
    # Deleted once the hook succeeded.
    HOOK_SUCCEEDED = "HookSucceeded"
    # Deleted once the hook failed.
    HOOK_FAILED = "HookFailed"


# A hook without a delete policy annotation.
DEFAULT_DELETE_POLICIES: Final = frozenset({HookDeletePolicy.BEFORE_HOOK_CREATION})


@unique
class ObjectOption(StrEnum):
    """Items of an object's ``driftless.dev/sync-options`` annotation, matched whole."""

    # Never prune this object.
    NO_PRUNE = "Prune=false"
    # Delete and recreate instead of server-side apply.
    REPLACE = "Replace=true"


@unique
class AppSyncOption(StrEnum):
    """Names of the ``<name>=true`` items of ``spec.syncPolicy.syncOptions``."""

    # Create the destination namespace when it does not exist.
    CREATE_NAMESPACE = "CreateNamespace"
    # Adopt objects that another app of the same namespace tracks.
    ALLOW_TAKEOVER = "AllowTakeover"
