"""Project sources: the Project an app is planned under.

* ``ClusterProjects`` — the controller's and ``app diff``'s: the Project is
  read from the controller's own namespace (``home``), never the app's, and
  the app's namespace must be one of its ``sourceNamespaces``. A missing or
  malformed Project is a ``ProjectViolationError`` (the admin must act); a
  missing Project CRD a ``StallingError`` saying to run ``driftless install``.
  With ``watched=True`` (the controller's) the Projects of ``home`` are
  answered from a watch (``kube.cache``) instead of a GET per plan, parsed
  once per resourceVersion, and ``version(name)`` tells the resourceVersion
  the watch holds (the fast path's fingerprint, ``controller.fastpath``).
  A name the watch does not hold is read with a GET all the same (a
  Project created a moment ago); a watch that cannot start (RBAC, no CRD
  yet) falls back to GETs and is tried again on the next read.
  ``subscribe(callback)`` hears of every Project changed or deleted once the
  watch runs (not of the first list: that is no change).
* ``PermissiveProjects`` — push mode's: no Project object exists; the
  pipeline's own RBAC is the fence, so every app gets the allow-everything
  ``default`` project, in memory (nothing is read from the cluster).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import ValidationError as PydanticValidationError

from driftless.core.errors import StallingError
from driftless.core.models import API_VERSION, Application
from driftless.core.project import (
    PROJECT_KIND,
    Project,
    ProjectViolationError,
    check_app_namespace,
    default_project,
)
from driftless.core.reasons import Reason
from driftless.kube.cache import WatchCache
from driftless.kube.client import KubeApiError, KubeClient, UnknownKindError
from driftless.pipeline import status

log = logging.getLogger(__name__)
# How long a plan waits for the Projects watch's first list before reading with a GET.
WATCH_START_TIMEOUT = 10.0


class ProjectSource(Protocol):
    async def project_for(self, app: Application) -> Project:
        """The app's Project, if the app may use it (else a ``DriftlessError``)."""
        ...


class ClusterProjects:
    """Projects stored in the controller's namespace ``home`` of the ``control`` cluster."""

    def __init__(self, control: KubeClient, home: str, *, watched: bool = False) -> None:
        self.control = control
        self.home = home
        self._cache = WatchCache(control, namespace=home) if watched else None
        # name -> (resourceVersion, Project): a Project is parsed once per version.
        self._parsed: dict[str, tuple[str, Project]] = {}

    async def project_for(self, app: Application) -> Project:
        project = await self.read(app.spec.project)
        check_app_namespace(project, app.namespace, self.home)
        return project

    def version(self, name: str) -> str | None:
        """The resourceVersion of Project ``name`` in the watch; None: not watched or absent."""
        if self._cache is None or not self._cache.synced(API_VERSION, PROJECT_KIND):
            return None
        raw = self._cache.get(API_VERSION, PROJECT_KIND, self.home, name)
        version = ((raw or {}).get("metadata") or {}).get("resourceVersion")
        return str(version) if version else None

    def subscribe(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        """Call ``callback(event_type, project)`` on each change the watch sees (keep it cheap)."""
        cache = self._cache
        if cache is None:
            return

        def changed(event_type: str, obj: dict[str, Any]) -> None:
            if cache.synced(API_VERSION, PROJECT_KIND):  # the first list is no change
                callback(event_type, obj)

        cache.subscribe(changed)

    async def close(self) -> None:
        """Stop the watch of Projects, if any."""
        if self._cache is not None:
            await self._cache.close()

    async def read(self, name: str) -> Project:
        raw = await self._watched(name)
        if raw is None:
            raw = await self._get(name)
        version = str((raw.get("metadata") or {}).get("resourceVersion", ""))
        parsed = self._parsed.get(name)
        if parsed is not None and version and parsed[0] == version:
            return parsed[1]
        project = self._parse(name, raw)
        if version and self._cache is not None:
            self._parsed[name] = (version, project)
        return project

    async def _watched(self, name: str) -> dict[str, Any] | None:
        """Project ``name`` from the watch, or None (not watched, not started, not there)."""
        if self._cache is None:
            return None
        if not self._cache.synced(API_VERSION, PROJECT_KIND):
            try:
                await self._cache.ensure(API_VERSION, PROJECT_KIND, timeout=WATCH_START_TIMEOUT)
            except (UnknownKindError, TimeoutError, KubeApiError) as exc:
                log.debug("projects read with GETs: the watch did not start: %s", exc)
                return None
        return self._cache.get(API_VERSION, PROJECT_KIND, self.home, name)

    async def _get(self, name: str) -> dict[str, Any]:
        try:
            raw = await self.control.get(API_VERSION, PROJECT_KIND, name, self.home)
        except UnknownKindError:
            raise StallingError(
                "the Project CRD is not installed; run `driftless install`",
                reason=Reason.PROJECT_VIOLATION,
            ) from None
        except KubeApiError as exc:
            raise exc.in_context(f"cannot read project {name}") from None
        if raw is None:
            raise ProjectViolationError(f"project {name} does not exist in namespace {self.home}")
        return raw

    def _parse(self, name: str, raw: dict[str, Any]) -> Project:
        try:
            return Project.model_validate(raw)
        except PydanticValidationError as exc:
            # Written around the schema (kubectl --validate=false, an old CRD):
            # the admin must fix it; the app says which field.
            raise ProjectViolationError(
                f"project {name} is malformed: {status.first_error(exc)}"
            ) from None


class PermissiveProjects:
    """Push mode: the allow-everything ``default`` project, whatever the app names."""

    async def project_for(self, app: Application) -> Project:
        project = Project.model_validate(default_project(app.namespace))
        # Push mode reads with the user's own credentials: Helm lookup sees what they may.
        project.spec.allow_helm_lookup = True
        return project
