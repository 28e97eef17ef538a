"""Which live objects an app may take, write and delete. Pure.

Server-side apply with ``force`` takes any field from any manager, so the
check has to happen before the write. The tracking id on the live object
(see ``core.resources``) says which Application manages it:

* no tracking id (or a malformed one): the object is unmanaged and the app
  may adopt it (how an existing workload is brought under GitOps);
* this app's id — or an id in the old format naming an app of the same name
  whose object is in this app's inventory (``status.resources``) — : the
  app's own object (old ids are rewritten by the next apply);
* an old-format id that is not in this app's inventory: it names no
  namespace, so it is treated as another app's (the legacy owner is named,
  and only an administrator's app may take it with ``AllowTakeover``) —
  otherwise a tenant could take and prune another tenant's object just by
  giving its Application the same name;
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
is this app's (an old-format id: and the object is in the app's inventory).

The check runs on the plan (the live state read just before the sync that
applies it), so a whole sync is refused rather than half applied; an object
another app grabs in the instant between plan and apply is not detected.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from driftless.core.errors import StallingError
from driftless.core.reasons import Reason
from driftless.core.resources import ResourceRef, TrackingId, tracking_of
from driftless.core.vocabulary import AppSyncOption
from driftless.core.wellknown import SECRET_TYPE_LABEL

JSON = dict[str, Any]


class ResourceOwnedElsewhereError(StallingError):
    """A live object belongs to another Application."""

    reason = Reason.RESOURCE_OWNED_ELSEWHERE


def owns(
    live: JSON, app_namespace: str, app_name: str, *, inventory: Container[ResourceRef]
) -> bool:
    """Does the live object carry this app's tracking id (either format)?

    ``inventory`` is the app's ``status.resources`` as refs.
    """
    tracked = tracking_of(live)
    return tracked is not None and _owned(tracked, live, app_namespace, app_name, inventory)


def _owned(
    tracked: TrackingId,
    live: JSON,
    app_namespace: str,
    app_name: str,
    inventory: Container[ResourceRef],
) -> bool:
    if not tracked.owned_by(app_namespace, app_name, inventory=inventory):
        return False
    # An old-format id is trusted only on the object it names (not a copy).
    return not tracked.legacy or _ref_of(live) == tracked.ref


def _ref_of(live: JSON) -> ResourceRef | None:
    try:
        return ResourceRef.from_object(live)
    except (KeyError, TypeError, AttributeError):
        return None


def check_take(
    live: JSON | None,
    describe: str,
    *,
    app_namespace: str,
    app_name: str,
    allow_takeover: bool,
    home: str,
    inventory: Container[ResourceRef],
) -> None:
    """Raise unless this app may write ``live`` (``None``: the object does not exist).

    ``inventory`` is the app's ``status.resources`` as refs.
    """
    if live is None:
        return
    tracked = tracking_of(live)
    if tracked is not None and _owned(tracked, live, app_namespace, app_name, inventory):
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
    raise ResourceOwnedElsewhereError(
        f"{describe} is managed by {_owner(tracked)}; refusing to take it over "
        f"({_hint(tracked, same_tenant)})"
    )


def _owner(tracked: TrackingId) -> str:
    if tracked.legacy:
        # The id does not say which namespace's app wrote it.
        return (
            f"application {tracked.owner} (an old-format tracking id, without the app's "
            "namespace, of an object not in this app's inventory)"
        )
    return f"application {tracked.owner}"


def _hint(tracked: TrackingId, same_tenant: bool) -> str:
    if same_tenant:
        return f"set syncOption {AppSyncOption.ALLOW_TAKEOVER}=true to move it to this app"
    if tracked.legacy:
        return "only an app in the controller's namespace may take it over"
    return "an app of another namespace cannot take it over"


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
