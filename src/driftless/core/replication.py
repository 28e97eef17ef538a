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
* the update strategy is ``RollingUpdate`` (``core.deployment.strategy``):
  old and new pods side by side are safe under the Leases, also when an
  upgrade changes ``--shards`` (replicas disagreeing on it all stand by until
  the old ones are gone: an upgrade that changes ``--shards`` pauses
  reconciling while old and new pods are mixed, one that keeps it does not).

With ``replicas == 1`` the Deployment is returned unchanged (no Leases at all).
"""

from __future__ import annotations

import copy
from typing import Any

from driftless.core import deployment as controller_deployment

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
    spec["strategy"] = controller_deployment.strategy(leases=True)
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
