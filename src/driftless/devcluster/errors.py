"""Errors of the dev cluster and its binary builds.

    DriftlessError (driftless.core.errors)
    └── DevClusterError        the local control plane could not be started or stopped
        └── BuildError         a pinned binary could not be built from the Go module proxy

Messages quote the tail of the relevant log so a failed start explains itself.
"""

from __future__ import annotations

from driftless.core.errors import DriftlessError


class DevClusterError(DriftlessError):
    """The dev cluster failed to start, became unhealthy, or could not be stopped."""


class BuildError(DevClusterError):
    """Building or locating a pinned binary failed."""
