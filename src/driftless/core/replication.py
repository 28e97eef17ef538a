"""Several controller replicas in the install's Deployment (``install --replicas N``). Pure.

``replicated(deployment, replicas, shards)`` (and ``replicate_controller`` on the
list of manifests) turns the single-replica
controller Deployment of ``core.deployment`` into one of ``replicas`` pods
that share the apps in ``shards`` shards (``controller.shards``):

* every pod learns its name from the downward API (env ``POD_NAME``): that is
  its replica id, unique among the pods and the name of its member Lease;
* the controller container gets ``--shards <shards>`` (``1``: leader
  election, one active replica and hot standbys);
* RBAC needs nothing more: both scopes of ``core.deployment`` already grant
  the controller every verb in its own namespace, where the Leases live;
* the update strategy stays ``Recreate``: during a rolling update old and
  new pods would run side by side, which the Leases make safe only while
  both use the same number of shards — an upgrade that changes ``--shards``
  would briefly map apps to shards two ways. Availability during failures is
  what the replicas give; an upgrade still stops the controllers briefly.

With ``replicas == 1`` the Deployment is returned unchanged (no Leases at all).
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]

DEFAULT_SHARDS = 32
MAX_SHARDS = 1024
POD_NAME_ENV = {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}


def replicated(deployment: JSON, replicas: int, shards: int = DEFAULT_SHARDS) -> JSON:
    """A copy of the controller ``deployment`` run as ``replicas`` sharing pods."""
    if replicas < 1 or shards < 1:
        raise ValueError("replicas and shards must be at least 1")
    if replicas == 1:
        return deployment
    result = copy.deepcopy(deployment)
    spec = result["spec"]
    spec["replicas"] = replicas
    container = next(c for c in spec["template"]["spec"]["containers"] if c["name"] == "controller")
    container["args"] = [*container["args"], "--shards", str(shards)]
    container["env"] = [*container.get("env", []), POD_NAME_ENV]
    return result


def replicate_controller(manifests: list[JSON], replicas: int, shards: int) -> list[JSON]:
    """``core.deployment.controller_manifests`` with its Deployment ``replicated``."""
    return [
        replicated(obj, replicas, shards) if obj.get("kind") == "Deployment" else obj
        for obj in manifests
    ]
