"""Reason constants used in ``status.conditions`` and in Kubernetes Events.

They are part of the public API: users match them in ``kubectl wait`` scripts
and alerts, so a constant is never renamed, only added.
"""

from typing import Final

# Ready=True
SYNCED: Final = "Synced"
# Ready=False / Reconciling=True while work is in flight
PROGRESSING: Final = "Progressing"
RECONCILING: Final = "Reconciling"
# Ready=False, Stalled=True: the input must change before anything can improve
STALLED: Final = "Stalled"
SOURCE_FAILED: Final = "SourceFailed"
RENDER_FAILED: Final = "RenderFailed"
VALIDATION_FAILED: Final = "ValidationFailed"
# Ready=False, retried with backoff
SOURCE_UNAVAILABLE: Final = "SourceUnavailable"
APPLY_FAILED: Final = "ApplyFailed"
RECONCILIATION_FAILED: Final = "ReconciliationFailed"
# health
HEALTH_CHECK_FAILED: Final = "HealthCheckFailed"
PROJECT_VIOLATION: Final = "ProjectViolation"
# tenancy: a live object is tracked by another Application
RESOURCE_OWNED_ELSEWHERE: Final = "ResourceOwnedElsewhere"
# a reconcile ran past its deadline and was cancelled; retried with backoff
RECONCILE_TIMED_OUT: Final = "ReconcileTimedOut"
# pruning
PRUNE_SKIPPED: Final = "PruneSkipped"
DELETION_FAILED: Final = "DeletionFailed"
SYNC_FAILED: Final = "SyncFailed"
# operations that ended early (Events; the operation phase says the same)
SYNC_SUPERSEDED: Final = "SyncSuperseded"
SYNC_TERMINATED: Final = "SyncTerminated"
