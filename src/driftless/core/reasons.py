"""The reasons driftless writes in ``status.conditions`` and in Kubernetes Events.

They are part of the public API: users match them in ``kubectl wait`` scripts
and alerts, so a value is never renamed, only added. ``Reason`` is a
``StrEnum``: a member *is* its string (it compares, hashes and serializes as
the value), so conditions and Events carry the plain CamelCase text.

Invariants (checked by ``tests/unit/test_vocabulary.py``): every reason the
code emits is a member (no literal passed as a reason), every member is
emitted somewhere, and every member is documented in the README's reasons
table. An error's reason comes from its class (``core.errors``); the table in
``controller`` / ``pipeline.status`` maps outcomes to conditions.
"""

from enum import StrEnum, unique


@unique
class Reason(StrEnum):
    """One condition or Event reason; the comment says when it is emitted."""

    # Ready=True: the cluster matches the revision and every resource is healthy;
    # also the Normal Event of a sync operation that succeeded.
    SYNCED = "Synced"
    # Ready=False and Reconciling=True while a sync runs, a rollout progresses or a
    # retry is pending; the reason of a WaitingError.
    PROGRESSING = "Progressing"
    # Ready=False: some resource differs from git and no sync is running.
    OUT_OF_SYNC = "OutOfSync"
    # Ready=False: synced, but a resource is Degraded (or Suspended/Unknown).
    DEGRADED = "Degraded"
    # Ready=False, Stalled=True: a StallingError (e.g. an invalid spec).
    STALLED = "Stalled"
    # Ready=False, Stalled=True: the repository has no such revision or path.
    SOURCE_FAILED = "SourceFailed"
    # Ready=False, Stalled=True: the manifests cannot be rendered or parsed.
    RENDER_FAILED = "RenderFailed"
    # Ready=False, Stalled=True: a SOPS-encrypted document cannot be decrypted (no key,
    # wrong key, garbage metadata); nothing is applied or pruned.
    DECRYPTION_FAILED = "DecryptionFailed"
    # Ready=False, Stalled=True: rendered objects refused by the cluster or policy.
    VALIDATION_FAILED = "ValidationFailed"
    # Ready=False, retried with backoff: the repository could not be reached.
    SOURCE_UNAVAILABLE = "SourceUnavailable"
    # Ready=False, retried with backoff: any other failure (the API server, ...).
    RECONCILIATION_FAILED = "ReconciliationFailed"
    # Ready=False, Stalled=True: the app's Project forbids its source, destination or kinds.
    PROJECT_VIOLATION = "ProjectViolation"
    # Ready=False, Stalled=True: a live object carries another Application's tracking id.
    RESOURCE_OWNED_ELSEWHERE = "ResourceOwnedElsewhere"
    # Ready=False: a reconcile ran past its deadline and was cancelled; retried with backoff.
    RECONCILE_TIMED_OUT = "ReconcileTimedOut"
    # Ready=False, Stalled=True: the app's status is larger than the API server stores.
    STATUS_TOO_LARGE = "StatusTooLarge"
    # Ready=False after a failed sync operation; also the Warning Event it ends with.
    SYNC_FAILED = "SyncFailed"
    # Normal Event: a sync operation started (by a user, auto-sync or self-heal).
    SYNC_STARTED = "SyncStarted"
    # Normal Event: the resources finalizer deleted an object of a deleted app.
    PRUNED = "Pruned"
    # Normal Event: a newer revision superseded a sync waiting for health.
    SYNC_SUPERSEDED = "SyncSuperseded"
    # Warning Event: a sync was terminated on request (``app terminate-op``).
    SYNC_TERMINATED = "SyncTerminated"
    # Warning Event (server): RBAC policy lines that do not parse, on ConfigMap
    # driftless-rbac (the last good policy stays), or left out of a Project's roles.
    POLICY_INVALID = "PolicyInvalid"
    # Normal Event (server audit): a write through the API was accepted.
    REQUESTED = "Requested"
    # Warning Event (server audit): a write through the API was refused or failed.
    REQUEST_REFUSED = "RequestRefused"
    # Normal Event (server audit): a login succeeded.
    LOGGED_IN = "LoggedIn"
    # Warning Event (server audit): a login failed.
    LOGIN_FAILED = "LoginFailed"
