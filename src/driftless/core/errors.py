"""The error hierarchy of driftless.

Every failure that reaches the reconcile loop is one of these types, and the
type alone decides what happens next (see ``driftless.controller``):

    DriftlessError                 generic failure, retried with backoff
    ├── StallingError              the input is wrong; retrying cannot help until
    │   │                          the spec or the git content changes
    │   ├── SourceError            repository/revision/path problems that are the user's
    │   ├── RenderError            a manifest cannot be parsed or is not a Kubernetes object
    │   └── ValidationError        an object is valid YAML but refused (unknown kind, ...)
    ├── TransientError             the outside world failed (network, API server); retry
    │   ├── SourceUnavailableError a repository could not be reached
    │   └── ConflictError          an object changed under us; retry with the newer one
    ├── NotFoundError              an object asked for does not exist
    └── WaitingError               nothing is wrong, something is not ready yet; requeue soon

``driftless.kube.errors`` maps Kubernetes API failures onto these types.

Each error carries a ``reason`` (a ``core.reasons.Reason``, the condition reason)
and a message written for the person reading ``kubectl describe``. Messages
must never contain credentials.
"""

from __future__ import annotations

from driftless.core.reasons import Reason


class DriftlessError(Exception):
    """A failure with a condition reason and a human-readable message."""

    reason: Reason = Reason.RECONCILIATION_FAILED

    def __init__(self, message: str, *, reason: Reason | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return self.message


class StallingError(DriftlessError):
    """Retrying will not help: the app stays Stalled until its input changes."""

    reason = Reason.STALLED


class SourceError(StallingError):
    """The repository answered, but the revision or path asked for is not there."""

    reason = Reason.SOURCE_FAILED


class RenderError(StallingError):
    """The manifests at the revision cannot be turned into Kubernetes objects."""

    reason = Reason.RENDER_FAILED

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        reason: Reason | None = None,
    ) -> None:
        location = ""
        if file is not None:
            location = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{location}{message}", reason=reason)
        self.file = file
        self.line = line


class ValidationError(StallingError):
    """The objects rendered fine but the cluster or policy refuses them."""

    reason = Reason.VALIDATION_FAILED


class TransientError(DriftlessError):
    """Something outside driftless failed; the same request may succeed later."""

    reason = Reason.RECONCILIATION_FAILED


class SourceUnavailableError(TransientError):
    """The repository could not be reached (network, auth, server error)."""

    reason = Reason.SOURCE_UNAVAILABLE


class ConflictError(TransientError):
    """A write lost a race (the object changed, or already exists); read again and retry."""


class NotFoundError(DriftlessError):
    """An object that was asked for by name does not exist (any more)."""


class WaitingError(DriftlessError):
    """Nothing failed; a dependency is not ready yet and the app is requeued soon."""

    reason = Reason.PROGRESSING
