"""The server's RBAC policy kept current: ConfigMap ``driftless-rbac`` and the Projects' roles.

``RbacSource.policy()`` is the policy to decide a request with; it never
blocks and never fails. It is built (``rbac.build``) from

* the ConfigMap ``CONFIGMAP`` of the controller's namespace (keys
  ``policy.csv`` and ``policy.default``), followed by a watch (list, then
  watch from its resourceVersion; re-list on expiry, retry every
  ``RETRY_SECONDS`` while the API server is away). No ConfigMap: an empty
  policy (the built-in roles only: the local admin may do everything, anyone
  else nothing).
* the Projects the server's ``Caches`` follow (their ``spec.roles``): the
  policy is rebuilt on the first decision after a Project changed.

A ConfigMap that does not parse leaves the last good policy in force (before
any: the empty one) and is reported, each distinct problem once: a log line
and a Warning Event ``PolicyInvalid`` on the ConfigMap naming the lines. A
Project role line left out (another project's object, or not parsing) is
reported the same way, with the Event on the Project. ``loaded`` says whether
the ConfigMap has been read once (or found missing); ``version`` counts the
policies built, for tests and logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from driftless.controller.events import EventRecorder
from driftless.core.project import Project
from driftless.core.reasons import Reason
from driftless.kube.client import KubeApiError, KubeClient, WatchEvent
from driftless.kube.errors import KubeExpiredError
from driftless.server import rbac

__all__ = ["CONFIGMAP", "RbacSource"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]
CONFIGMAP = "driftless-rbac"
CSV_KEY = "policy.csv"
DEFAULT_KEY = "policy.default"
RETRY_SECONDS = 3.0
WATCH_SECONDS = 300
MAX_REPORTED = 5  # problems named in one Event (the log names them all)


def config_of(configmap: JSON | None) -> rbac.Config:
    """The policy keys of a ConfigMap (``None``: missing, an empty policy). Pure."""
    data = (configmap or {}).get("data")
    data = data if isinstance(data, dict) else {}
    csv, default = data.get(CSV_KEY, ""), data.get(DEFAULT_KEY, "")
    return rbac.Config(
        csv if isinstance(csv, str) else "", default.strip() if isinstance(default, str) else ""
    )


def _fingerprint(projects: list[JSON]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (
            str(p.get("metadata", {}).get("name", "")),
            str(p.get("metadata", {}).get("resourceVersion", "")),
        )
        for p in projects
    )


class RbacSource:
    """See the module docstring. ``projects``: the Projects now (``Caches.projects``)."""

    def __init__(
        self, client: KubeClient, namespace: str, projects: Callable[[], list[JSON]]
    ) -> None:
        self.client = client
        self.namespace = namespace
        self._projects = projects
        self._events = EventRecorder(client)
        self._config = rbac.Config()
        self._seen: tuple[tuple[str, str], ...] | None = None
        self._policy, _ = rbac.build(self._config, [])
        self._reported: set[str] = set()
        self._pending: set[asyncio.Task[None]] = set()
        self._meta: JSON = {}  # the ConfigMap's uid and resourceVersion, for its Events
        self.loaded = False
        self.version = 0

    def policy(self) -> rbac.Policy:
        """The policy now (rebuilt first if a Project changed since the last one)."""
        projects = self._projects()
        if _fingerprint(projects) != self._seen:
            self._rebuild(self._config, projects)
        return self._policy

    # -- building ------------------------------------------------------

    def _rebuild(self, config: rbac.Config, projects: list[JSON]) -> bool:
        """Build from ``config`` and ``projects``; ``False`` (and reported) if config is bad."""
        parsed: list[Project] = []
        for obj in projects:
            try:
                parsed.append(Project.model_validate(obj))
            except ValueError as exc:
                log.warning(
                    "project %s: its roles cannot be read: %s",
                    obj.get("metadata", {}).get("name"),
                    exc,
                )
        try:
            policy, left_out = rbac.build(config, parsed)
        except rbac.PolicyError as exc:
            self._report(None, exc.problems)
            return False
        self._config, self._policy = config, policy
        self._seen = _fingerprint(projects)
        self.version += 1
        by_project: dict[str, list[rbac.Problem]] = {}
        for problem in left_out:
            by_project.setdefault(problem.source.split(" ")[1], []).append(problem)
        for obj in projects:
            name = str(obj.get("metadata", {}).get("name", ""))
            if name in by_project:
                self._report(obj, by_project[name])
        return True

    def _report(
        self, obj: JSON | None, problems: tuple[rbac.Problem, ...] | list[rbac.Problem]
    ) -> None:
        """Log and record an Event for problems not reported yet (``obj``: a Project, or the
        ConfigMap when ``None``)."""
        new = [p for p in problems if str(p) not in self._reported]
        if not new:
            return
        self._reported.update(str(p) for p in new)
        for problem in new:
            log.warning(
                "RBAC policy: %s (left out%s)",
                problem,
                "" if obj else "; the last good policy stays",
            )
        shown = "; ".join(str(p) for p in new[:MAX_REPORTED])
        more = f" (and {len(new) - MAX_REPORTED} more)" if len(new) > MAX_REPORTED else ""
        if obj is None:
            target: JSON = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": CONFIGMAP, "namespace": self.namespace, **self._meta},
            }
            message = f"the policy was not loaded, the last good one stays: {shown}{more}"
        else:
            target = obj
            message = f"role lines left out of the policy: {shown}{more}"
        task = asyncio.get_running_loop().create_task(
            self._events.record(target, "Warning", Reason.POLICY_INVALID, message)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # -- following the ConfigMap ----------------------------------------

    def _take(self, configmap: JSON | None) -> None:
        meta = (configmap or {}).get("metadata") or {}
        self._meta = {k: meta[k] for k in ("uid", "resourceVersion") if k in meta}
        if self._rebuild(config_of(configmap), self._projects()):
            # A line broken again after a fix is reported again.
            self._reported = {r for r in self._reported if not r.startswith("policy.")}
            log.info(
                "RBAC policy %d loaded (%s)",
                self.version,
                "ConfigMap " + CONFIGMAP if configmap else "no ConfigMap: built-in roles only",
            )
        self.loaded = True

    async def run(self) -> None:
        """Follow the ConfigMap until cancelled (see the module docstring)."""
        while True:
            try:
                version = await self._relist()
                while True:
                    async for event in self.client.watch(
                        "v1",
                        "ConfigMap",
                        self.namespace,
                        resource_version=version,
                        timeout_seconds=WATCH_SECONDS,
                    ):
                        version = self._apply(event) or version
            except KubeExpiredError:
                continue
            except KubeApiError as exc:
                log.warning("cannot read ConfigMap %s/%s: %s", self.namespace, CONFIGMAP, exc)
            await asyncio.sleep(RETRY_SECONDS)

    async def _relist(self) -> str:
        found: JSON | None = None
        version = ""
        async for page, page_version in self.client.list_pages("v1", "ConfigMap", self.namespace):
            for obj in page:
                if obj.get("metadata", {}).get("name") == CONFIGMAP:
                    found = obj
            version = page_version
        self._take(found)
        return version

    def _apply(self, event: WatchEvent) -> str:
        meta = event.obj.get("metadata") or {}
        if event.type != "BOOKMARK" and meta.get("name") == CONFIGMAP:
            self._take(None if event.type == "DELETED" else event.obj)
        return str(meta.get("resourceVersion", ""))
