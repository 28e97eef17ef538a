"""An Application built from what a person typed, checked the one way. Pure.

``driftless app create|set`` (flags or ``-f`` files) and the API server's
``POST``/``PUT``/``PATCH /api/v1/applications`` build and check Applications
here, so a spec the CLI refuses the server refuses too, with the same words.

Contracts:

* Every refusal is a ``SpecError`` whose ``field`` names the part in API
  spelling (``metadata.name``, ``spec.source.repoURL``,
  ``spec.syncPolicy.syncOptions``); its message is ``field: problem`` and
  never holds a credential (a repository URL is shown without its userinfo
  or query values; unknown keys are cut to 60 characters).
* ``validated(spec)`` re-validates a spec with the model (assignment skips
  validators), refuses mixed renderers, an option-like ``targetRevision`` or
  one holding control characters (whether the remote has it is the
  controller's to say), an absolute or ``..`` ``path``, and a new ``repoURL``
  git must not get (``core.repourl``: ``ext::`` and unknown schemes, hosts
  starting with ``-``, a password written into the URL). A ``repoURL`` equal
  to ``kept_repo`` (the one the app already has) is not re-checked: an edit
  of another field never fails on what an administrator set up.
  ``local_repos=False`` also refuses ``file://`` URLs and paths: the server
  offers no way to point the controller at its own disk (the CLI leaves that
  decision to the controller's ``--allow-local-repositories``).
* ``unknown_field(data)`` finds a key the model does not know (the model
  ignores them, so a typo such as ``targetRevison`` would be silently lost).
* ``application_from_document(doc, namespace)`` is what ``app create -f`` and
  ``POST /applications`` both turn a manifest into: identity, labels,
  annotations, finalizers and a checked spec; status and server-set metadata
  dropped (``strict``, the server's: refused, as is any unknown spec field).
* ``spec_patch(current, spec)`` is the JSON merge patch taking the stored
  object to ``spec``, diffed model against model: fields this version does
  not know are left alone; ``{}`` when nothing changes. ``merge_patch_apply``
  applies an RFC 7386 patch (``PATCH`` bodies), ``merge_patch_diff`` makes one.
* ``project_problem(...)`` applies the Project's checks the controller applies
  when planning (``core.project``: app namespace, destination, source) before
  anything is written, with the Project's own message.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from driftless.core import names, repourl
from driftless.core.errors import SourceError, ValidationError
from driftless.core.models import API_VERSION, APPLICATION_KIND, Application, ApplicationSpec
from driftless.core.project import (
    LOCAL_SERVER,
    Project,
    ProjectViolationError,
    check_app_namespace,
    check_destination,
    check_helm_lookup,
    check_source,
)

__all__ = [
    "MAX_REVISION",
    "NAME_MAX",
    "NAME_RULE",
    "MixedRenderersError",
    "SpecError",
    "application_from_document",
    "application_object",
    "check_name",
    "check_namespace",
    "merge_patch_apply",
    "merge_patch_diff",
    "parse_spec",
    "project_problem",
    "spec_patch",
    "unknown_field",
    "validated",
    "validation_message",
]

JSON = dict[str, Any]
# Longer than any ref name or semver range; what the operation requests allow too.
MAX_REVISION: Final = 1024
NAME_MAX: Final = 253
RENDERERS: Final = ("directory", "helm", "kustomize", "jsonnet")
# What an Application's metadata may carry when a person writes it.
WRITABLE_METADATA: Final = ("name", "namespace", "labels", "annotations", "finalizers")

# RFC 1123 subdomain: what Kubernetes accepts as the name of most objects.
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHOWN_KEY_MAX = 60
NAME_RULE: Final = (
    "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
)


class SpecError(ValidationError):
    """A spec (or name) that must not be written; ``field`` names the part, in API spelling."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem


class MixedRenderersError(SpecError):
    """Options for more than one renderer in one source (a source has one renderer)."""


# -- names ------------------------------------------------------------------------------------


def check_name(name: str, field: str = "metadata.name") -> str:
    """``name`` if Kubernetes accepts it as an object name (DNS-1123 subdomain)."""
    if len(name) > NAME_MAX or not _DNS_SUBDOMAIN.match(name):
        raise SpecError(field, f"not a valid name: {NAME_RULE}, at most {NAME_MAX} characters")
    return name


def check_namespace(namespace: str, field: str = "metadata.namespace") -> str:
    """``namespace`` if it is a namespace name (DNS-1123 label)."""
    problem = names.namespace_problem(namespace)
    if problem:
        raise SpecError(field, problem)
    return namespace


# -- the spec ---------------------------------------------------------------------------------


def validation_message(exc: PydanticValidationError, prefix: str = "") -> str:
    """One line for the first problem pydantic found: ``spec.source.repoURL: Field required``."""
    field, problem = _first_problem(exc, prefix)
    more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
    return f"{field}: {problem}{more}" if field else f"{problem}{more}"


def _first_problem(exc: PydanticValidationError, prefix: str) -> tuple[str, str]:
    errors = exc.errors()
    if not errors:
        return prefix, str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    return where, str(first["msg"]).removeprefix("Value error, ")


def parse_spec(raw: Any) -> ApplicationSpec:
    """An ``ApplicationSpec`` from API JSON, or ``SpecError`` naming the first bad field."""
    if not isinstance(raw, dict):
        raise SpecError("spec", "must be an object")
    try:
        return ApplicationSpec.model_validate(raw)
    except PydanticValidationError as exc:
        field, problem = _first_problem(exc, "spec")
        raise SpecError(field, problem) from None


def validated(
    spec: ApplicationSpec, *, local_repos: bool = True, kept_repo: str | None = None
) -> ApplicationSpec:
    """The spec re-validated and checked (see the module docstring), or ``SpecError``."""
    checked = parse_spec(spec.to_api())
    source = checked.source
    kinds = [k for k in RENDERERS if getattr(source, k)]
    if len(kinds) > 1:
        raise MixedRenderersError(
            "spec.source",
            f"options for {' and '.join(kinds)} cannot be combined: a source has one renderer",
        )
    _check_revision(source.target_revision)
    _check_path(source.path)
    if source.repo_url != kept_repo:
        _check_repo(source.repo_url, chart=source.chart is not None, local_repos=local_repos)
    return checked


def _check_revision(revision: str) -> None:
    field = "spec.source.targetRevision"
    if len(revision) > MAX_REVISION:
        raise SpecError(field, f"longer than {MAX_REVISION} characters")
    if revision.startswith("-"):
        raise SpecError(field, "may not start with '-' (git would read it as an option)")
    if _CONTROL.search(revision):
        raise SpecError(field, "may not hold control characters")


def _check_path(path: str) -> None:
    field = "spec.source.path"
    if _CONTROL.search(path):
        raise SpecError(field, "may not hold control characters")
    if path.startswith("/") or "\\" in path:
        raise SpecError(field, "must be relative to the repository's root, with '/'")
    if ".." in path.split("/"):
        raise SpecError(field, "may not leave the repository ('..')")


def _check_repo(repo_url: str, *, chart: bool, local_repos: bool) -> None:
    field = "spec.source.repoURL"
    try:
        parsed = repourl.parse_repo_url(repo_url)
        if chart:
            if parsed.has_password:
                raise SourceError(
                    "a password may not be written in repoURL: put credentials in a"
                    " repository Secret (`driftless repo add`)"
                )
        else:
            parsed.check_fetchable()
    except SourceError as exc:
        raise SpecError(field, repourl.redact(exc.message)) from None
    if parsed.is_local and not local_repos:
        raise SpecError(
            field,
            "local repositories (file:// and paths) cannot be set here: use an https:// or"
            " ssh:// URL",
        )


def unknown_field(data: Any, model: type[BaseModel] = ApplicationSpec, loc: str = "spec") -> str:
    """The path of the first key in ``data`` that ``model`` does not know; ``""`` when none.

    Keys are matched in API spelling (``repoURL``, ``syncPolicy``). Values of
    the wrong type are left for the model to refuse.
    """
    if not isinstance(data, Mapping):
        return ""
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    for key, value in data.items():
        info = fields.get(str(key))
        if info is None:
            return f"{loc}.{str(key)[:_SHOWN_KEY_MAX]}"
        found = _unknown_in(info.annotation, value, f"{loc}.{key}")
        if found:
            return found
    return ""


def _unknown_in(annotation: Any, value: Any, loc: str) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return unknown_field(value, annotation, loc)
    if origin is typing.Annotated:
        return _unknown_in(args[0], value, loc)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _unknown_in(arg, value, loc)
            if found:
                return found
        return ""
    if origin is list and isinstance(value, list) and args:
        for index, item in enumerate(value):
            found = _unknown_in(args[0], item, f"{loc}[{index}]")
            if found:
                return found
    return ""


def application_object(name: str, namespace: str, spec: ApplicationSpec) -> JSON:
    """The Application to write: identity and spec, nothing else."""
    return {
        "apiVersion": API_VERSION,
        "kind": APPLICATION_KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec.to_api(),
    }


def application_from_document(
    doc: Mapping[str, Any], namespace: str, *, local_repos: bool = True, strict: bool = False
) -> JSON:
    """The Application to write for a manifest, in ``namespace`` unless it names its own.

    ``SpecError`` for another kind, a bad name or namespace, a spec the model
    refuses, or (with ``strict``) a key the model does not know.
    """
    kind = doc.get("kind", APPLICATION_KIND) if strict else doc.get("kind")
    if kind != APPLICATION_KIND:
        raise SpecError("kind", f"expected Application, got {str(kind)[:_SHOWN_KEY_MAX]!r}")
    meta_in = doc.get("metadata") or {}
    if not isinstance(meta_in, Mapping):
        raise SpecError("metadata", "must be an object")
    if strict:
        for key in meta_in:
            if key not in WRITABLE_METADATA:
                raise SpecError(f"metadata.{str(key)[:_SHOWN_KEY_MAX]}", "cannot be set here")
        found = unknown_field(doc.get("spec"))
        if found:
            raise SpecError(found, "unknown field")
    meta = {k: v for k, v in meta_in.items() if k in WRITABLE_METADATA}
    check_name(str(meta.get("name") or ""))
    meta["namespace"] = check_namespace(str(meta.get("namespace") or namespace))
    if strict:
        _check_keys(meta.get("labels"), "metadata.labels", values=True)
        _check_keys(meta.get("annotations"), "metadata.annotations", values=False)
    obj = {"apiVersion": doc.get("apiVersion") or API_VERSION, "kind": kind, "metadata": meta}
    try:
        app = Application.model_validate({**obj, "spec": doc.get("spec")})
    except PydanticValidationError as exc:
        field, problem = _first_problem(exc, "")
        raise SpecError(field, problem) from None
    validated(app.spec, local_repos=local_repos)
    return {**obj, "spec": doc.get("spec")}


def _check_keys(mapping: Any, field: str, *, values: bool) -> None:
    """Label/annotation keys Kubernetes takes (and label values, with ``values``)."""
    if mapping is None:
        return
    if not isinstance(mapping, Mapping):
        raise SpecError(field, "must be an object")
    for key, value in mapping.items():
        shown = f"{field}.{str(key)[:_SHOWN_KEY_MAX]}"
        problem = names.label_key_problem(str(key))
        if problem:
            raise SpecError(shown, problem)
        if not isinstance(value, str):
            raise SpecError(shown, "must be a string")
        if values and (
            len(value) > names.LABEL_VALUE_MAX
            or not names.matches(names.LABEL_VALUE_PATTERN, value)
        ):
            raise SpecError(shown, "not a label value (at most 63 letters, digits, '-', '_', '.')")


# -- edits ------------------------------------------------------------------------------------


def spec_patch(current: Mapping[str, Any], spec: ApplicationSpec) -> JSON:
    """The merge patch taking the stored ``current`` to ``spec``; ``{}`` when equal.

    ``SpecError`` (field ``spec``) when the stored object itself does not parse.
    """
    try:
        before = Application.model_validate(current).spec
    except PydanticValidationError as exc:
        raise SpecError(
            "spec",
            f"the stored application is invalid ({validation_message(exc)}); fix it with"
            " `kubectl edit` or re-create it",
        ) from None
    diff = merge_patch_diff(before.to_api(), spec.to_api())
    return {"spec": diff} if diff else {}


def merge_patch_diff(old: JSON, new: JSON) -> JSON:
    """The RFC 7386 merge patch that turns ``old`` into ``new`` (``{}``: equal).

    Keys missing from ``new`` become ``null``; nested mappings are diffed
    key by key; lists and scalars are replaced whole (as merge patch does).
    """
    patch: JSON = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            sub = merge_patch_diff(before, value)
            if sub:
                patch[key] = sub
        elif key not in old or before != value:
            patch[key] = value
    return patch


def merge_patch_apply(target: Any, patch: Any) -> Any:
    """``target`` with the RFC 7386 merge ``patch`` applied (neither is changed)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch_apply(result.get(key), value)
    return result


# -- the Project ------------------------------------------------------------------------------


def project_problem(
    namespace: str, spec: ApplicationSpec, project: Project, home: str
) -> SpecError | None:
    """Why the Project (read from ``home``) refuses this app, or ``None``.

    The controller's own checks, in its order (reading the Project, and
    refusing a missing one, is ``pipeline.projects.ClusterProjects.read``'s).
    A destination given only by a cluster name is checked by the controller
    once it has found the server.
    """
    destination = spec.destination
    server = (destination.server or "").rstrip("/")
    if not server and not destination.name:
        server = LOCAL_SERVER
    checks: list[tuple[str, typing.Callable[[], None]]] = [
        ("metadata.namespace", lambda: check_app_namespace(project, namespace, home)),
        ("spec.source.repoURL", lambda: check_source(project, spec.source.repo_url)),
    ]
    if spec.source.helm is not None and spec.source.helm.lookup:
        checks.append(("spec.source.helm.lookup", lambda: check_helm_lookup(project)))
    if server:
        protected = frozenset({home}) if server == LOCAL_SERVER else frozenset()
        checks.insert(
            1,
            (
                "spec.destination",
                lambda: check_destination(
                    project, server, destination.namespace or "", protected=protected
                ),
            ),
        )
    for field, check in checks:
        try:
            check()
        except ProjectViolationError as exc:
            return SpecError(field, exc.message)
    return None
