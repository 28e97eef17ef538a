"""Flux sources, ``Kustomization`` and ``HelmRelease`` -> driftless Applications (no I/O).

Flux splits what a driftless Application holds into a source object and a
deployer object; the converter joins them:

* ``Kustomization`` + its ``GitRepository`` -> an Application with the git
  URL, the revision from ``ref`` (commit, then name, semver, tag, branch — the
  order Flux uses; no ref: ``master``), ``path``, ``interval`` (the shorter of
  the two), ``prune``, ``targetNamespace`` (a kustomize namespace override and
  the destination namespace), ``images``, ``components``,
  ``namePrefix``/``nameSuffix`` and ``timeout`` (health timeout). Flux always
  corrects drift, so ``selfHeal`` is on; a suspended one gets no automated
  sync (it syncs only when asked).
* ``HelmRelease`` + ``HelmRepository`` (https or oci) -> an Application with
  ``chart`` and its version; + ``GitRepository`` -> a chart at a path of git;
  + ``OCIRepository`` (``chartRef``) -> the OCI chart. ``values`` become inline
  values; ``valuesFrom`` a ConfigMap found in the same input is inlined
  (Helm's merge order: each valuesFrom in turn, then ``values``); a Secret's
  values are never copied into an Application (it is not a secret), so that
  is listed. ``releaseName``, ``targetNamespace``, ``install.createNamespace``,
  CRD policy ``Skip``, ``driftDetection.mode: enabled`` (selfHeal) carry over.
* ``OCIRepository`` of manifests, ``Bucket``, a missing source: listed.

Every other field is listed as not expressible (``report.leftover``). A
source used by no deployer is noted (nothing to create for it).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

import yaml

from driftless.cli.imports.report import JSON, Conversion, describe, leftover, mapping
from driftless.core.errors import RenderError
from driftless.core.models import API_VERSION, APPLICATION_KIND, parse_duration
from driftless.render.yaml_docs import load_single

SOURCE_GROUP = "source.toolkit.fluxcd.io"
KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_KINDS = frozenset(
    {"GitRepository", "OCIRepository", "HelmRepository", "Bucket", "HelmChart"}
)
DEFAULT_BRANCH = "master"
_NO_EQUIVALENT = "driftless has no equivalent"

Key = tuple[str, str, str]  # kind, namespace, name


@dataclass
class FluxInput:
    """The Flux sources and ConfigMaps of the input, by (kind, namespace, name)."""

    sources: dict[Key, JSON] = field(default_factory=dict)
    config_maps: dict[tuple[str, str], JSON] = field(default_factory=dict)
    used: set[Key] = field(default_factory=set)
    used_config_maps: set[tuple[str, str]] = field(default_factory=set)
    reported: set[Key] = field(default_factory=set)


def _meta(obj: JSON) -> JSON:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _spec(obj: JSON) -> JSON:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _ns(obj: JSON) -> str:
    return str(_meta(obj).get("namespace") or "default")


def key_of(obj: JSON) -> Key:
    return (str(obj.get("kind")), _ns(obj), str(_meta(obj).get("name")))


def _app(obj: JSON, namespace: str, spec: JSON) -> JSON:
    meta: JSON = {"name": _meta(obj).get("name"), "namespace": namespace}
    labels = _meta(obj).get("labels")
    if isinstance(labels, dict) and labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": API_VERSION, "kind": APPLICATION_KIND, "metadata": meta, "spec": spec}


def _source_of(ref: Any, owner: JSON, flux: FluxInput, where: str, out: Conversion) -> JSON | None:
    ref = ref if isinstance(ref, dict) else {}
    key = (str(ref.get("kind")), str(ref.get("namespace") or _ns(owner)), str(ref.get("name")))
    source = flux.sources.get(key)
    if source is None:
        out.unsupported(where, "sourceRef", f"{key[0]} {key[1]}/{key[2]} is not in the input")
        return None
    flux.used.add(key)
    return source


def _interval(*texts: Any) -> str | None:
    """The shortest of the Flux intervals that driftless can express (h/m/s)."""
    best: tuple[float, str] | None = None
    for text in texts:
        if not isinstance(text, str):
            continue
        try:
            seconds = parse_duration(text).total_seconds()
        except ValueError:
            continue
        if seconds >= 1 and (best is None or seconds < best[0]):
            best = (seconds, text)
    return best[1] if best else None


def _duration(value: Any, where: str, field_: str, out: Conversion) -> str | None:
    if value is None:
        return None
    try:
        if parse_duration(str(value)).total_seconds() >= 1:
            return str(value)
    except ValueError:
        pass
    out.unsupported(where, field_, "driftless durations are whole hours, minutes and seconds")
    return None


# -------------------------------------------------------------------- git source


_GIT_KEYS = frozenset({"url", "ref", "interval", "secretRef", "timeout", "suspend"})


def _git(source: JSON, flux: FluxInput, out: Conversion) -> JSON:
    """``repoURL``/``targetRevision`` of a GitRepository; its findings listed once."""
    spec = _spec(source)
    ref = mapping(spec.get("ref"))
    revision = DEFAULT_BRANCH
    for key in ("commit", "name", "semver", "tag", "branch"):
        if ref.get(key):
            revision = str(ref[key])
            break
    for prefix in ("refs/heads/", "refs/tags/"):
        revision = revision.removeprefix(prefix)
    if key_of(source) not in flux.reported:
        where = describe(source)
        if not ref:
            out.note(
                where,
                "spec.ref",
                f"none: Flux follows the {DEFAULT_BRANCH} branch, so does the Application",
            )
        if ref.get("commit") and ref.get("branch"):
            out.note(where, "spec.ref.branch", "the commit is followed, as Flux does")
    _source_findings(source, flux, out, _GIT_KEYS)
    return {"repoURL": str(spec.get("url", "")), "targetRevision": revision}


def _source_findings(
    source: JSON, flux: FluxInput, out: Conversion, handled: frozenset[str]
) -> None:
    """What a source says that no Application can, listed once however many use it."""
    key = key_of(source)
    if key in flux.reported:
        return
    flux.reported.add(key)
    where, spec = describe(source), _spec(source)
    if "secretRef" in spec:
        out.unsupported(
            where,
            "spec.secretRef",
            "Flux credential Secrets are not converted; register the credential"
            " with `driftless repo add`",
        )
    if spec.get("suspend"):
        out.unsupported(
            where,
            "spec.suspend",
            "a suspended source has no equivalent; suspend the Application"
            " instead (remove automated sync)",
        )
    leftover(out, where, "spec", spec, handled | {"secretRef", "suspend"}, _NO_EQUIVALENT)


# ----------------------------------------------------------------- Kustomization


_KS_KEYS = frozenset(
    {
        "sourceRef",
        "path",
        "interval",
        "prune",
        "targetNamespace",
        "suspend",
        "timeout",
        "images",
        "components",
        "namePrefix",
        "nameSuffix",
        "wait",
        "healthChecks",
    }
)
_KS_REASONS = {
    "dependsOn": "driftless has no ordering between applications (use sync waves inside one)",
    "postBuild": "driftless does not substitute variables",
    "decryption": "SOPS decryption is not configured by import",
    "patches": "move the patches into the kustomization.yaml in git",
    "retryInterval": "driftless retries a failed sync with backoff (spec.syncPolicy.retry)",
    "kubeConfig": "register the cluster with `driftless cluster add` and set the destination",
    "serviceAccountName": "driftless applies with the controller's identity",
    "commonMetadata": "driftless's commonLabels also change selectors; set them in git",
    "force": "driftless recreates only objects marked Replace=true",
}


def kustomization(obj: JSON, namespace: str, flux: FluxInput, out: Conversion) -> None:
    """Convert one Flux Kustomization with its source."""
    where = describe(obj)
    spec = _spec(obj)
    source = _source_of(spec.get("sourceRef"), obj, flux, where, out)
    if source is None:
        return
    if source.get("kind") != "GitRepository":
        out.unsupported(
            where,
            "spec.sourceRef",
            f"driftless reads manifests from git only, not from a {source.get('kind')}",
        )
        return
    app_source = _git(source, flux, out)
    app_source["path"] = str(spec.get("path") or ".").removeprefix("./") or "."
    kustomize: JSON = {}
    target_ns = spec.get("targetNamespace")
    if target_ns:
        kustomize["namespace"] = str(target_ns)
    images = [_image(i) for i in spec.get("images") or [] if isinstance(i, dict) and i.get("name")]
    if images:
        kustomize["images"] = images
    for key in ("namePrefix", "nameSuffix"):
        if spec.get(key):
            kustomize[key] = str(spec[key])
    if isinstance(spec.get("components"), list) and spec["components"]:
        kustomize["components"] = [str(c) for c in spec["components"]]
    if kustomize:
        app_source["kustomize"] = kustomize
    app_spec: JSON = {"source": app_source, "destination": {}}
    if target_ns:
        app_spec["destination"]["namespace"] = str(target_ns)
    policy: JSON = {}
    if not spec.get("suspend"):
        policy["automated"] = {"prune": bool(spec.get("prune")), "selfHeal": True}
    else:
        out.note(where, "spec.suspend", "suspended: the Application syncs only when asked")
    timeout = _duration(spec.get("timeout"), where, "spec.timeout", out)
    if timeout:
        policy["healthTimeout"] = timeout
    app_spec["syncPolicy"] = policy
    interval = _interval(spec.get("interval"), _spec(source).get("interval"))
    if interval:
        app_spec["interval"] = interval
    if spec.get("wait") or spec.get("healthChecks"):
        out.note(
            where,
            "spec.wait/healthChecks",
            "driftless assesses the health of every object it applies",
        )
    leftover(out, where, "spec", spec, _KS_KEYS, _NO_EQUIVALENT, _KS_REASONS)
    out.objects.append(_app(obj, namespace, app_spec))


def _image(raw: JSON) -> str:
    """A Flux image override as kustomize's ``name=newName:tag@digest``."""
    text = str(raw["name"])
    if raw.get("newName"):
        text += "=" + str(raw["newName"])
    if raw.get("newTag"):
        text += ":" + str(raw["newTag"])
    if raw.get("digest"):
        text += "@" + str(raw["digest"])
    return text


# ------------------------------------------------------------------- HelmRelease


_HR_KEYS = frozenset(
    {
        "chart",
        "chartRef",
        "interval",
        "releaseName",
        "targetNamespace",
        "values",
        "valuesFrom",
        "suspend",
        "install",
        "upgrade",
        "driftDetection",
        "timeout",
    }
)
_HR_REASONS = {
    "dependsOn": "driftless has no ordering between applications",
    "postRenderers": "driftless has no post-renderers; move them into a kustomization in git",
    "storageNamespace": "driftless keeps no Helm release storage (it applies the rendered chart)",
    "kubeConfig": "register the cluster with `driftless cluster add` and set the destination",
    "serviceAccountName": "driftless applies with the controller's identity",
    "test": "driftless does not run Helm tests",
    "rollback": "driftless does not roll back on its own (history + `driftless app rollback`)",
    "uninstall": "deleting the Application (with its finalizer) deletes its objects",
    "maxHistory": "driftless keeps status.history (revisionHistoryLimit)",
}


def helm_release(obj: JSON, namespace: str, flux: FluxInput, out: Conversion) -> None:
    """Convert one Flux HelmRelease with its chart source."""
    where = describe(obj)
    spec = _spec(obj)
    app_source = _chart_source(obj, spec, flux, where, out)
    if app_source is None:
        return
    helm: JSON = app_source.setdefault("helm", {})
    helm["releaseName"] = str(spec.get("releaseName") or _meta(obj).get("name"))
    target_ns = str(spec.get("targetNamespace") or _ns(obj))
    values = _values(obj, spec, flux, where, out)
    if values:
        helm["values"] = values
    install = mapping(spec.get("install"))
    upgrade = mapping(spec.get("upgrade"))
    if install.get("crds") == "Skip" or install.get("skipCRDs"):
        helm["skipCrds"] = True
    policy: JSON = {}
    drift = mapping(spec.get("driftDetection"))
    if not spec.get("suspend"):
        # Flux prunes what a new chart version no longer renders (helm upgrade does).
        policy["automated"] = {"prune": True, "selfHeal": drift.get("mode") == "enabled"}
    else:
        out.note(where, "spec.suspend", "suspended: the Application syncs only when asked")
    if install.get("createNamespace"):
        policy["syncOptions"] = ["CreateNamespace=true"]
    timeout = _duration(spec.get("timeout"), where, "spec.timeout", out)
    if timeout:
        policy["healthTimeout"] = timeout
    app_spec: JSON = {
        "source": app_source,
        "destination": {"namespace": target_ns},
        "syncPolicy": policy,
    }
    interval = _interval(spec.get("interval"))
    if interval:
        app_spec["interval"] = interval
    leftover(
        out,
        where,
        "spec.install",
        install,
        frozenset({"crds", "skipCRDs", "createNamespace"}),
        "driftless applies rendered objects; Helm install options do not apply",
    )
    leftover(
        out,
        where,
        "spec.upgrade",
        upgrade,
        frozenset(),
        "driftless applies rendered objects; Helm upgrade options do not apply",
    )
    leftover(out, where, "spec.driftDetection", drift, frozenset({"mode"}), _NO_EQUIVALENT)
    leftover(out, where, "spec", spec, _HR_KEYS, _NO_EQUIVALENT, _HR_REASONS)
    out.objects.append(_app(obj, namespace, app_spec))


def _chart_source(
    obj: JSON, spec: JSON, flux: FluxInput, where: str, out: Conversion
) -> JSON | None:
    if isinstance(spec.get("chartRef"), dict):
        return _chart_ref(obj, spec["chartRef"], flux, where, out)
    chart = mapping(spec.get("chart"))
    chart_spec = mapping(chart.get("spec"))
    source = _source_of(chart_spec.get("sourceRef"), obj, flux, where, out)
    if source is None:
        return None
    name = str(chart_spec.get("chart") or "")
    version = str(chart_spec.get("version") or "*")
    value_files = [str(v) for v in chart_spec.get("valuesFiles") or []]
    leftover(
        out,
        where,
        "spec.chart.spec",
        chart_spec,
        frozenset(
            {"chart", "version", "sourceRef", "valuesFiles", "interval", "reconcileStrategy"}
        ),
        _NO_EQUIVALENT,
    )
    kind = source.get("kind")
    if kind == "HelmRepository":
        src_spec = _spec(source)
        _source_findings(source, flux, out, frozenset({"url", "type", "interval", "timeout"}))
        helm: JSON = {}
        if value_files:
            helm["valueFiles"] = value_files
        return {
            "repoURL": str(src_spec.get("url", "")),
            "chart": name,
            "targetRevision": version,
            "helm": helm,
        }
    if kind == "GitRepository":
        app_source = _git(source, flux, out)
        chart_path = name.removeprefix("./") or "."
        app_source["path"] = chart_path
        # Flux reads valuesFiles from the source's root; driftless from the chart directory.
        relative = [posixpath.relpath(v.removeprefix("./"), chart_path) for v in value_files]
        app_source["helm"] = {"valueFiles": relative} if relative else {}
        return app_source
    out.unsupported(where, "spec.chart.spec.sourceRef", f"charts from a {kind} are not supported")
    return None


def _chart_ref(obj: JSON, ref: JSON, flux: FluxInput, where: str, out: Conversion) -> JSON | None:
    source = _source_of(ref, obj, flux, where, out)
    if source is None:
        return None
    if source.get("kind") != "OCIRepository":
        out.unsupported(
            where, "spec.chartRef", f"charts from a {source.get('kind')} are not supported"
        )
        return None
    src_spec = _spec(source)
    url = str(src_spec.get("url", "")).rstrip("/")
    repo, _, chart = url.rpartition("/")
    oci_ref = mapping(src_spec.get("ref"))
    version = str(oci_ref.get("tag") or oci_ref.get("semver") or "*")
    if oci_ref.get("digest"):
        out.unsupported(describe(source), "spec.ref.digest", "driftless picks charts by version")
    _source_findings(source, flux, out, frozenset({"url", "ref", "interval", "timeout"}))
    return {"repoURL": repo, "chart": chart, "targetRevision": version}


def _values(obj: JSON, spec: JSON, flux: FluxInput, where: str, out: Conversion) -> str | None:
    merged: dict[str, Any] = {}
    for index, item in enumerate(spec.get("valuesFrom") or []):
        if not isinstance(item, dict):
            continue
        field_ = f"spec.valuesFrom[{index}]"
        if item.get("kind") == "Secret":
            out.unsupported(
                where,
                field_,
                "values from a Secret are not copied into an"
                " Application (it is readable by anyone who may read apps)",
            )
            continue
        cm = flux.config_maps.get((_ns(obj), str(item.get("name"))))
        if item.get("kind") != "ConfigMap" or cm is None:
            if item.get("optional") and item.get("kind") == "ConfigMap":
                out.note(where, field_, "optional ConfigMap not in the input: left out")
            else:
                out.unsupported(
                    where,
                    field_,
                    "not expressible unless the ConfigMap is in the"
                    " input (-f with it, or --from-cluster)",
                )
            continue
        if item.get("targetPath"):
            out.unsupported(where, f"{field_}.targetPath", _NO_EQUIVALENT)
            continue
        cm_where = f"{_ns(obj)}/{item.get('name')}"
        data = mapping(cm.get("data"))
        text = data.get(str(item.get("valuesKey") or "values.yaml"))
        try:
            loaded = load_single(text, f"ConfigMap {cm_where}") if isinstance(text, str) else None
        except RenderError as exc:
            out.unsupported(where, field_, f"the ConfigMap's values do not parse: {exc}")
            continue
        if isinstance(loaded, dict):
            _merge(merged, loaded)
            out.note(where, field_, "inlined into spec.source.helm.values")
        else:
            out.unsupported(where, field_, "the ConfigMap key holds no values mapping")
    if isinstance(spec.get("values"), dict):
        _merge(merged, spec["values"])
    return yaml.safe_dump(merged, sort_keys=False) if merged else None


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Helm's values merge: mappings merge key by key, anything else replaces."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def note_values_config_maps(obj: JSON, flux: FluxInput) -> None:
    """Record the ConfigMaps a HelmRelease names in ``valuesFrom`` (converted or not)."""
    values_from = _spec(obj).get("valuesFrom")
    for item in values_from if isinstance(values_from, list) else []:
        if isinstance(item, dict) and item.get("kind") == "ConfigMap":
            flux.used_config_maps.add((_ns(obj), str(item.get("name"))))


def unused_sources(flux: FluxInput, out: Conversion) -> None:
    """Note the sources no deployer uses; list the ConfigMaps no HelmRelease reads.

    A ConfigMap is read from the input only as a HelmRelease's values: one
    that no HelmRelease names is a plain manifest, which an import cannot
    express (it belongs in the repository an Application deploys).
    """
    for (namespace, name), config_map in flux.config_maps.items():
        if (namespace, name) not in flux.used_config_maps:
            out.unsupported(
                describe(config_map),
                "",
                "a plain ConfigMap (no HelmRelease in the input takes values from it) is not an"
                " Argo CD or Flux object driftless can import",
            )
    for key, source in flux.sources.items():
        if key not in flux.used:
            out.note(
                describe(source),
                "",
                "no Kustomization or HelmRelease in the input uses it; nothing to create",
            )
