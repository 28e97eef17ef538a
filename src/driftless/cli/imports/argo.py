"""Argo CD ``Application``, ``AppProject`` and ``ApplicationSet`` -> driftless. Pure.

The field-by-field mapping (the README's "Importing from Argo CD and Flux"
table says the same):

* ``Application``: ``spec.source`` (or a ``spec.sources`` of one) keeps its
  names — repoURL, targetRevision, path, chart, helm (valueFiles, values,
  valuesObject as YAML, parameters, releaseName, namespace, skipCrds),
  kustomize (namePrefix/Suffix, namespace, images, commonLabels/Annotations,
  components), directory (recurse, include, exclude; ``jsonnet`` becomes the
  source's ``jsonnet``); destination server/name/namespace; project;
  syncPolicy (automated prune/selfHeal/allowEmpty, syncOptions, retry);
  ignoreDifferences; revisionHistoryLimit; Argo's resources finalizer becomes
  driftless's.
* ``AppProject``: sourceRepos, destinations (a destination by cluster
  ``name`` needs its server: known for ``in-cluster`` and for the cluster
  Secrets of the same input), clusterResourceWhitelist ->
  clusterResourceAllowList, namespaceResourceBlacklist ->
  namespaceResourceDenyList, sourceNamespaces, roles (policies and groups;
  the policy line format is the same).
* ``ApplicationSet``: driftless has none yet; listed whole.

Every other field is listed as not expressible (``report.leftover``).
Adoption needs no opt-in: an object Argo CD deployed carries no driftless
tracking id, and ``sync.ownership`` lets an app adopt an untracked object;
server-side apply with force takes the fields from ``argocd-controller`` and
leaves Argo's own annotations and labels (tracking-id, instance) in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from driftless.cli.imports.report import JSON, Conversion, describe, leftover, mapping
from driftless.core.models import API_VERSION, APPLICATION_KIND, parse_duration
from driftless.core.project import LOCAL_NAME, LOCAL_SERVER, PROJECT_KIND
from driftless.core.wellknown import RESOURCES_FINALIZER

ARGO_GROUP = "argoproj.io"
ARGO_FINALIZERS = frozenset(
    {"resources-finalizer.argocd.argoproj.io", "resources-finalizer.argocd.argoproj.io/foreground"}
)
# Already what driftless does, so carrying them over changes nothing.
_BUILT_IN_OPTIONS = {
    "ServerSideApply=true": "driftless always applies server-side",
    "RespectIgnoreDifferences=true": "driftless never applies ignored fields",
    "Validate=true": "the API server always validates",
}
_KEPT_OPTIONS = frozenset({"CreateNamespace=true", "CreateNamespace=false"})
_NO_EQUIVALENT = "driftless has no equivalent"


@dataclass(frozen=True)
class Target:
    """Where the driftless objects go and what the input told about clusters."""

    namespace: str
    # Registered cluster name -> server, from the cluster Secrets of the input.
    clusters: dict[str, str] = field(default_factory=dict)


def _meta(obj: JSON) -> JSON:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _spec(obj: JSON) -> JSON:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _metadata(obj: JSON, target: Target) -> JSON:
    meta: JSON = {"name": _meta(obj).get("name"), "namespace": target.namespace}
    labels = _meta(obj).get("labels")
    if isinstance(labels, dict) and labels:
        meta["labels"] = dict(labels)
    return meta


# ------------------------------------------------------------------ Application


_SOURCE_KEYS = frozenset(
    {"repoURL", "targetRevision", "path", "chart", "helm", "kustomize", "directory"}
)
_HELM_KEYS = frozenset(
    {"valueFiles", "values", "valuesObject", "parameters", "releaseName", "namespace", "skipCrds"}
)
_KUSTOMIZE_KEYS = frozenset(
    {
        "namePrefix",
        "nameSuffix",
        "namespace",
        "images",
        "commonLabels",
        "commonAnnotations",
        "components",
    }
)
_DIRECTORY_KEYS = frozenset({"recurse", "include", "exclude", "jsonnet"})
_APP_SPEC_KEYS = frozenset(
    {
        "source",
        "sources",
        "destination",
        "project",
        "syncPolicy",
        "ignoreDifferences",
        "revisionHistoryLimit",
    }
)


def application(obj: JSON, target: Target, out: Conversion) -> None:
    """Convert one Argo CD Application."""
    where = describe(obj)
    spec = _spec(obj)
    raw_source = _pick_source(spec, where, out)
    if raw_source is None:
        out.unsupported(where, "spec.source", "no source: nothing to deploy")
        return
    app_spec: JSON = {
        "project": spec.get("project") or "default",
        "source": _source(raw_source, where, "spec.source", out),
        "destination": _destination(spec.get("destination"), where, out),
        "syncPolicy": _sync_policy(spec.get("syncPolicy"), where, out),
    }
    ignore = _ignore_differences(spec.get("ignoreDifferences"), where, out)
    if ignore:
        app_spec["ignoreDifferences"] = ignore
    limit = spec.get("revisionHistoryLimit")
    if isinstance(limit, int) and 1 <= limit <= 100:
        app_spec["revisionHistoryLimit"] = limit
    elif limit is not None:
        out.unsupported(where, "spec.revisionHistoryLimit", "driftless keeps 1 to 100 entries")
    leftover(out, where, "spec", spec, _APP_SPEC_KEYS, _NO_EQUIVALENT)
    metadata = _metadata(obj, target)
    finalizers = _meta(obj).get("finalizers") or []
    if any(f in ARGO_FINALIZERS for f in finalizers):
        metadata["finalizers"] = [RESOURCES_FINALIZER]
    _annotations(obj, where, out)
    out.objects.append(
        {
            "apiVersion": API_VERSION,
            "kind": APPLICATION_KIND,
            "metadata": metadata,
            "spec": app_spec,
        }
    )


def _pick_source(spec: JSON, where: str, out: Conversion) -> JSON | None:
    source = spec.get("source")
    sources = spec.get("sources")
    if isinstance(source, dict):
        return source
    if isinstance(sources, list) and sources:
        if len(sources) > 1:
            out.unsupported(
                where,
                "spec.sources[1:]",
                f"driftless apps have one source; only the first of {len(sources)} is kept",
            )
        first = sources[0]
        return first if isinstance(first, dict) else None
    return None


def _source(raw: JSON, where: str, path: str, out: Conversion) -> JSON:
    source: JSON = {"repoURL": raw.get("repoURL", "")}
    for key in ("targetRevision", "path", "chart"):
        if raw.get(key) not in (None, ""):
            source[key] = str(raw[key])
    if isinstance(raw.get("helm"), dict):
        source["helm"] = _helm(raw["helm"], where, f"{path}.helm", out)
    if isinstance(raw.get("kustomize"), dict):
        source["kustomize"] = _kustomize(raw["kustomize"], where, f"{path}.kustomize", out)
    if isinstance(raw.get("directory"), dict):
        directory, jsonnet = _directory(raw["directory"], where, f"{path}.directory", out)
        if directory and jsonnet:
            # driftless's sources have one renderer: jsonnet options make it jsonnet.
            for key in directory:
                out.unsupported(
                    where,
                    f"{path}.directory.{key}",
                    "driftless's jsonnet renderer does not combine with directory options",
                )
        elif directory:
            source["directory"] = directory
        if jsonnet:
            source["jsonnet"] = jsonnet
    reasons = {
        "plugin": "config management plugins do not exist in driftless",
        "ref": "multi-source value references do not exist in driftless",
    }
    leftover(out, where, path, raw, _SOURCE_KEYS, _NO_EQUIVALENT, reasons)
    return source


def _helm(raw: JSON, where: str, path: str, out: Conversion) -> JSON:
    helm: JSON = {}
    for key in ("releaseName", "namespace"):
        if raw.get(key):
            helm[key] = str(raw[key])
    if raw.get("skipCrds"):
        helm["skipCrds"] = True
    if isinstance(raw.get("valueFiles"), list) and raw["valueFiles"]:
        helm["valueFiles"] = [str(v) for v in raw["valueFiles"]]
    values = raw.get("values")
    if isinstance(raw.get("valuesObject"), dict):
        # Argo CD: valuesObject wins over values.
        values = yaml.safe_dump(raw["valuesObject"], sort_keys=False)
    if values:
        helm["values"] = values if isinstance(values, str) else yaml.safe_dump(values)
    parameters = []
    for item in raw.get("parameters") or []:
        if isinstance(item, dict) and "name" in item:
            param: JSON = {"name": str(item["name"]), "value": str(item.get("value", ""))}
            if item.get("forceString"):
                param["forceString"] = True
            parameters.append(param)
    if parameters:
        helm["parameters"] = parameters
    reasons = {
        "fileParameters": "--set-file values do not exist in driftless",
        "passCredentials": "driftless sends repository credentials to the chart's host only",
        "ignoreMissingValueFiles": "driftless fails on a missing values file",
        "version": "driftless renders with Helm 3 only",
    }
    leftover(out, where, path, raw, _HELM_KEYS, _NO_EQUIVALENT, reasons)
    return helm


def _kustomize(raw: JSON, where: str, path: str, out: Conversion) -> JSON:
    kustomize: JSON = {}
    for key in ("namePrefix", "nameSuffix", "namespace"):
        if raw.get(key):
            kustomize[key] = str(raw[key])
    for key in ("images", "components"):
        if isinstance(raw.get(key), list) and raw[key]:
            kustomize[key] = [str(v) for v in raw[key]]
    for key in ("commonLabels", "commonAnnotations"):
        if isinstance(raw.get(key), dict) and raw[key]:
            kustomize[key] = {str(k): str(v) for k, v in raw[key].items()}
    leftover(out, where, path, raw, _KUSTOMIZE_KEYS, _NO_EQUIVALENT)
    return kustomize


def _directory(raw: JSON, where: str, path: str, out: Conversion) -> tuple[JSON, JSON]:
    directory: JSON = {}
    if raw.get("recurse"):
        directory["recurse"] = True
    for key in ("include", "exclude"):
        if raw.get(key):
            directory[key] = str(raw[key])
    jsonnet: JSON = {}
    raw_jsonnet = mapping(raw.get("jsonnet"))
    for argo_key, key in (("tlas", "tlas"), ("extVars", "extVars")):
        items = [
            {"name": str(v["name"]), "value": str(v.get("value", "")), "code": bool(v.get("code"))}
            for v in raw_jsonnet.get(argo_key) or []
            if isinstance(v, dict) and "name" in v
        ]
        if items:
            jsonnet[key] = items
    if raw_jsonnet.get("libs"):
        jsonnet["libs"] = [str(v) for v in raw_jsonnet["libs"]]
    leftover(
        out,
        where,
        f"{path}.jsonnet",
        raw_jsonnet,
        frozenset({"tlas", "extVars", "libs"}),
        _NO_EQUIVALENT,
    )
    leftover(out, where, path, raw, _DIRECTORY_KEYS, _NO_EQUIVALENT)
    return directory, jsonnet


def _destination(raw: Any, where: str, out: Conversion) -> JSON:
    raw = raw if isinstance(raw, dict) else {}
    destination: JSON = {}
    for key in ("server", "name", "namespace"):
        if raw.get(key):
            destination[key] = str(raw[key])
    leftover(
        out,
        where,
        "spec.destination",
        raw,
        frozenset({"server", "name", "namespace"}),
        _NO_EQUIVALENT,
    )
    return destination


def _sync_policy(raw: Any, where: str, out: Conversion) -> JSON:
    raw = raw if isinstance(raw, dict) else {}
    policy: JSON = {}
    automated = raw.get("automated")
    if isinstance(automated, dict) and automated.get("enabled", True) is not False:
        policy["automated"] = {
            "prune": bool(automated.get("prune")),
            "selfHeal": bool(automated.get("selfHeal")),
            "allowEmpty": bool(automated.get("allowEmpty")),
        }
        leftover(
            out,
            where,
            "spec.syncPolicy.automated",
            automated,
            frozenset({"prune", "selfHeal", "allowEmpty", "enabled"}),
            _NO_EQUIVALENT,
        )
    options = []
    for option in raw.get("syncOptions") or []:
        text = str(option).strip()
        if text in _KEPT_OPTIONS:
            options.append(text)
        elif text in _BUILT_IN_OPTIONS:
            out.note(where, f"spec.syncPolicy.syncOptions {text}", _BUILT_IN_OPTIONS[text])
        else:
            out.unsupported(
                where,
                f"spec.syncPolicy.syncOptions {text}",
                "driftless has no such application sync option",
            )
    if options:
        policy["syncOptions"] = options
    if isinstance(raw.get("retry"), dict):
        retry = _retry(raw["retry"], where, out)
        if retry is not None:
            policy["retry"] = retry
    leftover(
        out,
        where,
        "spec.syncPolicy",
        raw,
        frozenset({"automated", "syncOptions", "retry"}),
        _NO_EQUIVALENT,
    )
    return policy


def _retry(raw: JSON, where: str, out: Conversion) -> JSON | None:
    limit = raw.get("limit", 5)
    if not isinstance(limit, int) or limit < 0:
        out.unsupported(
            where,
            "spec.syncPolicy.retry.limit",
            "driftless retries a bounded number of times (limit >= 0)",
        )
        return None
    retry: JSON = {"limit": limit}
    backoff = mapping(raw.get("backoff"))
    kept: JSON = {}
    for key in ("duration", "maxDuration"):
        if backoff.get(key) is None:
            continue
        text = str(backoff[key])
        try:
            parse_duration(text)
        except ValueError:
            out.unsupported(
                where,
                f"spec.syncPolicy.retry.backoff.{key}",
                "driftless durations are whole hours, minutes and seconds",
            )
            continue
        kept[key] = text
    if isinstance(backoff.get("factor"), int) and backoff["factor"] >= 1:
        kept["factor"] = backoff["factor"]
    if kept:
        retry["backoff"] = kept
    return retry


_IGNORE_KEYS = frozenset(
    {"group", "kind", "name", "namespace", "jsonPointers", "managedFieldsManagers"}
)


def _ignore_differences(raw: Any, where: str, out: Conversion) -> list[JSON]:
    rules: list[JSON] = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict) or not item.get("kind"):
            continue
        rule = {k: item[k] for k in _IGNORE_KEYS if item.get(k) not in (None, "", [])}
        rule.setdefault("group", "")
        if item.get("jqPathExpressions"):
            out.unsupported(
                where,
                f"spec.ignoreDifferences[{index}].jqPathExpressions",
                "driftless ignores fields by JSON pointer or field manager only",
            )
        if rule.get("jsonPointers") or rule.get("managedFieldsManagers"):
            rules.append(rule)
        leftover(
            out,
            where,
            f"spec.ignoreDifferences[{index}]",
            item,
            _IGNORE_KEYS | {"jqPathExpressions"},
            _NO_EQUIVALENT,
        )
    return rules


# Written by tools, not by users: state, not intent.
_STATE_ANNOTATIONS = frozenset({"argocd.argoproj.io/refresh", "notified.notifications.argoproj.io"})
_ANNOTATION_NOTES = {
    "argocd.argoproj.io/manifest-generate-paths": "driftless re-checks an app on every push"
    " webhook of its repository",
}


def _annotations(obj: JSON, where: str, out: Conversion) -> None:
    for key in mapping(_meta(obj).get("annotations")):
        field_ = f"metadata.annotations[{key}]"
        if key.startswith("kubectl.kubernetes.io/") or key in _STATE_ANNOTATIONS:
            continue
        if key in _ANNOTATION_NOTES:
            out.note(where, field_, _ANNOTATION_NOTES[key])
        elif key.startswith("notifications.argoproj.io/subscribe"):
            out.unsupported(
                where,
                field_,
                "driftless notifications are configured in the"
                " cluster (see Notifications), not per app by annotation",
            )
        else:
            out.unsupported(where, field_, "not carried over")


# ------------------------------------------------------------------- AppProject


_PROJECT_KEYS = frozenset(
    {
        "description",
        "sourceRepos",
        "destinations",
        "clusterResourceWhitelist",
        "namespaceResourceBlacklist",
        "sourceNamespaces",
        "roles",
    }
)
_PROJECT_REASONS = {
    "clusterResourceBlacklist": "driftless lists the cluster-scoped kinds allowed, not denied",
    "namespaceResourceWhitelist": "driftless lists the namespaced kinds denied, not allowed",
    "syncWindows": "driftless has no sync windows yet",
    "orphanedResources": "driftless does not report orphaned resources",
    "signatureKeys": "driftless does not verify commit signatures",
}


def app_project(obj: JSON, target: Target, out: Conversion) -> None:
    """Convert one Argo CD AppProject into a Project."""
    where = describe(obj)
    spec = _spec(obj)
    project: JSON = {}
    if spec.get("description"):
        project["description"] = str(spec["description"])
    for key in ("sourceRepos", "sourceNamespaces"):
        if isinstance(spec.get(key), list):
            project[key] = [str(v) for v in spec[key]]
    project["destinations"] = _project_destinations(spec.get("destinations"), target, where, out)
    for argo_key, key in (
        ("clusterResourceWhitelist", "clusterResourceAllowList"),
        ("namespaceResourceBlacklist", "namespaceResourceDenyList"),
    ):
        kinds = [
            {"group": str(gk.get("group") or ""), "kind": str(gk["kind"])}
            for gk in spec.get(argo_key) or []
            if isinstance(gk, dict) and gk.get("kind")
        ]
        if kinds:
            project[key] = kinds
    roles = _roles(spec.get("roles"), where, out)
    if roles:
        project["roles"] = roles
    leftover(out, where, "spec", spec, _PROJECT_KEYS, _NO_EQUIVALENT, _PROJECT_REASONS)
    out.objects.append(
        {
            "apiVersion": API_VERSION,
            "kind": PROJECT_KIND,
            "metadata": _metadata(obj, target),
            "spec": project,
        }
    )


def _project_destinations(raw: Any, target: Target, where: str, out: Conversion) -> list[JSON]:
    known = {LOCAL_NAME: LOCAL_SERVER, **target.clusters}
    destinations = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict):
            continue
        server = item.get("server")
        if not server and item.get("name"):
            server = known.get(str(item["name"])) or ("*" if item["name"] == "*" else None)
            if server is None:
                out.unsupported(
                    where,
                    f"spec.destinations[{index}].name",
                    "driftless projects name destinations by server; this cluster's server is"
                    " not in the input (import its cluster Secret too)",
                )
                continue
        destinations.append(
            {"server": str(server or "*"), "namespace": str(item.get("namespace") or "*")}
        )
    return destinations


def _roles(raw: Any, where: str, out: Conversion) -> list[JSON]:
    roles = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict) or not item.get("name"):
            continue
        role: JSON = {"name": str(item["name"])}
        if item.get("description"):
            role["description"] = str(item["description"])
        for key in ("policies", "groups"):
            if isinstance(item.get(key), list) and item[key]:
                role[key] = [str(v) for v in item[key]]
        if item.get("jwtTokens"):
            out.unsupported(
                where,
                f"spec.roles[{index}].jwtTokens",
                "Argo CD's tokens cannot be moved; issue new ones with"
                " `driftless project token create`",
            )
        leftover(
            out,
            where,
            f"spec.roles[{index}]",
            item,
            frozenset({"name", "description", "policies", "groups", "jwtTokens"}),
            _NO_EQUIVALENT,
        )
        roles.append(role)
    return roles


def application_set(obj: JSON, out: Conversion) -> None:
    """driftless has no ApplicationSet yet: the whole object is listed."""
    out.unsupported(
        describe(obj),
        "",
        "driftless has no ApplicationSet yet; create its Applications one by one (or import"
        " the Applications it generated with --from-cluster)",
    )
