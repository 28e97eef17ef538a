"""Custom health checks, read from the ConfigMap ``driftless-health``.

Administrators declare CEL health rules per group/kind (see
``driftless.health.custom`` for the format) under the key ``healthChecks`` of
the ConfigMap ``driftless-health`` in the namespace of the Applications they
apply to. A configuration that does not parse is logged and ignored (the
built-in rules keep working) rather than stalling every app. Re-read at most
every ``ttl`` seconds per namespace.
"""

from __future__ import annotations

import logging
import time

from driftless.health import CustomHealthCheckError, HealthRegistry, parse_custom_checks
from driftless.kube.client import KubeApiError, KubeClient

log = logging.getLogger(__name__)
CONFIGMAP = "driftless-health"
KEY = "healthChecks"


class HealthConfig:
    def __init__(self, client: KubeClient, *, ttl: float = 10.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cached: dict[str, tuple[float, HealthRegistry]] = {}

    async def registry(self, namespace: str) -> HealthRegistry:
        now = time.monotonic()
        cached = self._cached.get(namespace)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        registry = await self._load(namespace)
        self._cached[namespace] = (now, registry)
        return registry

    async def _load(self, namespace: str) -> HealthRegistry:
        try:
            config = await self.client.get("v1", "ConfigMap", CONFIGMAP, namespace)
        except KubeApiError as exc:
            log.warning("cannot read %s/%s: %s", namespace, CONFIGMAP, exc)
            return HealthRegistry()
        text = ((config or {}).get("data") or {}).get(KEY)
        if not text:
            return HealthRegistry()
        try:
            return HealthRegistry(parse_custom_checks(text))
        except CustomHealthCheckError as exc:
            log.error(
                "ignoring invalid custom health checks in %s/%s: %s", namespace, CONFIGMAP, exc
            )
            return HealthRegistry()
