"""Issue 8 (items 2, 8, 9, 10) against the real cluster: a tenant who lies about
scope, takes other apps' objects, picks a Project it may not use, aims at the
controller's namespace, or hangs a reconcile; a Project written around its schema;
Secret values in apply errors."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from driftless.cli.tools import render_tools
from driftless.controller.manager import Controller, ControllerSettings
from driftless.core.crd import project_crd
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.wellknown import TRACKING_ANNOTATION
from driftless.kube.client import KubeApiError, KubeClient
from driftless.sources.credstore import CredentialStore
from driftless.sources.git import GitCache
from tests.fixtures.git import MakeGitRepo
from tests.integration.helpers import (
    APPS_NAMESPACE,
    application,
    condition,
    create_app,
    get_app,
    ready,
    ready_false_with,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

JSON = dict[str, Any]
ALLOW_ALL_DESTINATIONS = [{"server": "*", "namespace": "*"}]


def cm(name: str, namespace: str | None = None, annotations: str = "") -> str:
    ns = f"  namespace: {namespace}\n" if namespace else ""
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{ns}{annotations}"
        "data:\n  v: '1'\n"
    )


def fake_crd(hook: str | None) -> str:
    """A CRD that claims ClusterRoleBinding is namespaced (optionally never applied)."""
    annotations = f"  annotations:\n    driftless.dev/hook: {hook}\n" if hook else ""
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterrolebindings.rbac.authorization.k8s.io
{annotations}spec:
  group: rbac.authorization.k8s.io
  scope: Namespaced
  names: {{kind: ClusterRoleBinding, plural: clusterrolebindings}}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
"""


def admin_binding(name: str, namespace: str) -> str:
    return f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {name}
  namespace: {namespace}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects:
  - {{kind: ServiceAccount, name: default, namespace: {namespace}}}
"""


async def make_project(kube: KubeClient, name: str, namespace: str, spec: JSON) -> None:
    body = {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"sourceRepos": ["*"], **spec},
    }
    await kube.apply(body, field_manager="test")


def message_of(app: JSON) -> str:
    found = condition(app, "Ready")
    return str(found["message"]) if found else ""


def at(app: JSON, sha: str) -> bool:
    return bool(((app.get("status") or {}).get("sync") or {}).get("revision") == sha)


def tracking(live: JSON | None) -> str:
    assert live is not None
    return str(live["metadata"]["annotations"][TRACKING_ANNOTATION])


# -- item 2: scope comes from discovery ---------------------------------------------


@pytest.mark.parametrize("hook", ["Skip", None])
async def test_a_fake_crd_cannot_sneak_a_cluster_admin_binding_past_the_project(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo, hook: str | None
) -> None:
    project = unique("scope")
    name = f"{project}-app"
    binding = unique("pwn")
    repo = make_git_repo(
        {
            "crd.yaml": fake_crd(hook),
            "crb.yaml": admin_binding(binding, name),
            "cm.yaml": cm("innocent"),
        }
    )
    await make_project(
        kube,
        project,
        APPS_NAMESPACE,
        {
            "destinations": ALLOW_ALL_DESTINATIONS,
            # CRDs are allowed, ClusterRoleBindings are not.
            "clusterResourceAllowList": [
                {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"},
                {"group": "", "kind": "Namespace"},
            ],
        },
    )
    app = application(name, repo.url)
    app["spec"]["project"] = project
    await create_app(kube, app)
    found = await wait_for(kube, name, ready_false_with("ProjectViolation"))
    message = message_of(found)
    assert "ClusterRoleBinding" in message and "crb.yaml" in message, message
    assert await kube.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", binding) is None
    assert await kube.get("v1", "ConfigMap", "innocent", name) is None
    crd = "clusterrolebindings.rbac.authorization.k8s.io"
    assert await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd) is None


async def test_a_crd_the_project_forbids_defines_nothing(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    project = unique("nocrd")
    name = f"{project}-app"
    group = f"{project}.example.com"
    crd = f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Cluster
  names: {{kind: Widget, plural: widgets}}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
"""
    widget = f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w\n"
    repo = make_git_repo({"crd.yaml": crd, "widget.yaml": widget})
    spec = {"destinations": ALLOW_ALL_DESTINATIONS, "clusterResourceAllowList": [{"kind": "*"}]}
    await make_project(kube, project, APPS_NAMESPACE, spec)  # core kinds only
    app = application(name, repo.url)
    app["spec"]["project"] = project
    await create_app(kube, app)
    found = await wait_for(kube, name, ready_false_with("ProjectViolation"))
    assert "CustomResourceDefinition" in message_of(found)
    crds = await kube.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert f"widgets.{group}" not in [c["metadata"]["name"] for c in crds]


# -- item 9a/9b: tracking ids and ownership -----------------------------------------


async def test_an_app_cannot_take_or_prune_another_apps_object(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    owner, intruder = unique("owner"), unique("intruder")
    target = unique("shared")
    owner_repo = make_git_repo({"shared.yaml": cm("shared"), "own.yaml": cm("own")})
    intruder_repo = make_git_repo({"shared.yaml": cm("shared")})
    app = application(owner, owner_repo.url, namespace=target, interval="2s")
    app["spec"]["syncPolicy"]["automated"]["prune"] = True
    await create_app(kube, app)
    await wait_for(kube, owner, ready)
    owned = f"{APPS_NAMESPACE}_{owner}:/ConfigMap:{target}/shared"
    assert tracking(await kube.get("v1", "ConfigMap", "shared", target)) == owned

    # Another app renders the same object: refused, naming the owner; nothing changes hands.
    await create_app(kube, application(intruder, intruder_repo.url, namespace=target))
    found = await wait_for(kube, intruder, ready_false_with("ResourceOwnedElsewhere"))
    assert f"managed by application {APPS_NAMESPACE}/{owner}" in message_of(found)
    assert tracking(await kube.get("v1", "ConfigMap", "shared", target)) == owned

    # An explicit takeover (same tenant) moves it ...
    moved = application(intruder, intruder_repo.url, namespace=target)
    moved["spec"]["syncPolicy"]["syncOptions"].append("AllowTakeover=true")
    await create_app(kube, moved)
    await wait_for(kube, intruder, ready)
    taken = f"{APPS_NAMESPACE}_{intruder}:/ConfigMap:{target}/shared"
    assert tracking(await kube.get("v1", "ConfigMap", "shared", target)) == taken

    # ... and the former owner, which prunes, never deletes what is no longer its own.
    sha = owner_repo.commit(delete=["shared.yaml"], message="drop shared")
    await wait_for(
        kube, owner, lambda a: a["status"]["sync"]["revision"] == sha and ready(a), timeout=60
    )
    assert tracking(await kube.get("v1", "ConfigMap", "shared", target)) == taken


async def test_old_tracking_ids_are_an_apps_own_only_while_in_its_inventory(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo, tmp_path: Path
) -> None:
    name = unique("legacy")
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, field_manager="t"
    )
    # Left by an older driftless: ids without the app's namespace.
    old = f"{name}:/ConfigMap:{name}/kept"
    old_body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kept", "namespace": name, "annotations": {TRACKING_ANNOTATION: old}},
        "data": {"v": "1"},
    }
    # One tracked (old format) by an app of another name stays that app's.
    other = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "theirs",
            "namespace": name,
            "annotations": {TRACKING_ANNOTATION: f"someone:/ConfigMap:{name}/theirs"},
        },
    }
    await kube.apply(other, field_manager="driftless")
    repo = make_git_repo({"kept.yaml": cm("kept"), "theirs.yaml": cm("theirs")})
    app = application(name, repo.url, interval="2s")
    app["spec"]["syncPolicy"]["automated"]["prune"] = True
    await create_app(kube, app)
    found = await wait_for(kube, name, ready_false_with("ResourceOwnedElsewhere"))
    assert "managed by application someone" in message_of(found)
    assert "old-format" in message_of(found)

    sha = repo.commit(delete=["theirs.yaml"], message="not ours")
    await wait_for(kube, name, lambda a: at(a, sha) and ready(a))
    new = f"{APPS_NAMESPACE}_{name}:/ConfigMap:{name}/kept"
    assert tracking(await kube.get("v1", "ConfigMap", "kept", name)) == new

    # The object is back to the old id (as an older controller left it).
    await kube.apply(old_body, field_manager="driftless")
    assert tracking(await kube.get("v1", "ConfigMap", "kept", name)) == old

    # Hostile: a tenant names its app like the owner and renders that object.
    tenant = unique("copycat")
    project = unique("copycats")
    spec = {"destinations": ALLOW_ALL_DESTINATIONS, "sourceNamespaces": [tenant]}
    await make_project(kube, project, APPS_NAMESPACE, spec)
    evil = cm("kept").replace("v: '1'", "v: 'evil'")
    tenant_repo = make_git_repo({"kept.yaml": evil})
    async with tenant_controller(kube, tmp_path, tenant):
        copycat = tenant_app(name, tenant, tenant_repo.url, project,
                             create_namespace=False, interval="2s")  # fmt: skip
        copycat["spec"]["syncPolicy"]["automated"]["prune"] = True
        await create_app(kube, copycat)
        refused = await wait_tenant(
            kube, tenant, name, ready_false_with("ResourceOwnedElsewhere"), 60
        )
        assert f"managed by application {name} (an old-format" in message_of(refused)
        live = await kube.get("v1", "ConfigMap", "kept", name)
        assert live is not None and live["data"] == {"v": "1"} and tracking(live) == old

        # Dropping it from the tenant's render prunes nothing of the owner's.
        sha = tenant_repo.commit({"mine.yaml": cm("mine")}, delete=["kept.yaml"], message="x")
        await wait_tenant(kube, tenant, name, lambda a: at(a, sha) and ready(a), 60)
        assert tracking(await kube.get("v1", "ConfigMap", "kept", name)) == old
        await kube.delete(API_VERSION, APPLICATION_KIND, name, tenant)

    # Its own app (the object is in its inventory) adopts it with the new id ...
    sha = repo.commit({"other.yaml": cm("other")}, message="touch")
    await wait_for(kube, name, lambda a: at(a, sha) and ready(a))
    assert tracking(await kube.get("v1", "ConfigMap", "kept", name)) == new

    # ... and prunes an object still carrying the old id as its own.
    await kube.apply(old_body, field_manager="driftless")
    sha = repo.commit(delete=["kept.yaml"], message="drop kept")
    await wait_for(kube, name, lambda a: at(a, sha) and ready(a))
    assert await kube.get("v1", "ConfigMap", "kept", name) is None
    assert await kube.get("v1", "ConfigMap", "theirs", name) is not None


# -- item 9c: Projects are the administrator's ---------------------------------------


async def test_the_controller_namespace_is_off_limits_by_default(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    into_home = unique("home")
    repo = make_git_repo({"cm.yaml": cm(into_home, namespace=APPS_NAMESPACE)})
    # The default project allows every namespace by glob: not the controller's own.
    await create_app(kube, application(into_home, repo.url))
    found = await wait_for(kube, into_home, ready_false_with("ProjectViolation"))
    assert f"namespace {APPS_NAMESPACE} belongs to the driftless controller" in message_of(found)
    assert await kube.get("v1", "ConfigMap", into_home, APPS_NAMESPACE) is None

    # Nor may an app claim the namespace object itself (to label, own or prune it).
    claim = unique("claim")
    namespace_doc = (
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {APPS_NAMESPACE}\n"
        f"  labels: {{owned-by: {claim}}}\n"
    )
    await create_app(kube, application(claim, make_git_repo({"ns.yaml": namespace_doc}).url))
    found = await wait_for(kube, claim, ready_false_with("ProjectViolation"))
    assert "belongs to the driftless controller" in message_of(found)
    home = await kube.get("v1", "Namespace", APPS_NAMESPACE)
    assert home is not None and "owned-by" not in (home["metadata"].get("labels") or {})

    as_destination = unique("dest")
    app = application(as_destination, make_git_repo({"a.yaml": cm("a")}).url)
    app["spec"]["destination"]["namespace"] = APPS_NAMESPACE
    await create_app(kube, app)
    await wait_for(kube, as_destination, ready_false_with("ProjectViolation"))
    assert await kube.get("v1", "ConfigMap", "a", APPS_NAMESPACE) is None

    # A project that names the namespace literally lets an administrator deploy there.
    project = unique("platform")
    await make_project(
        kube,
        project,
        APPS_NAMESPACE,
        {"destinations": [{"server": "*", "namespace": APPS_NAMESPACE}]},
    )
    allowed = unique("platform-app")
    app = application(allowed, repo.url, create_namespace=False)
    app["spec"]["destination"]["namespace"] = APPS_NAMESPACE
    app["spec"]["project"] = project
    app["metadata"]["finalizers"] = ["resources-finalizer.driftless.dev"]
    await create_app(kube, app)
    await wait_for(kube, allowed, ready)
    assert await kube.get("v1", "ConfigMap", into_home, APPS_NAMESPACE) is not None
    await kube.delete(API_VERSION, APPLICATION_KIND, allowed, APPS_NAMESPACE)


@contextlib.asynccontextmanager
async def tenant_controller(
    kube: KubeClient, tmp_path: Path, namespace: str, **settings: Any
) -> AsyncIterator[Controller]:
    """A second controller that watches only ``namespace`` (a tenant's), with the
    session controller's namespace as its home."""
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        field_manager="test",
    )
    store = CredentialStore(kube, APPS_NAMESPACE, max_age=1.0)
    cache = GitCache(tmp_path / "git-cache", credentials=store.auth, allow_local=True)
    config = ControllerSettings(
        namespace=namespace, controller_namespace=APPS_NAMESPACE, default_interval=3600,
        **settings,
    )  # fmt: skip
    instance = Controller(kube, cache, config, tools=render_tools())
    stop = asyncio.Event()
    task = asyncio.create_task(instance.run(stop))
    try:
        yield instance
    finally:
        stop.set()
        await task


def tenant_app(name: str, namespace: str, repo_url: str, project: str, **kw: Any) -> JSON:
    app = application(name, repo_url, **kw)
    app["metadata"]["namespace"] = namespace
    app["spec"]["project"] = project
    return app


async def wait_tenant(
    kube: KubeClient, namespace: str, name: str, predicate: Callable[[JSON], bool], timeout: float
) -> JSON:
    deadline = time.monotonic() + timeout
    app: JSON | None = None
    while time.monotonic() < deadline:
        app = await kube.get(API_VERSION, APPLICATION_KIND, name, namespace)
        if app is not None and predicate(app):
            return app
        await asyncio.sleep(0.3)
    raise AssertionError(f"{namespace}/{name}: timed out; status: {(app or {}).get('status')}")


async def test_projects_come_from_the_controller_namespace_for_permitted_namespaces_only(
    kube: KubeClient, make_git_repo: MakeGitRepo, tmp_path: Path
) -> None:
    tenant = unique("tenant")
    repo = make_git_repo({"a.yaml": cm("a")})
    project = unique("tenants")
    await make_project(
        kube,
        project,
        APPS_NAMESPACE,
        {"destinations": ALLOW_ALL_DESTINATIONS, "sourceNamespaces": [tenant]},
    )
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": tenant}},
        field_manager="test",
    )
    # A tenant's own "project" next to its apps, allowing everything: never read.
    await make_project(kube, "everything", tenant, {"destinations": ALLOW_ALL_DESTINATIONS})
    async with tenant_controller(kube, tmp_path, tenant):
        good, own_project, default, home = (f"{tenant}-{s}" for s in ("ok", "own", "def", "home"))
        await create_app(kube, tenant_app(good, tenant, repo.url, project))
        await create_app(kube, tenant_app(own_project, tenant, repo.url, "everything"))
        await create_app(kube, tenant_app(default, tenant, repo.url, "default"))
        into_home = tenant_app(home, tenant, repo.url, project, create_namespace=False)
        into_home["spec"]["destination"]["namespace"] = APPS_NAMESPACE
        await create_app(kube, into_home)

        await wait_tenant(kube, tenant, good, ready, 60)
        assert await kube.get("v1", "ConfigMap", "a", good) is not None
        violation = ready_false_with("ProjectViolation")
        found = await wait_tenant(kube, tenant, own_project, violation, 60)
        assert f"project everything does not exist in namespace {APPS_NAMESPACE}" in message_of(
            found
        )
        found = await wait_tenant(kube, tenant, default, violation, 60)
        assert f"may not be used by applications in namespace {tenant}" in message_of(found)
        found = await wait_tenant(kube, tenant, home, violation, 60)
        assert f"namespace {APPS_NAMESPACE} belongs to the driftless controller" in message_of(
            found
        )
        assert await kube.get("v1", "ConfigMap", "a", default) is None
        assert await kube.get("v1", "ConfigMap", "a", APPS_NAMESPACE) is None


# -- item 10: bounded reconciles, malformed Projects ---------------------------------


@contextlib.asynccontextmanager
async def stalling_server() -> AsyncIterator[str]:
    """An HTTP "git server" that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(Exception):
            await reader.read(-1)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/stuck.git"
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_a_hanging_reconcile_is_cancelled_and_frees_the_worker(
    kube: KubeClient, make_git_repo: MakeGitRepo, tmp_path: Path
) -> None:
    tenant = unique("slow")
    project = unique("slowproj")
    spec = {"destinations": ALLOW_ALL_DESTINATIONS, "sourceNamespaces": [tenant]}
    await make_project(kube, project, APPS_NAMESPACE, spec)
    repo = make_git_repo({"a.yaml": cm("a")})
    async with (
        stalling_server() as stuck_url,
        tenant_controller(kube, tmp_path, tenant, workers=1, reconcile_timeout=3.0),
    ):
        hung = f"{tenant}-hung"
        await create_app(kube, tenant_app(hung, tenant, stuck_url, project))
        found = await wait_tenant(kube, tenant, hung, ready_false_with("ReconcileTimedOut"), 60)
        assert "did not finish within 3s" in message_of(found)
        reconciling = condition(found, "Reconciling")
        assert reconciling is not None and reconciling["status"] == "True"
        # The only worker is not held: another app of the same controller converges.
        fine = f"{tenant}-fine"
        await create_app(kube, tenant_app(fine, tenant, repo.url, project))
        await wait_tenant(kube, tenant, fine, ready, 90)


async def test_a_malformed_project_is_a_condition_naming_the_field(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    # A Project CRD without a schema for spec (an old or hand-made install) lets
    # any shape through; the controller must not choke on it.
    loose = project_crd()
    version = loose["spec"]["versions"][0]
    version["schema"]["openAPIV3Schema"]["properties"]["spec"] = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    project = unique("broken")
    broken = {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {"name": project, "namespace": APPS_NAMESPACE},
        "spec": {"sourceRepos": ["*"], "destinations": "everywhere"},
    }
    await kube.apply(loose, field_manager="driftless")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                await kube.apply(broken, field_manager="test")
                break
            except KubeApiError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
        name = unique("uses-broken")
        app = application(name, make_git_repo({"a.yaml": cm("a")}).url)
        app["spec"]["project"] = project
        await create_app(kube, app)
        found = await wait_for(kube, name, ready_false_with("ProjectViolation"))
        message = message_of(found)
        assert f"project {project} is malformed: spec.destinations" in message, message
        assert await kube.get("v1", "ConfigMap", "a", name) is None
    finally:
        await kube.delete(API_VERSION, "Project", project, APPS_NAMESPACE)
        await kube.apply(project_crd(), field_manager="driftless")


# -- item 8: apply errors about Secrets are redacted ----------------------------------

HOOK_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: token
  annotations:
    driftless.dev/hook: PreSync
stringData:
  password: {value}
"""


async def test_apply_errors_about_secrets_never_show_the_value(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    name = unique("leak")
    repo = make_git_repo({"hook.yaml": HOOK_SECRET.format(value="fine"), "a.yaml": cm("a")})
    await create_app(kube, application(name, repo.url, interval="2s"))
    await wait_for(kube, name, ready)
    # The hook exists now, so it is not dry-run again: the apply itself is refused.
    leak = "hunter2-do-not-show"
    # (a.yaml changes too: a change to hooks alone leaves the app in sync.)
    broken = {
        "hook.yaml": HOOK_SECRET.format(value=f"{{nested: {leak}}}"),
        "a.yaml": cm("a").replace("'1'", "'2'"),
    }
    sha = repo.commit(broken, "break the hook")
    found = await wait_for(
        kube,
        name,
        lambda a: (
            (a.get("status") or {}).get("operationState", {}).get("revision") == sha
            and a["status"]["operationState"]["phase"] in ("Failed", "Error")
        ),
        timeout=60,
        what="the failed sync",
    )
    text = str(found["status"])
    assert "Secret" in found["status"]["operationState"]["message"], text
    assert leak not in text
    events = await kube.list("v1", "Event", APPS_NAMESPACE)
    mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == name]
    assert mine and all(leak not in str(e.get("message")) for e in mine)
    assert (await get_app(kube, name))["metadata"]["name"] == name


async def test_create_namespace_into_a_namespace_another_app_owns_is_no_takeover(
    kube: KubeClient, controller: Controller, make_git_repo: MakeGitRepo
) -> None:
    platform, team = unique("platform"), unique("team")
    shared = unique("shared-ns")
    namespace_doc = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {shared}\n"
    await create_app(
        kube, application(platform, make_git_repo({"ns.yaml": namespace_doc}).url, namespace=shared)
    )
    await wait_for(kube, platform, ready)
    await create_app(
        kube, application(team, make_git_repo({"a.yaml": cm("a")}).url, namespace=shared)
    )
    await wait_for(kube, team, ready)
    assert await kube.get("v1", "ConfigMap", "a", shared) is not None
    owned = f"{APPS_NAMESPACE}_{platform}:/Namespace:/{shared}"
    assert tracking(await kube.get("v1", "Namespace", shared)) == owned
