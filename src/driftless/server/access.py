"""Authorization of every ``/api/v1`` route: one dependency, one table.

``dependency(source, app_project)`` is on every protected route, after the
login guard. It finds the route's entry in ``ROUTES`` -- ``(method, path
under /api/v1)``
to the ``(resource, action)`` pairs it needs -- and leaves an ``Access`` in
``request.state.access`` for what a route decides item by item. A route
missing from the table is refused (403): a new route is closed until it is
given its rights here (a unit test checks the table against the app).

For a route naming an application (``{namespace}/{name}``) the object is
``<project>/<name>`` (the app's ``spec.project``, from the server's cache, or
read when not cached yet):

* without ``get`` on it the answer is 404 with the very message of a
  missing app: a hidden app's name is never confirmed;
* with ``get`` but not the route's other rights, 403 naming the action
  (``not permitted: sync application team-a/web``), never the policy.

A write (any method but GET) refused here never reaches its route's audit,
so it is recorded here (``audit.Audit.write``, result ``refused`` with the
code): the log line always, the Event on the Application only when the
caller may see it (no Event on an object hidden from them).

Lists (applications, projects, repositories, clusters, the list's stream)
have no entry rights; they keep only the items ``Access`` says are visible
(``sees_app``, ``sees``), so totals and counts count those only. Creating
and editing check the target project in the route (``Access.require``):
create needs ``create`` there; an edit needs ``update`` on the app where it
is and, if the edit moves it, ``update`` in the target project too.

Objects of other resources (``rbac`` module docstring): ``projects`` the
project's name; ``repositories`` the credential's URL; ``clusters`` the
cluster's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from driftless.core import names
from driftless.pipeline import app_spec
from driftless.server import rbac
from driftless.server.audit import Audit
from driftless.server.auth import Principal
from driftless.server.errors import ApiError, ForbiddenError, NotFoundError
from driftless.server.rbac_source import RbacSource
from driftless.server.rows import Row

__all__ = ["ROUTES", "Access", "action_of", "dependency", "of", "well_formed"]

Need = tuple[tuple[str, str], ...]
APP = "/applications/{namespace}/{name}"
PREFIX = "/api/v1"
GET: Need = (("applications", "get"),)
MAX_NAME = app_spec.NAME_MAX  # an Application name (``params.Name``)

# (method, path) -> rights on the named app (empty: the route filters or checks itself).
ROUTES: dict[tuple[str, str], Need] = {
    ("GET", "/applications"): (),
    ("POST", "/applications"): (),  # create: the target project, in the route
    ("GET", "/stream"): (),
    ("GET", "/projects"): (),
    ("GET", "/repositories"): (),
    ("GET", "/clusters"): (),
    ("GET", APP): GET,
    ("GET", APP + "/history"): GET,
    ("GET", APP + "/tree"): GET,
    ("GET", APP + "/resource"): GET,
    ("GET", APP + "/diff"): GET,
    ("GET", APP + "/manifests"): GET,
    ("GET", APP + "/events"): (*GET, ("events", "get")),
    ("GET", APP + "/stream"): (*GET, ("events", "get")),
    ("PUT", APP): (*GET, ("applications", "update")),
    ("PATCH", APP): (*GET, ("applications", "update")),
    ("DELETE", APP): (*GET, ("applications", "delete")),
    ("POST", APP + "/sync"): (*GET, ("applications", "sync")),
    # A refresh makes the controller act (read git, maybe self-heal): not for read-only users.
    ("POST", APP + "/refresh"): (*GET, ("applications", "sync")),
    ("POST", APP + "/terminate"): (*GET, ("applications", "sync")),
    ("POST", APP + "/rollback"): (*GET, ("applications", "sync")),
}


def well_formed(namespace: str, name: str) -> bool:
    """Whether ``namespace/name`` may name an app (the routes' own path rules). Pure."""
    return names.namespace_problem(namespace) is None and (
        len(name) <= MAX_NAME and names.matches(names.RELEASE_NAME_PATTERN, name)
    )


def _not_found(namespace: str, name: str) -> NotFoundError:
    # The routes' own words for a missing app: hidden and missing read the same.
    return NotFoundError(f"application {namespace}/{name} not found")


@dataclass(frozen=True)
class Access:
    """What one request's identity may do, under the policy of the moment it came."""

    policy: rbac.Policy
    who: rbac.Who

    def may(self, resource: str, action: str, obj: str) -> bool:
        return self.policy.allows(self.who, resource, action, obj)

    def sees_app(self, project: str, name: str) -> bool:
        return self.may("applications", "get", f"{project}/{name}")

    def sees_row(self, row: Row) -> bool:
        return self.sees_app(row.data["project"], row.data["name"])

    def sees(self, resource: str, obj: str) -> bool:
        return self.may(resource, "get", obj)

    def require(self, action: str, project: str, namespace: str, name: str) -> None:
        """403 unless ``action`` on application ``name`` in ``project`` is permitted."""
        if not self.may("applications", action, f"{project}/{name}"):
            raise ForbiddenError(
                f"not permitted: {action} application {namespace}/{name} in project {project}"
            )


def of(request: Request) -> Access:
    """The request's ``Access`` (set by ``dependency``)."""
    access: Access = request.state.access
    return access


def who(principal: Principal) -> rbac.Who:
    return rbac.Who(principal.subject, tuple(principal.groups), principal.method)


ProjectOf = Callable[[str, str], Awaitable[str | None]]


def action_of(method: str, path: str) -> str:
    """The audit trail's action of a write route on an app (as its route names it). Pure."""
    if path.startswith(APP + "/"):
        return path.removeprefix(APP + "/")
    return "delete" if method == "DELETE" else "edit"


def dependency(
    source: RbacSource, app_project: ProjectOf, trail: Audit | None = None
) -> Callable[..., Any]:
    """The dependency (see the module docstring). ``app_project(namespace, name)``: the
    app's project, or ``None`` when the API server said there is no such app (the route
    then says 404); it raises (503) when it cannot tell, so no route runs unauthorized.
    ``trail``: where writes refused here are recorded."""

    def refused(request: Request, path: str, error: ApiError, *, visible: bool) -> ApiError:
        if trail is not None and request.method != "GET":
            principal: Principal = request.state.principal
            trail.write(
                principal.subject,
                principal.method,
                action_of(request.method, path),
                str(request.path_params.get("namespace", "")),
                str(request.path_params.get("name", "")),
                "refused",
                str(error.code),
                principal.token,
                event=visible,
            )
        return error

    async def authorize(request: Request) -> None:
        access = Access(source.policy(), who(request.state.principal))
        request.state.access = access
        # The matched route's path template, relative to ``/api/v1`` (as the route
        # modules declare it; without the prefix when routers are kept nested).
        path = str(getattr(request.scope.get("route"), "path", "")).removeprefix(PREFIX)
        need = ROUTES.get((request.method, path))
        if need is None:
            raise ForbiddenError("not permitted: this route has no authorization rule")
        if not need:
            return
        namespace = str(request.path_params.get("namespace", ""))
        name = str(request.path_params.get("name", ""))
        if not well_formed(namespace, name):
            return  # no app has it: the route's validation answers 422 before it runs
        project = await app_project(namespace, name)
        if project is None:
            return  # no such app: the route answers its 404
        if not access.sees_app(project, name):
            raise refused(request, path, _not_found(namespace, name), visible=False)
        for resource, action in need:
            if not access.may(resource, action, f"{project}/{name}"):
                noun = "application" if resource == "applications" else f"{resource} of application"
                said = f"not permitted: {action} {noun} {namespace}/{name} in project {project}"
                raise refused(request, path, ForbiddenError(said), visible=True)

    return authorize
