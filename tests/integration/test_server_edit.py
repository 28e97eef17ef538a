"""Creating and editing applications over HTTP, on the real cluster with the real controller.

``driftless server`` runs in the test's event loop (``server_inprocess``);
the repository is served over smart HTTP (``git http-backend``), as a forge
would, since the server refuses local repositories. What a user sees:

* an app created with ``POST /api/v1/applications`` is synced by the
  controller (its ConfigMap appears); a dry run stores nothing; a second
  create is 409;
* an edit of its path (``PATCH``) and then of its path and revision (``PUT``)
  is followed by the controller; an edit made on a stale resourceVersion is
  409, unless the client also sent the generation it read and only the
  controller's status writes happened since;
* hostile input is 422 naming the field (a password in repoURL never echoed,
  ``file://``, paths, ``ext::``, option-like URLs and revisions, names that
  are not DNS-1123, unknown fields, a namespace that does not exist or whose
  apps the Project does not serve, a project that does not exist or forbids
  the source or destination, the controller's own namespace), 413 for a body
  of 1 MB, 404 for an edit of an unknown app; every write leaves an audit line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from driftless.controller.manager import Controller
from driftless.core.models import API_VERSION, APPLICATION_KIND
from driftless.core.project import PROJECT_KIND
from driftless.kube.client import KubeClient
from tests.fixtures.git import MakeGitRepo
from tests.fixtures.git_http import GitHttpServer
from tests.integration.helpers import APPS_NAMESPACE, unique
from tests.integration.server_inprocess import serving

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
JSON = dict[str, Any]
API = "/api/v1/applications"
SECRET = "s3cr3t-never-shown"
DEADLINE = 120.0


def configmap(name: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '{value}'\n"
    )


@dataclass
class Api:
    base: str
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, JSON]:
        async with self.http.request(method, self.base + path, json=body) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else {}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(kube: KubeClient, controller: Controller) -> AsyncIterator[Api]:
    async with serving(kube) as served:
        http = await served.login()
        try:
            yield Api(served.url, http)
        finally:
            await http.close()


@pytest.fixture
def repo_url(make_git_repo: MakeGitRepo, git_http_server: GitHttpServer) -> tuple[str, str]:
    """A repository over HTTP: ``one/`` at tag v1 (value 1), then ``one/`` 2 and ``two/``."""
    repo = make_git_repo({"one/cm.yaml": configmap("one", "1")})
    first = repo.head()
    repo.tag("v1", rev=first)
    repo.commit({"one/cm.yaml": configmap("one", "2"), "two/cm.yaml": configmap("two", "2")})
    return git_http_server.publish(repo.path, unique("edit-repo")), first


def new_app(name: str, url: str, **spec: Any) -> JSON:
    return {
        "metadata": {"name": name},
        "spec": {
            "source": {"repoURL": url, "path": "one", "targetRevision": "main"},
            "destination": {"namespace": name},
            "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
            **spec,
        },
    }


async def configmap_value(kube: KubeClient, name: str, namespace: str, value: str) -> None:
    deadline = time.monotonic() + DEADLINE
    seen = None
    while time.monotonic() < deadline:
        seen = await kube.get("v1", "ConfigMap", name, namespace)
        if seen is not None and seen["data"]["value"] == value:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"ConfigMap {namespace}/{name} never had value {value}: {seen}")


async def test_an_app_made_and_edited_over_http_is_followed_by_the_controller(
    api: Api, kube: KubeClient, repo_url: tuple[str, str]
) -> None:
    url, _ = repo_url
    name = unique("made")
    body = new_app(name, url)

    status, dry = await api.call("POST", f"{API}?dryRun=true", body)
    assert status == 200, dry
    assert dry["metadata"]["name"] == name and dry["spec"]["source"]["path"] == "one"
    assert await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE) is None

    status, made = await api.call("POST", API, body)
    assert status == 201, made
    assert made["metadata"]["namespace"] == APPS_NAMESPACE
    assert made["spec"]["source"] == {"repoURL": url, "path": "one", "targetRevision": "main"}
    status, again = await api.call("POST", API, body)
    assert status == 409 and "already exists" in again["error"]["message"], again
    await configmap_value(kube, "one", name, "2")

    # The controller has written status since: the resourceVersion read at creation is stale.
    current = await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
    assert current is not None
    read = made["metadata"]
    assert current["metadata"]["resourceVersion"] != read["resourceVersion"]
    edit = {"metadata": {"resourceVersion": read["resourceVersion"]}, "spec": {}}
    edit["spec"] = {"source": {"path": "two"}}
    path = f"{API}/{APPS_NAMESPACE}/{name}"
    status, stale = await api.call("PATCH", path, edit)
    assert status == 409 and "changed since it was read" in stale["error"]["message"], stale
    # With the generation read too, status writes are no conflict: the spec did not change.
    edit["metadata"]["generation"] = read["generation"]
    status, patched = await api.call("PATCH", path, edit)
    assert status == 200, patched
    assert patched["spec"]["source"]["path"] == "two"
    assert patched["metadata"]["generation"] == read["generation"] + 1
    await configmap_value(kube, "two", name, "2")

    # Now the spec changed: the generation read at creation is stale as well.
    status, stale = await api.call("PATCH", path, edit)
    assert status == 409, stale

    # PUT: the whole spec, at another path and revision.
    spec = patched["spec"]
    spec["source"] = {"repoURL": url, "path": "one", "targetRevision": "v1"}
    meta = {k: patched["metadata"][k] for k in ("resourceVersion", "generation")}
    status, dry = await api.call("PUT", f"{path}?dryRun=true", {"metadata": meta, "spec": spec})
    assert status == 200, dry
    stored = await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE)
    assert stored is not None and stored["spec"]["source"]["path"] == "two", "a dry run stores"
    status, put = await api.call("PUT", path, {"metadata": meta, "spec": spec})
    assert status == 200, put
    assert put["spec"]["source"]["targetRevision"] == "v1"
    await configmap_value(kube, "one", name, "1")


async def test_hostile_input_is_refused_naming_the_field(
    api: Api, kube: KubeClient, repo_url: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="driftless.server.audit")
    url, _ = repo_url
    name = unique("hostile")
    good = new_app(name, url)
    narrow, wide = unique("narrow"), unique("wide")
    for project, spec in [
        (
            narrow,
            {
                "sourceRepos": ["https://git.example/team/*"],
                "destinations": [{"server": "*", "namespace": "team-*"}],
            },
        ),
        (
            wide,
            {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "namespace": "*"}],
                "sourceNamespaces": ["*"],
            },
        ),
    ]:
        await kube.apply(
            {
                "apiVersion": API_VERSION,
                "kind": PROJECT_KIND,
                "metadata": {"name": project, "namespace": APPS_NAMESPACE},
                "spec": spec,
            },
            field_manager="test",
        )

    def spec_with(**source: Any) -> JSON:
        return {**good, "spec": {**good["spec"], "source": {**good["spec"]["source"], **source}}}

    def meta_with(**meta: Any) -> JSON:
        return {**good, "metadata": {**good["metadata"], **meta}}

    password_url = url.replace("http://", f"http://user:{SECRET}@")
    cases: list[tuple[JSON, str, str]] = [
        (spec_with(repoURL=password_url), "body.spec.source.repoURL", "password"),
        (spec_with(repoURL="file:///etc"), "body.spec.source.repoURL", "local repositories"),
        (spec_with(repoURL="/srv/git/app"), "body.spec.source.repoURL", "local repositories"),
        (spec_with(repoURL="ext::sh -c touch% /tmp/pwned"), "body.spec.source.repoURL", ""),
        (spec_with(repoURL="--upload-pack=touch /tmp/x"), "body.spec.source.repoURL", ""),
        (spec_with(targetRevision="--upload-pack=x"), "body.spec.source.targetRevision", "'-'"),
        (spec_with(path="../../etc"), "body.spec.source.path", ".."),
        (spec_with(targetRevison="v1"), "body.spec.source.targetRevison", "unknown field"),
        ({**good, "status": {}}, "body.status", "Extra inputs"),
        (meta_with(name="Not_DNS"), "body.metadata.name", "not a valid name"),
        (meta_with(uid="x"), "body.metadata.uid", "Extra inputs"),
        (
            {
                "metadata": {"name": name, "namespace": "no-such-ns"},
                "spec": {**good["spec"], "project": wide},
            },
            "body.metadata.namespace",
            "namespace no-such-ns does not exist",
        ),
        (meta_with(namespace="default"), "body.metadata.namespace", "sourceNamespaces"),
        ({**good, "spec": {**good["spec"], "project": "nope"}}, "body.spec.project", "not exist"),
        (
            {**good, "spec": {**good["spec"], "project": narrow}},
            "body.spec.destination",
            f"not permitted in project {narrow}",
        ),
        (
            {
                **good,
                "spec": {**good["spec"], "project": narrow, "destination": {"namespace": "team-a"}},
            },
            "body.spec.source.repoURL",
            f"not permitted in project {narrow}",
        ),
        (
            {**good, "spec": {**good["spec"], "destination": {"namespace": APPS_NAMESPACE}}},
            "body.spec.destination",
            "belongs to the driftless controller",
        ),
        ({**good, "spec": "not an object"}, "body.spec", ""),
        ({**good, "spec": {**good["spec"], "interval": "soon"}}, "body.spec.interval", ""),
    ]
    try:
        for body, field, said in cases:
            status, answer = await api.call("POST", API, body)
            message = answer.get("error", {}).get("message", "")
            assert status == 422, (field, answer)
            assert answer["error"]["code"] == "Invalid"
            assert message.startswith(f"{field}: ") or f"; {field}: " in message, (field, message)
            assert said in message, (field, message)
            assert SECRET not in json.dumps(answer)
        assert await kube.get(API_VERSION, APPLICATION_KIND, name, APPS_NAMESPACE) is None
    finally:
        for project in (narrow, wide):
            await kube.delete(API_VERSION, PROJECT_KIND, project, APPS_NAMESPACE)

    # One audit line per write, refused ones with their code; no credential in the log.
    audits = [json.loads(r.getMessage()) for r in caplog.records if '"audit"' in r.getMessage()]
    app = f"{APPS_NAMESPACE}/{name}"
    refused = {"action": "create", "app": app, "result": "refused", "code": "Invalid"}
    assert {"audit": "write", "user": "admin", "method": "local", **refused} in audits
    assert SECRET not in caplog.text

    # A body of 1 MB never reaches the route.
    status, answer = await api.call(
        "POST", API, {**good, "spec": {**good["spec"], "padding": "x" * 1_000_000}}
    )
    assert status == 413, answer

    # Edits: an unknown app is 404; PUT needs the resourceVersion; path names are checked.
    edit = {"metadata": {"resourceVersion": "1"}, "spec": good["spec"]}
    status, answer = await api.call("PUT", f"{API}/{APPS_NAMESPACE}/{name}", edit)
    assert status == 404 and name in answer["error"]["message"], answer
    status, answer = await api.call(
        "PUT", f"{API}/{APPS_NAMESPACE}/{name}", {"metadata": {}, "spec": good["spec"]}
    )
    assert status == 422 and "body.metadata.resourceVersion" in answer["error"]["message"]
    status, answer = await api.call("PATCH", f"{API}/{APPS_NAMESPACE}/Bad_Name", edit)
    assert status == 422 and "path.name" in answer["error"]["message"], answer


async def test_an_edit_keeps_a_repository_an_administrator_set_and_refuses_a_new_local_one(
    api: Api, kube: KubeClient, repo_url: tuple[str, str]
) -> None:
    url, _ = repo_url
    name = unique("kept")
    local = "file:///srv/git/app"
    await kube.apply(
        {
            "apiVersion": API_VERSION,
            "kind": APPLICATION_KIND,
            "metadata": {"name": name, "namespace": APPS_NAMESPACE},
            "spec": {
                "source": {"repoURL": local, "path": "one"},
                "destination": {"namespace": name},
            },
        },
        field_manager="test",
    )
    path = f"{API}/{APPS_NAMESPACE}/{name}"
    status, kept = await api.call("PATCH", path, {"metadata": {}, "spec": {"interval": "1m"}})
    assert status == 200, kept
    assert kept["spec"]["interval"] == "1m" and kept["spec"]["source"]["repoURL"] == local
    patch: JSON = {"metadata": {}, "spec": {"source": {"repoURL": "file:///srv/git/other"}}}
    status, refused = await api.call("PATCH", path, patch)
    assert status == 422 and "local repositories" in refused["error"]["message"], refused
    patch = {"metadata": {}, "spec": {"source": {"repoURL": url}, "nope": 1}}
    status, refused = await api.call("PATCH", path, patch)
    assert status == 422 and "body.spec.nope: unknown field" in refused["error"]["message"]


async def test_a_status_write_between_the_servers_read_and_write_is_not_the_users_conflict(
    api: Api, kube: KubeClient, repo_url: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The controller writes status at any moment: a PATCH without a resourceVersion (and one
    whose generation is current) must not fail because of it; a changed spec still does."""
    url, _ = repo_url
    name = unique("race")
    status, _created = await api.call("POST", API, new_app(name, url))
    assert status == 201, _created
    real_get = kube.get
    raced: list[str] = []

    async def get_then_status_write(*args: Any, **kwargs: Any) -> Any:
        found = await real_get(*args, **kwargs)
        if found is not None and args[:3] == (API_VERSION, APPLICATION_KIND, name) and not raced:
            raced.append(name)  # once: a status write lands right after the server's read
            await kube.merge_patch(
                API_VERSION,
                APPLICATION_KIND,
                name,
                {"status": {"lastSyncedAt": "2001-02-03T04:05:06Z"}},
                namespace=APPS_NAMESPACE,
                subresource="status",
            )
        return found

    monkeypatch.setattr(kube, "get", get_then_status_write)
    path = f"{API}/{APPS_NAMESPACE}/{name}"
    status, edited = await api.call("PATCH", path, {"metadata": {}, "spec": {"interval": "2m"}})
    assert raced == [name]
    assert status == 200, edited
    assert edited["spec"]["interval"] == "2m"
    # A version the user read before someone else changed the spec is still refused.
    stale = edited["metadata"]["resourceVersion"]
    monkeypatch.setattr(kube, "get", real_get)
    status, _ = await api.call("PATCH", path, {"metadata": {}, "spec": {"interval": "3m"}})
    assert status == 200
    status, refused = await api.call(
        "PATCH", path, {"metadata": {"resourceVersion": stale}, "spec": {"interval": "4m"}}
    )
    assert status == 409 and "changed since it was read" in refused["error"]["message"]
