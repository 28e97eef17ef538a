"""``driftless install``'s aggregated roles on a real API server and controller manager:
whoever an administrator grants Kubernetes' ``edit`` (or ``view``) in a namespace can
manage (or read) notification objects there, and nothing more of driftless's."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from driftless.kube.client import KubeClient

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

RBAC = "rbac.authorization.k8s.io/v1"


async def _allowed(
    kube: KubeClient, user: str, namespace: str, verb: str, resource: str, sub: str = ""
) -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "resourceAttributes": {
                "namespace": namespace,
                "verb": verb,
                "group": "driftless.dev",
                "resource": resource,
                "subresource": sub,
            },
        },
    }
    answer: dict[str, Any] = await kube.create(review)
    return bool(answer.get("status", {}).get("allowed"))


async def _eventually(kube: KubeClient, user: str, namespace: str, resource: str) -> None:
    # The aggregation controller and the authorizer's cache take a moment.
    for _ in range(120):
        if await _allowed(kube, user, namespace, "get", resource):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{user} never got {resource} in {namespace}")


async def test_edit_and_view_of_a_namespace_reach_the_notification_kinds(kube: KubeClient) -> None:
    namespace = f"tenant-{uuid.uuid4().hex[:6]}"
    editor, viewer = f"ed-{namespace}", f"vi-{namespace}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    try:
        for user, role in ((editor, "edit"), (viewer, "view")):
            await kube.create(
                {
                    "apiVersion": RBAC,
                    "kind": "RoleBinding",
                    "metadata": {"name": user, "namespace": namespace},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                "name": role},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                  "name": user}],
                }
            )  # fmt: skip
        for resource in ("notificationrules", "notificationservices"):
            await _eventually(kube, editor, namespace, resource)
            await _eventually(kube, viewer, namespace, resource)
            for verb in ("create", "update", "patch", "delete"):
                assert await _allowed(kube, editor, namespace, verb, resource), (verb, resource)
                assert not await _allowed(kube, viewer, namespace, verb, resource)
            # Status is the controller's; another namespace is not the tenant's.
            assert not await _allowed(kube, editor, namespace, "patch", resource, "status")
            assert not await _allowed(kube, editor, "default", "create", resource)
        # Applications and Projects: not a side effect of edit.
        for resource in ("applications", "projects"):
            assert not await _allowed(kube, editor, namespace, "create", resource)
            assert not await _allowed(kube, viewer, namespace, "get", resource)
    finally:
        await kube.delete("v1", "Namespace", namespace)
