"""Health assessment of live objects. Pure: objects in, verdicts out, no I/O.

Public surface:

* ``assess(obj)`` — the verdict of the built-in rules for one live object;
* ``HealthRegistry(custom_checks).assess(obj)`` — the same, with custom checks
  overriding the built-in rules for their (group, kind);
* ``parse_custom_checks(data)`` — custom checks from plain data or YAML text,
  raising ``CustomHealthCheckError`` (a ``StallingError``) with a precise message;
* ``app_health(resources)`` / ``worst(results)`` — fold verdicts, worst wins, in
  the severity order documented in ``result``;
* ``DONE_HEALTH`` — the verdicts that end a wait for health (Healthy, Suspended).

One module per kind judges it (``deployment``, ``statefulset``, ``daemonset``,
``replicaset``, ``pod``, ``job``, ``cronjob``, ``service``, ``ingress``, ``pvc``,
``hpa``, ``crd``, ``apiservice``, ``namespace``), each docstring saying how;
``conditions`` judges any other object by kstatus conventions; ``registry``
dispatches; ``custom`` and ``expressions`` hold the CEL checks.
"""

from driftless.health.custom import (
    CustomHealthCheck,
    CustomHealthCheckError,
    HealthRule,
    parse_custom_checks,
)
from driftless.health.registry import HealthRegistry, assess, group_kind
from driftless.health.result import DONE_HEALTH, SEVERITY, HealthResult, app_health, worst

__all__ = [
    "DONE_HEALTH",
    "SEVERITY",
    "CustomHealthCheck",
    "CustomHealthCheckError",
    "HealthRegistry",
    "HealthResult",
    "HealthRule",
    "app_health",
    "assess",
    "group_kind",
    "parse_custom_checks",
    "worst",
]
