"""The verdict of a health check and how verdicts combine.

Severity, worst first — an app's health is the worst of its resources':

    Degraded     something failed and will not recover by waiting
    Missing      an object the app wants is not in the cluster
    Unknown      the health cannot be judged (a custom check failed to evaluate,
                 a malformed status); waiting may not help, so it outranks
                 Progressing, but it is not evidence of a failure
    Progressing  not there yet, and expected to get there by waiting
    Suspended    deliberately paused (paused Deployment, suspended Job/CronJob)
    Healthy      as wanted

Argo CD ranks Unknown worst of all; driftless ranks definite failures above it,
so one unjudgeable object never hides a Degraded one in the app's message.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from driftless.core.models import HealthStatusCode

SEVERITY: tuple[HealthStatusCode, ...] = (
    HealthStatusCode.DEGRADED,
    HealthStatusCode.MISSING,
    HealthStatusCode.UNKNOWN,
    HealthStatusCode.PROGRESSING,
    HealthStatusCode.SUSPENDED,
    HealthStatusCode.HEALTHY,
)
"""Every status, worst first."""

DONE_HEALTH: tuple[HealthStatusCode, ...] = (HealthStatusCode.HEALTHY, HealthStatusCode.SUSPENDED)
"""The verdicts that end a wait for health: a Suspended object is as done as it
will get (a sync gate, ``apply --wait``, ``app wait --health`` all stop here)."""

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class HealthResult:
    """A status and a message for ``kubectl describe`` readers (may be empty)."""

    status: HealthStatusCode
    message: str = ""


HEALTHY = HealthResult(HealthStatusCode.HEALTHY)


def severity(status: HealthStatusCode) -> int:
    """Rank of ``status``: 0 is the worst."""
    return SEVERITY.index(status)


def worst(results: Iterable[HealthResult]) -> HealthResult:
    """The most severe result, the first one on ties; Healthy when there is none."""
    return min(results, key=lambda r: severity(r.status), default=HEALTHY)


def app_health(resources: Mapping[K, HealthResult]) -> HealthResult:
    """Fold per-resource verdicts into the app's verdict: the worst status wins.

    ``resources`` maps something naming each resource (a ref, a string) to its
    verdict. The message names the first resource with the worst status and its
    message, and counts the others that share that status, e.g.
    ``Deployment web: rollout stuck (and 2 more Degraded)``. When all are
    Healthy the message just counts them; an app with no resources is Healthy.
    """
    overall = worst(resources.values()).status
    if overall == HealthStatusCode.HEALTHY:
        count = len(resources)
        return HealthResult(overall, f"{count} resource{'' if count == 1 else 's'} healthy")
    culprits = [(key, r) for key, r in resources.items() if r.status == overall]
    key, first = culprits[0]
    message = f"{key}: {first.message}" if first.message else str(key)
    if len(culprits) > 1:
        message += f" (and {len(culprits) - 1} more {overall})"
    return HealthResult(overall, message)


def healthy(message: str = "") -> HealthResult:
    return HealthResult(HealthStatusCode.HEALTHY, message)


def progressing(message: str) -> HealthResult:
    return HealthResult(HealthStatusCode.PROGRESSING, message)


def degraded(message: str) -> HealthResult:
    return HealthResult(HealthStatusCode.DEGRADED, message)


def suspended(message: str) -> HealthResult:
    return HealthResult(HealthStatusCode.SUSPENDED, message)


def unknown(message: str) -> HealthResult:
    return HealthResult(HealthStatusCode.UNKNOWN, message)
