"""Old-format tracking ids (``<app>:<group>/<kind>:<ns>/<name>``, no app namespace).

Hostile case: a tenant in another namespace creates an Application with the
same name as the app that wrote the old id and renders that object. It must
neither take it (apply with force) nor prune it; the app that really manages
it — the one whose inventory (``status.resources``) lists it — still adopts it.
"""

from __future__ import annotations

from typing import Any

import pytest

from driftless.core.resources import ResourceRef, parse_tracking_id
from driftless.core.wellknown import TRACKING_ANNOTATION
from driftless.sync.ownership import ResourceOwnedElsewhereError, check_take, owns

HOME = "driftless"
LEGACY = "web:apps/Deployment:shop/web"
REF = ResourceRef("apps", "Deployment", "shop", "web")


def _live(tracking: str) -> dict[str, Any]:
    meta = {"name": "web", "namespace": "shop", "annotations": {TRACKING_ANNOTATION: tracking}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta}


def _take(ns: str, inventory: set[ResourceRef], *, allow: bool = False) -> None:
    check_take(_live(LEGACY), "Deployment shop/web", app_namespace=ns, app_name="web",
               allow_takeover=allow, home=HOME, inventory=inventory)  # fmt: skip


def test_the_app_whose_inventory_lists_it_adopts_an_old_format_object() -> None:
    _take("team-a", {REF})
    assert owns(_live(LEGACY), "team-a", "web", inventory={REF})


def test_a_same_named_app_of_another_namespace_cannot_take_it() -> None:
    with pytest.raises(ResourceOwnedElsewhereError) as caught:
        _take("team-b", set())
    message = str(caught.value)
    assert "application web" in message and "old-format tracking id" in message


def test_allow_takeover_does_not_help_a_tenant() -> None:
    with pytest.raises(ResourceOwnedElsewhereError, match="old-format"):
        _take("team-b", set(), allow=True)


def test_an_administrators_app_may_still_take_it_explicitly() -> None:
    _take(HOME, set(), allow=True)


def test_prune_does_not_trust_an_old_format_id_outside_the_inventory() -> None:
    assert not owns(_live(LEGACY), "team-b", "web", inventory=set())
    parsed = parse_tracking_id(LEGACY)
    assert parsed is not None
    assert not parsed.owned_by("team-b", "web", inventory=set())
    assert parsed.owned_by("team-a", "web", inventory={REF})


def test_an_old_format_id_naming_another_object_is_not_owned() -> None:
    # The annotation copied onto another object: its ref is not the live one.
    other = ResourceRef("apps", "Deployment", "shop", "other")
    live = _live(LEGACY)
    live["metadata"]["name"] = "other"
    assert not owns(live, "team-a", "web", inventory={REF, other})
