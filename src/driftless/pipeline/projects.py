"""Project sources: the Project an app is planned under.

* ``ClusterProjects`` — the controller's and ``app diff``'s: the Project is
  read from the controller's own namespace (``home``), never the app's, and
  the app's namespace must be one of its ``sourceNamespaces``. A missing or
  malformed Project is a ``ProjectViolationError`` (the admin must act); a
  missing Project CRD a ``StallingError`` saying to run ``driftless install``.
* ``PermissiveProjects`` — push mode's: no Project object exists; the
  pipeline's own RBAC is the fence, so every app gets the allow-everything
  ``default`` project, in memory (nothing is read from the cluster).
"""

from __future__ import annotations

from typing import Protocol

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
from driftless.kube.client import KubeApiError, KubeClient, UnknownKindError
from driftless.pipeline import status


class ProjectSource(Protocol):
    async def project_for(self, app: Application) -> Project:
        """The app's Project, if the app may use it (else a ``DriftlessError``)."""
        ...


class ClusterProjects:
    """Projects stored in the controller's namespace ``home`` of the ``control`` cluster."""

    def __init__(self, control: KubeClient, home: str) -> None:
        self.control = control
        self.home = home

    async def project_for(self, app: Application) -> Project:
        project = await self.read(app.spec.project)
        check_app_namespace(project, app.namespace, self.home)
        return project

    async def read(self, name: str) -> Project:
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
