"""``driftless project ...``: create, inspect, edit and delete Projects.

Projects live in the controller's namespace (``-n``, else
``$DRIFTLESS_NAMESPACE``, else ``driftless``): the controller reads them only
there. Applications in that namespace may use any project; Applications in
other namespaces only projects whose ``sourceNamespaces`` match theirs
(``--source-namespace``). Every write is
validated with ``ProjectSpec`` first; ``set`` is a read-modify-write guarded
by the object's ``resourceVersion`` (see ``cli.objects.update``), so two
people adding repositories at once both keep their change. ``delete`` refuses
while Applications still name the project, unless ``--force``.

``--allow-helm-lookup`` (create, set) lets the project's apps set
``spec.source.helm.lookup`` (``allowHelmLookup``); ``set --no-allow-helm-lookup``
takes it back, and giving both is a usage error (``cli.toggle``).

Flag formats: ``--destination SERVER_GLOB,NAMESPACE_GLOB`` (e.g.
``https://kubernetes.default.svc,team-*``) and ``GROUP/KIND`` for resource
lists, where the core group is empty (``/Namespace``, or just ``Namespace``).
"""

from __future__ import annotations

from collections.abc import Callable

import click
from pydantic import ValidationError as PydanticValidationError

from driftless.cli import listing
from driftless.cli.completion import complete_names
from driftless.cli.context import Globals, app_namespace, run_async, with_client
from driftless.cli.objects import (
    JSON,
    check_name,
    create_only,
    get_or_fail,
    load_documents,
    merge_patch_diff,
    update,
    upsert,
    validation_message,
)
from driftless.cli.options import namespace_option, no_headers_option, output_option
from driftless.cli.output import age, dump, table
from driftless.cli.toggle import toggle_option, toggle_value
from driftless.core.models import API_VERSION, APPLICATION_KIND, GROUP
from driftless.core.project import PROJECT_KIND, GroupKind, ProjectDestination, ProjectSpec
from driftless.kube.client import KubeClient, KubeForbiddenError

complete_project = complete_names(API_VERSION, PROJECT_KIND)


@click.group("project")
def project_group() -> None:
    """Manage Projects: which repos, destinations and kinds their apps may use."""


# -- parsing flags -------------------------------------------------------------------


def parse_destination(text: str) -> ProjectDestination:
    """``SERVER_GLOB,NAMESPACE_GLOB`` → destination; a usage error otherwise."""
    server, sep, namespace = text.partition(",")
    if not sep or not server.strip() or not namespace.strip() or "," in namespace:
        raise click.BadParameter(
            f"expected SERVER_GLOB,NAMESPACE_GLOB (e.g. https://kubernetes.default.svc,team-*),"
            f" got {text!r}",
            param_hint="'--destination'",
        )
    return ProjectDestination(server=server.strip(), namespace=namespace.strip())


def parse_group_kind(text: str, flag: str) -> GroupKind:
    """``GROUP/KIND`` (``/KIND`` or ``KIND`` for the core group) → GroupKind."""
    group, _, kind = text.strip().rpartition("/")
    if not kind:
        raise click.BadParameter(
            f"expected GROUP/KIND (e.g. apps/Deployment, /Namespace), got {text!r}",
            param_hint=f"'{flag}'",
        )
    return GroupKind(group=group, kind=kind)


def show_group_kind(gk: GroupKind) -> str:
    return f"{gk.group}/{gk.kind}"


def show_destination(dest: ProjectDestination) -> str:
    return f"{dest.server},{dest.namespace}"


# -- create --------------------------------------------------------------------------


def spec_from_file(path: str, name: str) -> JSON:
    """The spec of the one Project manifest (or bare spec mapping) in ``path``."""
    documents = load_documents(path)
    if len(documents) != 1:
        raise click.BadParameter(
            f"expected one Project in {path}, found {len(documents)} documents",
            param_hint="'--from-file'",
        )
    doc = documents[0]
    if "spec" not in doc and "kind" not in doc:
        return doc
    if doc.get("kind", PROJECT_KIND) != PROJECT_KIND:
        raise click.BadParameter(
            f"{path} holds a {doc.get('kind')}, not a Project", param_hint="'--from-file'"
        )
    file_name = (doc.get("metadata") or {}).get("name")
    if file_name and file_name != name:
        raise click.BadParameter(
            f"{path} describes project {file_name!r}, not {name!r}", param_hint="'--from-file'"
        )
    spec = doc.get("spec") or {}
    if not isinstance(spec, dict):
        raise click.BadParameter(f"{path}: spec is not a mapping", param_hint="'--from-file'")
    return spec


def validated_spec(raw: JSON) -> ProjectSpec:
    try:
        return ProjectSpec.model_validate(raw)
    except PydanticValidationError as exc:
        raise click.UsageError(f"invalid project: {validation_message(exc, 'spec')}") from None


def build_spec(
    base: JSON,
    *,
    description: str | None,
    source_repos: tuple[str, ...],
    destinations: tuple[str, ...],
    allow_cluster: tuple[str, ...],
    deny_namespaced: tuple[str, ...],
    source_namespaces: tuple[str, ...] = (),
    allow_helm_lookup: bool = False,
) -> ProjectSpec:
    """The spec of ``base`` (a file's spec or ``{}``) with the flags' values added."""
    spec = validated_spec(base)
    # Only adds, like the other flags: without it a file's allowHelmLookup stands.
    spec.allow_helm_lookup = spec.allow_helm_lookup or allow_helm_lookup
    spec.source_namespaces += [n for n in source_namespaces if n not in spec.source_namespaces]
    if description is not None:
        spec.description = description
    spec.source_repos += [r for r in source_repos if r not in spec.source_repos]
    spec.destinations += [parse_destination(d) for d in destinations]
    spec.cluster_resource_allow_list += [
        parse_group_kind(g, "--allow-cluster-resource") for g in allow_cluster
    ]
    spec.namespace_resource_deny_list += [
        parse_group_kind(g, "--deny-namespaced-resource") for g in deny_namespaced
    ]
    return validated_spec(spec.to_api())


def project_object(name: str, namespace: str, spec: ProjectSpec) -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec.to_api(),
    }


@project_group.command("create")
@click.argument("name")
@click.option("--description", default=None, help="What the project is for.")
@click.option(
    "--source-repo",
    "source_repos",
    multiple=True,
    metavar="GLOB",
    help="Repository URL glob apps may use (repeatable), e.g. 'https://git.example.com/team/*'.",
)
@click.option(
    "--destination",
    "destinations",
    multiple=True,
    metavar="SERVER_GLOB,NS_GLOB",
    help="Cluster and namespace globs apps may deploy to (repeatable).",
)
@click.option(
    "--allow-cluster-resource",
    "allow_cluster",
    multiple=True,
    metavar="GROUP/KIND",
    help="Cluster-scoped kind apps may manage (repeatable; none by default).",
)
@click.option(
    "--deny-namespaced-resource",
    "deny_namespaced",
    multiple=True,
    metavar="GROUP/KIND",
    help="Namespaced kind apps may not manage (repeatable).",
)
@click.option(
    "--source-namespace",
    "source_namespaces",
    multiple=True,
    metavar="GLOB",
    help="Namespace glob whose Applications may use the project (repeatable; apps in the "
    "controller's namespace always may).",
)
@click.option(
    "--allow-helm-lookup",
    is_flag=True,
    help="Let its apps' Helm charts lookup live objects of their destinations (read-only,"
    " within the project's namespaces and kinds, never Secrets; off by default).",
)
@click.option(
    "--from-file",
    default=None,
    metavar="FILE",
    help="Start from the spec of this Project manifest ('-' for stdin); flags add to it.",
)
@click.option("--upsert", "upsert_", is_flag=True, help="Replace the spec of an existing project.")
@namespace_option("the Project")
@click.pass_obj
@run_async
async def create_project(
    globals_: Globals,
    name: str,
    description: str | None,
    source_repos: tuple[str, ...],
    destinations: tuple[str, ...],
    allow_cluster: tuple[str, ...],
    deny_namespaced: tuple[str, ...],
    source_namespaces: tuple[str, ...],
    allow_helm_lookup: bool,
    from_file: str | None,
    upsert_: bool,
    namespace: str | None,
) -> None:
    """Create a Project; fails if one of that name exists, unless --upsert.

    A new project allows nothing it does not list: no repositories, no
    destinations, no cluster-scoped kinds, no apps outside the controller's
    namespace. The controller's own namespace is a destination only when a
    --destination names it literally (a glob never reaches it).

    \b
    Examples:
      driftless project create team-a \\
          --source-repo 'https://git.example.com/team-a/*' \\
          --destination 'https://kubernetes.default.svc,team-a-*' \\
          --deny-namespaced-resource /ResourceQuota --source-namespace team-a
      driftless project create platform --from-file platform-project.yaml
    """
    check_name(name, "project")
    spec = build_spec(
        spec_from_file(from_file, name) if from_file else {},
        description=description,
        source_repos=source_repos,
        destinations=destinations,
        allow_cluster=allow_cluster,
        deny_namespaced=deny_namespaced,
        source_namespaces=source_namespaces,
        allow_helm_lookup=allow_helm_lookup,
    )
    obj = project_object(name, app_namespace(namespace), spec)
    write = upsert if upsert_ else create_only
    await with_client(globals_, lambda client: write(client, obj))
    click.echo(f"project.driftless.dev/{name} {'configured' if upsert_ else 'created'}")


# -- list / get ----------------------------------------------------------------------


async def _apps(client: KubeClient, namespace: str) -> list[JSON]:
    """Applications that may name the projects of ``namespace``: those of every
    namespace (``sourceNamespaces``), or only that namespace's if the caller may
    not list them cluster-wide."""
    try:
        return await client.list(API_VERSION, APPLICATION_KIND, None)
    except KubeForbiddenError:  # RBAC: not cluster-wide
        pass
    return await client.list(API_VERSION, APPLICATION_KIND, namespace)


async def _projects_and_apps(client: KubeClient, namespace: str) -> tuple[list[JSON], list[JSON]]:
    projects = await client.list(API_VERSION, PROJECT_KIND, namespace)
    apps = await _apps(client, namespace)
    return sorted(projects, key=lambda p: str(p["metadata"]["name"])), apps


def apps_of(project: str, apps: list[JSON], home: str | None = None) -> list[str]:
    """The Applications that name ``project`` (default: ``default``): bare names in
    the project's namespace ``home``, ``namespace/name`` elsewhere."""

    def shown(app: JSON) -> str:
        meta = app["metadata"]
        namespace = meta.get("namespace")
        if home is None or not namespace or namespace == home:
            return str(meta["name"])
        return f"{namespace}/{meta['name']}"

    return sorted(
        shown(a) for a in apps if ((a.get("spec") or {}).get("project") or "default") == project
    )


TABLE_HEADERS = ["name", "source-repos", "destinations", "apps", "age"]
WIDE_HEADERS = [
    *TABLE_HEADERS,
    "cluster-resources",
    "denied-resources",
    "source-namespaces",
    "description",
]


def _joined(items: list[str]) -> str:
    return ",".join(items) if items else "<none>"


def stored_spec(project: JSON) -> ProjectSpec:
    """The spec of a stored Project; one the model refuses shows as allowing nothing."""
    try:
        return ProjectSpec.model_validate(project.get("spec") or {})
    except PydanticValidationError:
        return ProjectSpec(description="<invalid spec: see -o yaml>")


def project_row(project: JSON, apps: list[JSON], *, wide: bool) -> list[str]:
    spec = stored_spec(project)
    meta = project["metadata"]
    row = [
        str(meta["name"]),
        _joined(spec.source_repos),
        _joined([show_destination(d) for d in spec.destinations]),
        str(len(apps_of(str(meta["name"]), apps, meta.get("namespace")))),
        age(meta.get("creationTimestamp")),
    ]
    if wide:
        row += [
            _joined([show_group_kind(g) for g in spec.cluster_resource_allow_list]),
            _joined([show_group_kind(g) for g in spec.namespace_resource_deny_list]),
            _joined(spec.source_namespaces),
            spec.description or "",
        ]
    return row


@project_group.command("list")
@namespace_option("the Project")
@output_option()
@no_headers_option
@click.pass_obj
@run_async
async def list_projects(
    globals_: Globals, namespace: str | None, output: str, no_headers: bool
) -> None:
    """List Projects with what they allow and how many apps use them.

    \b
    Examples:
      driftless project list
      driftless project list -o wide
      driftless project list -o name --no-headers
    """
    ns = app_namespace(namespace)
    projects, apps = await with_client(globals_, lambda client: _projects_and_apps(client, ns))
    listing.write(project_listing(ns, apps), projects, output, no_headers=no_headers)


def project_listing(namespace: str, apps: list[JSON]) -> listing.Listing:
    """Projects of ``namespace``; ``apps``: the Applications that may use them (APPS column)."""
    names = list(TABLE_HEADERS) + [h for h in WIDE_HEADERS if h not in TABLE_HEADERS]

    def cell(index: int) -> listing.Cell:
        return lambda project: project_row(project, apps, wide=True)[index]

    return listing.Listing(
        resource=f"project.{GROUP}",
        columns=[
            listing.Column(header, cell(i), wide=header not in TABLE_HEADERS)
            for i, header in enumerate(names)
        ],
        empty=f"No Projects found in namespace {namespace}.",
    )


def describe_project(project: JSON, app_names: list[str]) -> str:
    """A human summary of one Project."""
    spec = stored_spec(project)
    meta = project["metadata"]

    def block(title: str, items: list[str]) -> list[str]:
        return [f"{title}:", *(f"  {item}" for item in items or ["<none>"])]

    lines = [
        f"Name:          {meta.get('namespace')}/{meta['name']}",
        f"Description:   {spec.description or '-'}",
        f"Helm lookup:   {'allowed' if spec.allow_helm_lookup else 'refused'}",
        *block("Source Repos", spec.source_repos),
        *block(
            "Destinations (server, namespace)", [show_destination(d) for d in spec.destinations]
        ),
        *block(
            "Cluster Resources Allowed",
            [show_group_kind(g) for g in spec.cluster_resource_allow_list],
        ),
        *block(
            "Namespaced Resources Denied",
            [show_group_kind(g) for g in spec.namespace_resource_deny_list],
        ),
        *block("Source Namespaces (besides the controller's)", spec.source_namespaces),
        *block("Applications", app_names),
    ]
    return "\n".join(lines)


async def _project_and_apps(
    client: KubeClient, name: str, namespace: str
) -> tuple[JSON, list[JSON]]:
    project = await get_or_fail(client, API_VERSION, PROJECT_KIND, name, namespace)
    return project, await _apps(client, namespace)


@project_group.command("get")
@click.argument("name", shell_complete=complete_project)
@namespace_option("the Project")
@output_option()
@click.pass_obj
@run_async
async def get_project(globals_: Globals, name: str, namespace: str | None, output: str) -> None:
    """Show one Project: what it allows and which Applications use it.

    \b
    Examples:
      driftless project get team-a
      driftless project get team-a -o yaml
    """
    ns = app_namespace(namespace)
    project, apps = await with_client(globals_, lambda client: _project_and_apps(client, name, ns))
    if output in ("json", "yaml"):
        click.echo(dump(project, output))
    elif output == "name":
        click.echo(f"project.driftless.dev/{name}")
    elif output == "wide":
        click.echo(table(WIDE_HEADERS, [project_row(project, apps, wide=True)]))
    else:
        click.echo(describe_project(project, apps_of(name, apps, ns)))


# -- set -----------------------------------------------------------------------------


def edited_spec(
    spec: ProjectSpec,
    *,
    description: str | None,
    add_repos: tuple[str, ...],
    remove_repos: tuple[str, ...],
    add_destinations: tuple[str, ...],
    remove_destinations: tuple[str, ...],
    add_source_namespaces: tuple[str, ...] = (),
    remove_source_namespaces: tuple[str, ...] = (),
    allow_helm_lookup: bool | None = None,
) -> ProjectSpec:
    """``spec`` with the edits applied; adding what is there and removing what is not are
    no-ops, so the edit can be replayed on a fresher object after a conflict."""
    new = spec.model_copy(deep=True)
    if description is not None:
        new.description = description or None
    if allow_helm_lookup is not None:
        new.allow_helm_lookup = allow_helm_lookup
    new.source_repos = [r for r in new.source_repos if r not in remove_repos]
    new.source_repos += [r for r in dict.fromkeys(add_repos) if r not in new.source_repos]
    new.source_namespaces = [n for n in new.source_namespaces if n not in remove_source_namespaces]
    new.source_namespaces += [
        n for n in dict.fromkeys(add_source_namespaces) if n not in new.source_namespaces
    ]
    removed = {show_destination(parse_destination(d)) for d in remove_destinations}
    new.destinations = [d for d in new.destinations if show_destination(d) not in removed]
    for text in add_destinations:
        dest = parse_destination(text)
        if show_destination(dest) not in {show_destination(d) for d in new.destinations}:
            new.destinations.append(dest)
    return new


def spec_patch(current: JSON, edit: Callable[[ProjectSpec], ProjectSpec]) -> JSON:
    """The merge patch for ``current`` after ``edit(spec) -> spec``; only what changed."""
    before = validated_spec(current.get("spec") or {})
    after = validated_spec(edit(before).to_api())
    diff = merge_patch_diff(before.to_api(), after.to_api())
    return {"spec": diff} if diff else {}


@project_group.command("set")
@click.argument("name", shell_complete=complete_project)
@click.option("--description", default=None, help="New description ('' clears it).")
@click.option("--add-source-repo", "add_repos", multiple=True, metavar="GLOB")
@click.option("--remove-source-repo", "remove_repos", multiple=True, metavar="GLOB")
@click.option("--add-destination", "add_destinations", multiple=True, metavar="SERVER_GLOB,NS_GLOB")
@click.option(
    "--remove-destination", "remove_destinations", multiple=True, metavar="SERVER_GLOB,NS_GLOB"
)
@click.option("--add-source-namespace", "add_source_namespaces", multiple=True, metavar="GLOB")
@click.option(
    "--remove-source-namespace", "remove_source_namespaces", multiple=True, metavar="GLOB"
)
@toggle_option(
    "allow-helm-lookup",
    "Allow (or refuse again) its apps' Helm charts to lookup live objects (never Secrets).",
)
@namespace_option("the Project")
@click.pass_obj
@run_async
async def set_project(
    globals_: Globals,
    name: str,
    description: str | None,
    add_repos: tuple[str, ...],
    remove_repos: tuple[str, ...],
    add_destinations: tuple[str, ...],
    remove_destinations: tuple[str, ...],
    add_source_namespaces: tuple[str, ...],
    remove_source_namespaces: tuple[str, ...],
    allow_helm_lookup: tuple[bool, ...],
    namespace: str | None,
) -> None:
    """Change a Project's repositories, destinations, source namespaces, Helm lookup or
    description.

    Concurrent edits are safe: the change is written against the version
    read, and recomputed on the newer one if someone else changed it meanwhile.

    \b
    Examples:
      driftless project set team-a --add-source-repo 'https://git.example.com/shared/*'
      driftless project set team-a --add-source-namespace 'team-a-*'
      driftless project set team-a --remove-destination 'https://kubernetes.default.svc,team-a-*' \\
          --add-destination 'https://kubernetes.default.svc,team-a'
      driftless project set team-a --allow-helm-lookup
    """
    for text in (*add_destinations, *remove_destinations):
        parse_destination(text)  # a bad flag fails before the cluster is contacted
    lookup = toggle_value(allow_helm_lookup, "allow-helm-lookup")
    ns = app_namespace(namespace)

    def edit(spec: ProjectSpec) -> ProjectSpec:
        return edited_spec(
            spec,
            description=description,
            add_repos=add_repos,
            remove_repos=remove_repos,
            add_destinations=add_destinations,
            remove_destinations=remove_destinations,
            add_source_namespaces=add_source_namespaces,
            remove_source_namespaces=remove_source_namespaces,
            allow_helm_lookup=lookup,
        )

    _, changed = await with_client(
        globals_,
        lambda client: update(
            client, API_VERSION, PROJECT_KIND, name, ns, lambda cur: spec_patch(cur, edit)
        ),
    )
    click.echo(f"project.driftless.dev/{name} {'updated' if changed else 'unchanged'}")


# -- delete --------------------------------------------------------------------------


async def _delete(client: KubeClient, name: str, namespace: str, force: bool) -> list[str]:
    """Delete the project; refuse while apps use it (unless ``force``). Returns their names."""
    await get_or_fail(client, API_VERSION, PROJECT_KIND, name, namespace)
    users = apps_of(name, await _apps(client, namespace), namespace)
    if users and not force:
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        raise click.ClickException(
            f'project "{name}" is used by {len(users)} application(s): {shown};'
            " move or delete them first, or use --force"
        )
    await client.delete(API_VERSION, PROJECT_KIND, name, namespace)
    return users


@project_group.command("delete")
@click.argument("name", shell_complete=complete_project)
@click.option("--force", is_flag=True, help="Delete even if Applications use it (they will stall).")
@namespace_option("the Project")
@click.pass_obj
@run_async
async def delete_project(globals_: Globals, name: str, force: bool, namespace: str | None) -> None:
    """Delete a Project that no Application uses.

    \b
    Examples:
      driftless project delete team-a
      driftless project delete team-a --force
    """
    ns = app_namespace(namespace)
    users = await with_client(globals_, lambda client: _delete(client, name, ns, force))
    click.echo(f"project.driftless.dev/{name} deleted")
    if users:
        click.echo(
            f"warning: {len(users)} application(s) still name project {name} and will stall"
            " until it exists again",
            err=True,
        )
