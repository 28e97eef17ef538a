"""The ``Project`` resource and its policy checks. Pure.

A Project fences what its Applications may do:

* ``sourceRepos``: globs of repository URLs an app may use,
* ``destinations``: (server glob, namespace glob) pairs an app may deploy to,
* ``clusterResourceAllowList``: cluster-scoped (group, kind) an app may create
  — empty means none, as cluster-scoped objects affect every tenant,
* ``namespaceResourceDenyList``: namespaced (group, kind) an app may not create,
* ``sourceNamespaces``: globs of the namespaces whose Applications may use the
  project.
* ``allowHelmLookup``: whether its apps may let Helm templates ``lookup`` live
  objects (``spec.source.helm.lookup``); off by default, because reading is a
  grant of its own: see ``driftless.render.lookup_proxy``.

Projects are the administrator's objects: the controller reads them only from
its own namespace (``driftless`` by default), never from the app's. An app in
the controller's namespace may use any project; an app elsewhere only a
project whose ``sourceNamespaces`` match its namespace (``check_app_namespace``).

Protected namespaces (the controller's own, where its credentials live) are
off-limits as destinations unless a project names them literally in
``destinations`` — a glob such as ``*`` never reaches them.

Globs use shell-style wildcards (``*``, ``?``, ``[..]``) and are matched
case-sensitively; ``*`` matches ``/`` too, so ``https://git.example.com/team/*``
covers every repository of that team. ``sourceRepos`` globs and repository
URLs are both compared normalized (``core.repourl``: host case, default
ports, ``..``, ``//``, a trailing ``.git`` and scp-like spellings do not
matter). ``check_*`` functions raise
``ProjectViolationError`` naming the offending object, so nothing is applied.
``driftless install`` creates a ``default`` project that allows everything.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from pydantic import Field

from driftless.core import repourl
from driftless.core.errors import SourceError, StallingError
from driftless.core.models import API_VERSION, ApiModel
from driftless.core.reasons import Reason

PROJECT_KIND = "Project"
DEFAULT_PROJECT = "default"
LOCAL_SERVER = "https://kubernetes.default.svc"
LOCAL_NAME = "in-cluster"  # the local cluster as a destination name


class ProjectViolationError(StallingError):
    """The app asks for something its project does not allow."""

    reason = Reason.PROJECT_VIOLATION


class GroupKind(ApiModel):
    group: str = Field("", description="API group (empty: core), or a glob.")
    kind: str = Field(description="Kind, or a glob.")

    def matches(self, group: str, kind: str) -> bool:
        return fnmatchcase(group, self.group or "") and fnmatchcase(kind, self.kind)


class ProjectDestination(ApiModel):
    server: str = Field(
        "*", description="Glob of API server URLs (in-cluster: " + LOCAL_SERVER + ")."
    )
    namespace: str = Field("*", description="Glob of namespaces.")


class ProjectRole(ApiModel):
    """A role of the project for the API and UI (``server.rbac`` reads it)."""

    name: str = Field(description="The role's name; its subject is proj:<project>:<name>.")
    description: str | None = None
    policies: list[str] = Field(
        default_factory=list,
        description="Policy lines (p, proj:<project>:<name>, <resource>, <action>, "
        "<project>/<object>, allow|deny) naming this project's objects only.",
    )
    groups: list[str] = Field(
        default_factory=list, description="Single sign-on groups that have this role."
    )


class ProjectSpec(ApiModel):
    description: str | None = None
    source_repos: list[str] = Field(default_factory=list, description="Allowed repository globs.")
    destinations: list[ProjectDestination] = Field(
        default_factory=list, description="Allowed (server, namespace) destinations."
    )
    cluster_resource_allow_list: list[GroupKind] = Field(
        default_factory=list, description="Cluster-scoped kinds apps may manage."
    )
    namespace_resource_deny_list: list[GroupKind] = Field(
        default_factory=list, description="Namespaced kinds apps may not manage."
    )
    source_namespaces: list[str] = Field(
        default_factory=list,
        description="Globs of namespaces whose Applications may use this project "
        "(apps in the controller's namespace may use any project).",
    )
    roles: list[ProjectRole] = Field(
        default_factory=list, description="Roles for the API and UI: policies and groups."
    )
    allow_helm_lookup: bool = Field(
        False,
        description="Let apps set spec.source.helm.lookup: charts read live objects of the"
        " destination, within these namespaces and kinds, never Secrets. Default: refused.",
    )


class Project(ApiModel):
    api_version: str = API_VERSION
    kind: str = PROJECT_KIND
    metadata: dict[str, object] = Field(default_factory=dict)
    spec: ProjectSpec = Field(default_factory=ProjectSpec)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))


def default_project(namespace: str) -> dict[str, object]:
    """The permissive ``default`` project ``driftless install`` creates."""
    return {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": DEFAULT_PROJECT, "namespace": namespace},
        "spec": {
            "description": "Allows everything; restrict it or create narrower projects.",
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceAllowList": [{"group": "*", "kind": "*"}],
        },
    }


def check_source(project: Project, repo_url: str) -> None:
    """Raise unless a ``sourceRepos`` glob allows ``repo_url``.

    Both sides are compared in ``core.repourl``'s normalized form (the one git
    fetches), never as written: ``https://h/team-a/../team-b/x`` is
    ``https://h/team-b/x`` to git, so it must be to the allow-list too. A URL
    that cannot be normalized is refused by no rule but ``*``.
    """
    try:
        key = repourl.parse_repo_url(repo_url).key
    except SourceError:
        key = None
    for pattern in project.spec.source_repos:
        if pattern.strip() == "*" or (
            key is not None and repourl.glob_matches(repourl.pattern_key(pattern), key)
        ):
            return
    raise ProjectViolationError(
        f"repository {repourl.redact(repo_url)} is not permitted in project {project.name}"
    )


def check_app_namespace(project: Project, app_namespace: str, home: str) -> None:
    """May an Application in ``app_namespace`` use this project? ``home``: the controller's."""
    if app_namespace == home:
        return
    if any(fnmatchcase(app_namespace, glob) for glob in project.spec.source_namespaces):
        return
    raise ProjectViolationError(
        f"project {project.name} may not be used by applications in namespace "
        f"{app_namespace} (not in its sourceNamespaces)"
    )


def check_destination(
    project: Project, server: str, namespace: str, *, protected: frozenset[str] = frozenset()
) -> None:
    """Raise unless the project allows (server, namespace).

    A ``protected`` namespace is allowed only by a destination naming it
    literally; globs (``*``, ``team-*``) never match it.
    """
    guarded = namespace in protected
    for dest in project.spec.destinations:
        if guarded and dest.namespace != namespace:
            continue
        if fnmatchcase(server, dest.server) and fnmatchcase(namespace, dest.namespace):
            return
    if guarded:
        raise ProjectViolationError(
            f"namespace {namespace} belongs to the driftless controller; project "
            f"{project.name} must list it by name in destinations to deploy there"
        )
    shown = namespace or "(cluster scope)"
    raise ProjectViolationError(
        f"destination {server} namespace {shown} is not permitted in project {project.name}"
    )


def allows_kind(project: Project, group: str, kind: str, namespaced: bool) -> bool:
    """Whether the project lets apps manage this kind at this scope."""
    try:
        check_resource(project, group, kind, namespaced, "")
    except ProjectViolationError:
        return False
    return True


def check_resource(
    project: Project, group: str, kind: str, namespaced: bool, describe: str
) -> None:
    """Raise if the project forbids managing this kind; ``describe`` names the object."""
    if namespaced:
        if any(gk.matches(group, kind) for gk in project.spec.namespace_resource_deny_list):
            raise ProjectViolationError(
                f"{describe}: kind {_gk(group, kind)} is denied in project {project.name}"
            )
        return
    if not any(gk.matches(group, kind) for gk in project.spec.cluster_resource_allow_list):
        raise ProjectViolationError(
            f"{describe}: cluster-scoped kind {_gk(group, kind)} is not allowed "
            f"in project {project.name}"
        )


def _gk(group: str, kind: str) -> str:
    return f"{kind}.{group}" if group else kind


def check_helm_lookup(project: Project) -> None:
    """Raise unless the project lets its apps' charts ``lookup`` live objects."""
    if not project.spec.allow_helm_lookup:
        raise ProjectViolationError(
            f"spec.source.helm.lookup is not allowed in project {project.name}"
            " (the project must set allowHelmLookup: true)"
        )
