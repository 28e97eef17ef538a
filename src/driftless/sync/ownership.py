"""Which live objects an app may take, write and delete. Pure.

Server-side apply with ``force`` takes any field from any manager, so the
check has to happen before the write. The tracking id on the live object
(see ``core.resources``) says which Application manages it:

* no tracking id (or a malformed one): the object is unmanaged and the app
  may adopt it (how an existing workload is brought under GitOps);
* this app's id — or an id in the old format naming an app of the same name
  — : the app's own object (old ids are rewritten by the next apply);
* another app's id: refused with ``ResourceOwnedElsewhereError`` (reason
  ``ResourceOwnedElsewhere``) naming the owning app, so nothing is applied.
  The one exception is an explicit takeover: the Application sets the sync
  option ``AllowTakeover=true`` (``spec.syncPolicy.syncOptions``) *and* the
  owning app is in the same namespace as the taking app (one tenant moving
  objects between its own apps) — or the taking app lives in the
  controller's namespace (an administrator's app). A tenant can never take
  an object of another namespace's app, whatever it writes.
* Secrets that hold driftless credentials (label ``driftless.dev/secret-type``)
  are never adopted: a live one is written only by the app that already
  tracks it, and an app may render one only into its own namespace, so no
  app can rewrite where another tenant's apps deploy or which token they use.

Pruning uses ``owns``: an object is deleted only while its live tracking id
is this app's.

The check runs on the plan (the live state read just before the sync that
applies it), so a whole sync is refused rather than half applied; an object
another app grabs in the instant between plan and apply is not detected.
"""

from __future__ import annotations

from typing import Any

from driftless.core import reasons
from driftless.core.errors import StallingError
from driftless.core.resources import ResourceRef, tracking_of
from driftless.kube.clusters import SECRET_TYPE_LABEL

JSON = dict[str, Any]
ALLOW_TAKEOVER = "AllowTakeover"


class ResourceOwnedElsewhereError(StallingError):
    """A live object belongs to another Application."""

    reason = reasons.RESOURCE_OWNED_ELSEWHERE


def owns(live: JSON, app_namespace: str, app_name: str) -> bool:
    """Does the live object carry this app's tracking id (either format)?"""
    tracked = tracking_of(live)
    return tracked is not None and tracked.owned_by(app_namespace, app_name)


def check_take(
    live: JSON | None,
    describe: str,
    *,
    app_namespace: str,
    app_name: str,
    allow_takeover: bool,
    home: str,
) -> None:
    """Raise unless this app may write ``live`` (``None``: the object does not exist)."""
    if live is None:
        return
    tracked = tracking_of(live)
    if tracked is not None and tracked.owned_by(app_namespace, app_name):
        return
    if _is_credential(live):
        raise ResourceOwnedElsewhereError(
            f"{describe}: the live Secret holds driftless credentials "
            f"({SECRET_TYPE_LABEL}); applications may not take it over"
        )
    if tracked is None:
        return
    same_tenant = tracked.app_namespace == app_namespace or app_namespace == home
    if allow_takeover and same_tenant:
        return
    hint = (
        f"set syncOption {ALLOW_TAKEOVER}=true to move it to this app"
        if same_tenant
        else "an app of another namespace cannot take it over"
    )
    raise ResourceOwnedElsewhereError(
        f"{describe} is managed by application {tracked.owner}; refusing to take it over ({hint})"
    )


def check_render(body: JSON, ref: ResourceRef, describe: str, *, app_namespace: str) -> None:
    """A credential Secret may be rendered only into the app's own namespace."""
    if _is_credential(body) and ref.namespace != app_namespace:
        raise ResourceOwnedElsewhereError(
            f"{describe}: a Secret labelled {SECRET_TYPE_LABEL} may only be deployed "
            f"into the application's own namespace ({app_namespace})"
        )


def _is_credential(obj: JSON) -> bool:
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
        return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return SECRET_TYPE_LABEL in labels
