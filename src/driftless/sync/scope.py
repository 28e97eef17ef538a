"""Who may say whether a kind is namespaced. Pure.

Scope decides which Project rule applies to an object (cluster-scoped kinds
must be in ``clusterResourceAllowList``; namespaced ones only avoid the deny
list), so it is a permission decision and never comes from the tenant:

* For every kind the API server serves, **discovery alone** decides.
* A ``CustomResourceDefinition`` from the render may speak only for a kind
  discovery does not know yet (it is created by this very sync), and only
  when that CRD is itself applied by this sync and allowed by the project:
  it is not a hook (``Skip`` included: never applied, so it cannot define
  anything), the project allows managing CRDs, and its group is not a
  built-in API group (the core group, ``apps``, ``batch``, ``policy``,
  ``autoscaling``, ``extensions``, any ``k8s.io`` / ``kubernetes.io`` group,
  ``driftless.dev``) — the API server would refuse such a CRD anyway, and a
  render claiming one is a lie worth refusing outright.

``crd_claims`` lists what the render's CRDs may claim under these rules;
``decide`` combines it with discovery's answer; ``distrust`` explains, for
the message, why a CRD of the render was not believed.
"""

from __future__ import annotations

from driftless.core.crd import kinds_defined
from driftless.core.errors import DriftlessError, ValidationError
from driftless.core.models import GROUP
from driftless.core.project import Project, ProjectViolationError, allows_kind
from driftless.core.resources import Manifest
from driftless.core.wellknown import HOOK_ANNOTATION

CRD_GROUP = "apiextensions.k8s.io"
CRD_KIND = "CustomResourceDefinition"
BUILTIN_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling", "extensions", GROUP})
_BUILTIN_SUFFIXES = ("k8s.io", "kubernetes.io")

Key = tuple[str, str]  # (apiVersion, kind)


def is_builtin_group(group: str) -> bool:
    """Groups only the API server itself (or driftless) defines."""
    if group in BUILTIN_GROUPS:
        return True
    return any(group == s or group.endswith(f".{s}") for s in _BUILTIN_SUFFIXES)


def _applied_crd(manifest: Manifest) -> bool:
    """A CRD of the render that this sync applies as a resource (not a hook, not Skip)."""
    if manifest.kind != CRD_KIND or manifest.api_version.rpartition("/")[0] != CRD_GROUP:
        return False
    annotations = (manifest.obj.get("metadata") or {}).get("annotations") or {}
    return HOOK_ANNOTATION not in annotations


def crd_claims(manifests: list[Manifest], project: Project) -> dict[Key, bool]:
    """Scopes the render's CRDs may claim for kinds discovery does not know."""
    if not allows_kind(project, CRD_GROUP, CRD_KIND, namespaced=False):
        return {}
    claims: dict[Key, bool] = {}
    for manifest in manifests:
        if not _applied_crd(manifest):
            continue
        for api_version, kind, namespaced in kinds_defined(manifest.obj):
            if not is_builtin_group(api_version.rpartition("/")[0]):
                claims[(api_version, kind)] = namespaced
    return claims


def distrust(manifests: list[Manifest], project: Project, key: Key) -> DriftlessError | None:
    """Why a CRD of the render that defines ``key`` was not believed (``None``: no such CRD).

    Only for messages: the kind stays unknown either way.
    """
    group = key[0].rpartition("/")[0]
    for manifest in manifests:
        if manifest.kind != CRD_KIND or manifest.api_version.rpartition("/")[0] != CRD_GROUP:
            continue
        if not any((v, k) == key for v, k, _ in kinds_defined(manifest.obj)):
            continue
        where = f"{manifest.origin()}: " if manifest.origin() else ""
        if not allows_kind(project, CRD_GROUP, CRD_KIND, namespaced=False):
            return ProjectViolationError(
                f"{where}kind {key[1]} is defined only by a CustomResourceDefinition, which "
                f"project {project.name} does not allow"
            )
        if is_builtin_group(group):
            return ValidationError(
                f"{where}API group {group or 'core'} is built into Kubernetes; a "
                "CustomResourceDefinition cannot define kinds in it"
            )
        if not _applied_crd(manifest):
            return ValidationError(
                f"{where}kind {key[1]} is defined only by a hook or Skip "
                "CustomResourceDefinition, which this sync does not apply"
            )
    return None


def decide(key: Key, served: bool | None, claims: dict[Key, bool]) -> bool | None:
    """Whether ``key`` is namespaced: discovery's answer (``served``) wins; then a claim.

    ``None``: nobody trustworthy knows the kind (the caller reports it unknown).
    """
    if served is not None:
        return served
    return claims.get(key)
