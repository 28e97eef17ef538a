"""Dispatch a live object to the judgement of its (group, kind).

Order, for one object:

1. a custom health check for its (group, kind), if one is configured and one of
   its rules matches (see ``custom``);
2. ``metadata.deletionTimestamp`` set → Progressing (being deleted; finalizers
   run), except for kinds that judge their own deletion (Namespace, CRD);
3. the built-in assessor of its kind (one module per kind);
4. kstatus-style conditions (``conditions``);
5. Healthy: the object exists and nothing says otherwise (ConfigMap, Secret,
   RBAC, ...).

Built-in assessors read schema-validated fields, but a custom resource's status
can be any shape: a malformed field gives Unknown, never an exception, so
``HealthRegistry.assess`` always returns a verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from driftless.health import _fields as f
from driftless.health import (
    apiservice,
    crd,
    cronjob,
    daemonset,
    deployment,
    hpa,
    ingress,
    job,
    namespace,
    pod,
    pvc,
    replicaset,
    service,
    statefulset,
)
from driftless.health.conditions import assess_conditions
from driftless.health.custom import CustomHealthCheck, ensure_unique
from driftless.health.result import HEALTHY, HealthResult, progressing, unknown

Assessor = Callable[[Mapping[str, Any]], HealthResult]

BUILTIN: Mapping[tuple[str, str], Assessor] = {
    ("apps", "Deployment"): deployment.assess,
    ("apps", "StatefulSet"): statefulset.assess,
    ("apps", "DaemonSet"): daemonset.assess,
    ("apps", "ReplicaSet"): replicaset.assess,
    ("", "Pod"): pod.assess,
    ("batch", "Job"): job.assess,
    ("batch", "CronJob"): cronjob.assess,
    ("", "Service"): service.assess,
    ("networking.k8s.io", "Ingress"): ingress.assess,
    ("extensions", "Ingress"): ingress.assess,
    ("", "PersistentVolumeClaim"): pvc.assess,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa.assess,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd.assess,
    ("apiregistration.k8s.io", "APIService"): apiservice.assess,
    ("", "Namespace"): namespace.assess,
}
"""The kinds with a dedicated assessor, by (group, kind); "" is the core group."""

_JUDGE_OWN_DELETION = frozenset(
    {("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")}
)


def group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(group, kind) of an object: ``apps/v1`` → ``apps``, ``v1`` → ``""``."""
    return str(obj.get("apiVersion", "")).rpartition("/")[0], str(obj.get("kind", ""))


class HealthRegistry:
    """Judges objects: custom checks first, then the built-in rules.

    Build it once per configuration (checks are compiled when built); ``assess``
    is pure and cheap to call for every object on every reconcile. Raises
    ``CustomHealthCheckError`` if two checks are for the same (group, kind).
    """

    def __init__(self, custom_checks: Iterable[CustomHealthCheck] = ()) -> None:
        checks = list(custom_checks)
        ensure_unique(checks)
        self._custom = {check.key: check for check in checks}

    @property
    def custom_checks(self) -> list[CustomHealthCheck]:
        return list(self._custom.values())

    def assess(self, obj: Mapping[str, Any]) -> HealthResult:
        """The health of one live object; never raises."""
        key = group_kind(obj)
        check = self._custom.get(key)
        if check is not None:
            verdict = check.evaluate(obj)
            if verdict is not None:
                return verdict
        return assess_builtin(obj)


def assess_builtin(obj: Mapping[str, Any]) -> HealthResult:
    """The built-in judgement of one live object (steps 2-5 above); never raises."""
    key = group_kind(obj)
    try:
        if f.metadata(obj).get("deletionTimestamp") and key not in _JUDGE_OWN_DELETION:
            return progressing("being deleted")
        assessor = BUILTIN.get(key)
        if assessor is not None:
            return assessor(obj)
        return assess_conditions(obj) or HEALTHY
    except (TypeError, ValueError, AttributeError, KeyError) as err:
        return unknown(f"cannot read the status of this {key[1] or 'object'}: {err}")


_BUILTIN_ONLY = HealthRegistry()


def assess(obj: Mapping[str, Any]) -> HealthResult:
    """The health of one live object by the built-in rules only (no custom checks)."""
    return _BUILTIN_ONLY.assess(obj)
