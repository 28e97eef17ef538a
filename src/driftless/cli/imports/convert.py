"""Convert a list of Argo CD and Flux objects into driftless objects (no I/O).

``convert_all(objects, namespace=..., include_secrets=...)`` returns a
``report.Conversion``: the driftless objects (Applications, Projects,
credential Secrets) for ``namespace``, in input order, and a finding for
everything that has no equivalent. Objects of another kind or API group (an
unknown ``apiVersion``, a plain Secret, a Deployment) are listed as not
expressible — an import never drops anything silently. ConfigMaps are read
only as the values a HelmRelease's ``valuesFrom`` names.

Two objects converting to the same driftless name in the output namespace
(Argo CD and Flux objects of several namespaces) are a finding too: the
second is left out rather than silently replacing the first.
"""

from __future__ import annotations

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from driftless.cli.imports import argo, flux, secrets
from driftless.cli.imports.report import JSON, Conversion, describe
from driftless.core.models import API_VERSION, APPLICATION_KIND, Application
from driftless.core.project import PROJECT_KIND, Project
from driftless.pipeline.app_spec import (
    SpecError,
    check_name,
    parse_spec,
    validated,
    validation_message,
)

_MODELS: dict[str, type[BaseModel]] = {APPLICATION_KIND: Application, PROJECT_KIND: Project}


def _group(obj: JSON) -> str:
    api_version = str(obj.get("apiVersion") or "")
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def convert_all(objects: list[JSON], *, namespace: str, include_secrets: bool) -> Conversion:
    out = Conversion()
    target = argo.Target(namespace=namespace, clusters=secrets.cluster_names(objects))
    inputs = flux.FluxInput()
    for obj in objects:
        group = _group(obj)
        if group == flux.SOURCE_GROUP and obj.get("kind") in flux.SOURCE_KINDS:
            inputs.sources[flux.key_of(obj)] = obj
        elif obj.get("apiVersion") == "v1" and obj.get("kind") == "ConfigMap":
            key = flux.key_of(obj)
            inputs.config_maps[(key[1], key[2])] = obj
        elif group == flux.HELM_GROUP and obj.get("kind") == "HelmRelease":
            flux.note_values_config_maps(obj, inputs)
    for obj in objects:
        try:
            _convert_one(obj, target, inputs, include_secrets, out)
        except (TypeError, ValueError, AttributeError, KeyError):
            # A field of an unexpected type (a number where a list belongs):
            # the object is malformed; say so instead of failing the import.
            out.unsupported(describe(obj), "", "malformed: a field has an unexpected type")
    flux.unused_sources(inputs, out)
    _validate(out)
    _drop_duplicates(out)
    return out


def _validate(out: Conversion) -> None:
    """Leave out what driftless itself would refuse, naming the field (never its value)."""
    kept = []
    for obj in out.objects:
        name = obj["metadata"].get("name")
        try:
            check_name(name if isinstance(name, str) else "")
        except SpecError as exc:
            out.unsupported(f"{obj['kind']} {str(name)[:80]}", "metadata.name", exc.problem)
            continue
        model = _MODELS.get(str(obj.get("kind"))) if obj.get("apiVersion") == API_VERSION else None
        problem = _problem(model, obj) if model is not None else ""
        if problem:
            out.unsupported(f"{obj['kind']} {name}", "", f"driftless would refuse it: {problem}")
            continue
        kept.append(obj)
    out.objects[:] = kept


def _problem(model: type[BaseModel], obj: JSON) -> str:
    """Why driftless would refuse ``obj`` (its API checks, as the API server and CLI run them)."""
    try:
        model.model_validate(obj)
        if model is Application:
            validated(parse_spec(obj["spec"]))
    except PydanticValidationError as exc:
        return validation_message(exc)
    except SpecError as exc:
        return str(exc)
    return ""


def _convert_one(
    obj: JSON, target: argo.Target, inputs: flux.FluxInput, include_secrets: bool, out: Conversion
) -> None:
    group, kind = _group(obj), obj.get("kind")
    if group == argo.ARGO_GROUP and kind == "Application":
        argo.application(obj, target, out)
    elif group == argo.ARGO_GROUP and kind == "AppProject":
        argo.app_project(obj, target, out)
    elif group == argo.ARGO_GROUP and kind == "ApplicationSet":
        argo.application_set(obj, out)
    elif group == flux.KUSTOMIZE_GROUP and kind == "Kustomization":
        flux.kustomization(obj, target.namespace, inputs, out)
    elif group == flux.HELM_GROUP and kind == "HelmRelease":
        flux.helm_release(obj, target.namespace, inputs, out)
    elif group == flux.SOURCE_GROUP and kind in flux.SOURCE_KINDS:
        pass  # converted with the Kustomization or HelmRelease that uses it
    elif obj.get("apiVersion") == "v1" and kind == "ConfigMap":
        pass  # values of a HelmRelease
    elif obj.get("apiVersion") == "v1" and kind == "Secret":
        _secret(obj, target, include_secrets, out)
    else:
        out.unsupported(
            describe(obj),
            "",
            f"apiVersion {str(obj.get('apiVersion'))[:100]!r} kind {str(kind)[:100]!r} is not an"
            " Argo CD or Flux object driftless can import",
        )


def _secret(obj: JSON, target: argo.Target, include_secrets: bool, out: Conversion) -> None:
    kind = secrets.secret_type(obj)
    if kind in secrets.REPOSITORY_TYPES:
        secrets.repository(obj, target.namespace, include_secrets, out)
    elif kind == secrets.CLUSTER_TYPE:
        secrets.cluster(obj, target.namespace, include_secrets, out)
    else:
        out.unsupported(
            describe(obj),
            "",
            "not an Argo CD repository, repo-creds or cluster"
            " Secret (label argocd.argoproj.io/secret-type)",
        )


def _drop_duplicates(out: Conversion) -> None:
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for obj in out.objects:
        meta = obj["metadata"]
        key = (obj["kind"], meta["namespace"], meta["name"])
        if key in seen:
            out.unsupported(
                f"{obj['kind']} {meta['name']}",
                "",
                "two input objects convert to this name; the second is left out",
            )
            continue
        seen.add(key)
        kept.append(obj)
    out.objects[:] = kept
