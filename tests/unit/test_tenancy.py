"""Tenancy rules that need no cluster: tracking ids (both formats), who may take
a live object, which namespaces may use a Project, protected destinations."""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.project import (
    Project,
    ProjectViolationError,
    check_app_namespace,
    check_destination,
)
from driftless.core.resources import ResourceRef, parse_tracking_id
from driftless.core.wellknown import TRACKING_ANNOTATION
from driftless.sync.ownership import ResourceOwnedElsewhereError, check_render, check_take, owns

HOME = "driftless"
REF = ResourceRef("apps", "Deployment", "shop", "web")


def _live(tracking: str | None, kind: str = "ConfigMap", **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "x", "namespace": "shop", "labels": labels}
    if tracking is not None:
        meta["annotations"] = {TRACKING_ANNOTATION: tracking}
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def test_tracking_id_names_the_app_namespace_and_round_trips() -> None:
    value = REF.tracking_id("team-a", "shop")
    assert value == "team-a_shop:apps/Deployment:shop/web"
    parsed = parse_tracking_id(value)
    assert parsed is not None
    assert (parsed.app_namespace, parsed.app_name, parsed.ref) == ("team-a", "shop", REF)
    assert parsed.owned_by("team-a", "shop", inventory=set())
    assert not parsed.owned_by("team-b", "shop", inventory={REF})  # same app name, other tenant
    assert not parsed.owned_by("team-a", "other", inventory={REF})


def test_cluster_scoped_and_core_group_ids_parse() -> None:
    ref = ResourceRef("", "Namespace", "", "shop")
    parsed = parse_tracking_id(ref.tracking_id("team-a", "shop"))
    assert parsed is not None and parsed.ref == ref


def test_old_format_ids_belong_to_the_app_of_that_name_whose_inventory_lists_them() -> None:
    parsed = parse_tracking_id("shop:apps/Deployment:shop/web")
    assert parsed is not None and parsed.legacy
    assert parsed.ref == REF
    assert parsed.owned_by("team-a", "shop", inventory={REF})
    assert not parsed.owned_by("team-b", "shop", inventory=set())
    assert not parsed.owned_by("team-a", "web", inventory={REF})
    # Routing a live change wakes every app of that name; ownership is decided later.
    assert parsed.names("team-a", "shop") and parsed.names("team-b", "shop")


@pytest.mark.parametrize(
    "value",
    ["", "garbage", "_shop:apps/Deployment:shop/web", "ns_:/ConfigMap:a/b", "a:/:ns/n", "a:/K:ns/"],
)
def test_malformed_ids_are_none(value: str) -> None:
    assert parse_tracking_id(value) is None


MINE = ResourceRef("", "ConfigMap", "shop", "x")


def _take(live: dict[str, Any] | None, *, ns: str = "team-a", allow: bool = False) -> None:
    check_take(live, "ConfigMap shop/x", app_namespace=ns, app_name="shop",
               allow_takeover=allow, home=HOME, inventory={MINE})  # fmt: skip


def test_untracked_and_own_objects_may_be_written() -> None:
    _take(None)
    _take(_live(None))
    _take(_live("team-a_shop:/ConfigMap:shop/x"))
    _take(_live("shop:/ConfigMap:shop/x"))  # old format: adopted and re-annotated
    _take(_live("not a tracking id"))


def test_another_apps_object_is_refused_naming_the_owner() -> None:
    with pytest.raises(ResourceOwnedElsewhereError, match="managed by application team-a/billing"):
        _take(_live("team-a_billing:/ConfigMap:shop/x"))


def test_same_name_app_of_another_namespace_is_another_app() -> None:
    with pytest.raises(ResourceOwnedElsewhereError, match="team-b/shop"):
        _take(_live("team-b_shop:/ConfigMap:shop/x"))


def test_takeover_needs_the_option_and_the_same_tenant() -> None:
    _take(_live("team-a_billing:/ConfigMap:shop/x"), allow=True)
    with pytest.raises(ResourceOwnedElsewhereError, match="another namespace cannot take it"):
        _take(_live("team-b_billing:/ConfigMap:shop/x"), allow=True)
    # An administrator's app (in the controller's namespace) may take any object.
    _take(_live("team-b_billing:/ConfigMap:shop/x"), ns=HOME, allow=True)


def test_credential_secrets_are_never_adopted() -> None:
    secret = _live(None, kind="Secret", **{"driftless.dev/secret-type": "cluster"})
    with pytest.raises(ResourceOwnedElsewhereError, match="holds driftless credentials"):
        _take(secret, allow=True)
    body = _live(None, kind="Secret", **{"driftless.dev/secret-type": "repository"})
    ref = ResourceRef("", "Secret", "team-b", "x")
    with pytest.raises(ResourceOwnedElsewhereError, match="own namespace"):
        check_render(body, ref, "Secret team-b/x", app_namespace="team-a")
    check_render(body, ResourceRef("", "Secret", "team-a", "x"), "s", app_namespace="team-a")


def test_owns_is_what_prune_trusts() -> None:
    mine = {MINE}
    assert owns(_live("team-a_shop:/ConfigMap:shop/x"), "team-a", "shop", inventory=mine)
    assert owns(_live("shop:/ConfigMap:shop/x"), "team-a", "shop", inventory=mine)
    assert not owns(_live("shop:/ConfigMap:shop/x"), "team-a", "shop", inventory=set())
    assert not owns(_live("team-b_shop:/ConfigMap:shop/x"), "team-a", "shop", inventory=mine)
    assert not owns(_live(None), "team-a", "shop", inventory=mine)


def _project(**spec: Any) -> Project:
    return Project.model_validate({"metadata": {"name": "p"}, "spec": spec})


def test_projects_are_usable_from_the_home_namespace_and_source_namespaces_only() -> None:
    project = _project(sourceNamespaces=["team-*"])
    check_app_namespace(project, HOME, HOME)
    check_app_namespace(project, "team-a", HOME)
    with pytest.raises(ProjectViolationError, match="namespace evil"):
        check_app_namespace(project, "evil", HOME)
    with pytest.raises(ProjectViolationError):
        check_app_namespace(_project(), "team-a", HOME)


def test_protected_namespace_needs_a_literal_destination() -> None:
    protected = frozenset({HOME})
    server = "https://kubernetes.default.svc"
    everything = _project(destinations=[{"server": "*", "namespace": "*"}])
    check_destination(everything, server, "shop", protected=protected)
    with pytest.raises(ProjectViolationError, match="belongs to the driftless controller"):
        check_destination(everything, server, HOME, protected=protected)
    globbed = _project(destinations=[{"server": "*", "namespace": "drift*"}])
    with pytest.raises(ProjectViolationError):
        check_destination(globbed, server, HOME, protected=protected)
    literal = _project(destinations=[{"server": "*", "namespace": HOME}])
    check_destination(literal, server, HOME, protected=protected)


def test_project_users_from_other_namespaces_are_shown_with_their_namespace() -> None:
    from driftless.cli.project import apps_of

    apps = [
        {"metadata": {"name": "a", "namespace": HOME}, "spec": {"project": "team"}},
        {"metadata": {"name": "b", "namespace": "team-a"}, "spec": {"project": "team"}},
        {"metadata": {"name": "c", "namespace": "team-a"}, "spec": {"project": "other"}},
    ]
    assert apps_of("team", apps, HOME) == ["a", "team-a/b"]
