"""Metrics of the requests this process sends to Kubernetes API servers.

Process-wide, on prometheus-client's default registry (every ``KubeClient``
of the process, every cluster, counts into the same series):

* ``driftless_kube_requests_total{verb, code}``: requests by verb and HTTP
  status code; ``code="error"`` when no answer came (connection refused,
  timeout). A watch counts once, when it is opened.
* ``driftless_kube_request_duration_seconds{verb}``: time to the response's
  headers (for a watch: to the stream being opened, not its lifetime).
* ``driftless_kube_dry_runs_total{verb}``: the requests above sent with
  ``dryRun=All`` (they change nothing: a bench tells them from writes).

``verb_of`` names a request the way the API server's own audit and metrics
do (get, list, watch, create, update, patch, apply, delete); it is pure.
Labels never carry a path, a name or a namespace: cardinality stays bounded.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Histogram

APPLY_PATCH = "application/apply-patch+yaml"

REQUESTS = Counter(
    "driftless_kube_requests",
    "Kubernetes API requests sent, by verb and HTTP status code (error: no answer).",
    ["verb", "code"],
)
DURATION = Histogram(
    "driftless_kube_request_duration_seconds",
    "Time from sending a Kubernetes API request to its response's headers.",
    ["verb"],
)

DRY_RUNS = Counter(
    "driftless_kube_dry_runs",
    "Kubernetes API requests sent with dryRun=All (also counted in driftless_kube_requests).",
    ["verb"],
)

_BY_METHOD = {"POST": "create", "PUT": "update", "DELETE": "delete", "PATCH": "patch"}


def verb_of(method: str, query: Mapping[str, str] | None, content_type: str) -> str:
    """The Kubernetes verb of one request. Pure.

    A GET is a watch with ``watch=true``, a list when it pages (``limit``,
    which every list of ``KubeClient`` sends) or selects, else a get
    (objects, discovery documents, /version).
    """
    method = method.upper()
    query = query or {}
    if method == "GET":
        if query.get("watch") == "true":
            return "watch"
        if "limit" in query or "labelSelector" in query:
            return "list"
        return "get"
    if method == "PATCH" and content_type == APPLY_PATCH:
        return "apply"
    return _BY_METHOD.get(method, "other")


def observe(verb: str, code: int | str, seconds: float, *, dry_run: bool = False) -> None:
    """Count one request and its duration."""
    REQUESTS.labels(verb, str(code) if code else "error").inc()
    DURATION.labels(verb).observe(seconds)
    if dry_run:
        DRY_RUNS.labels(verb).inc()
