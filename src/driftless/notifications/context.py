"""The variables a notification template sees, and the ``Notification`` built from them.

``variables(app, trigger, revision, commit, ui_url)`` is pure: it reads the
raw Application object (as the controller's watch holds it) and returns
plain JSON-able data (the template worker gets it over a pipe):

* ``app``: name, namespace, project, labels, repoURL (credentials redacted),
  path, targetRevision, destination {server, name, namespace}, sync,
  health, healthMessage;
* ``trigger``, ``revision`` (full id or None), ``short_revision`` (8);
* ``commit``: {sha, message (first 4 KiB), author {name, email}, date},
  always there: when the controller's clone does not have the commit (a Helm
  chart app, a health trigger with no revision, a timeout) every field is an
  empty string but ``sha``, the revision if any, so ``commit.author.name``
  never fails a template (read by the engine through
  ``GitCache.commit_info``; its text is the repository's: untrusted);
* ``resources``: the operation's results (kind, namespace, name, status,
  message), at most ``MAX_RESOURCES``;
* ``operation``: phase, message, startedAt, finishedAt (empty strings when
  the app has no operation), and resourcesOmitted: how many plain synced
  results a large app's status counts instead of listing them in
  ``resources`` (``pipeline.status_budget``; 0 otherwise);
* ``app_url``: ``<ui_url>/applications/<namespace>/<name>`` or None.

``notification(...)`` wraps rendered text into ``message.Notification`` with
the trigger's status (pending / success / failure) and facts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from driftless.core.models import resources_omitted
from driftless.core.repourl import redact
from driftless.notifications.message import Notification

JSON = dict[str, Any]
MAX_RESOURCES = 100
MAX_TEXT = 1024  # one resource or operation message

STATUS_OF = {
    "on-sync-running": "pending",
    "on-sync-succeeded": "success",
    "on-sync-failed": "failure",
    "on-health-degraded": "failure",
    "on-health-recovered": "success",
    "on-drift-detected": "failure",
    "on-deployed": "success",
    "on-pruned": "success",
}


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    return redact(str(value))[:limit] if value is not None else ""


def app_url(ui_url: str | None, namespace: str, name: str) -> str | None:
    """The app's page in the web UI (the route of ``web/src/App.tsx``)."""
    if not ui_url:
        return None
    return f"{ui_url.rstrip('/')}/applications/{quote(namespace, safe='')}/{quote(name, safe='')}"


def app_variables(app: JSON) -> JSON:
    meta, spec, status = (
        _dict(app.get("metadata")),
        _dict(app.get("spec")),
        _dict(app.get("status")),
    )
    source, destination = _dict(spec.get("source")), _dict(spec.get("destination"))
    health = _dict(status.get("health"))
    labels = meta.get("labels")
    return {
        "name": str(meta.get("name") or ""),
        "namespace": str(meta.get("namespace") or ""),
        "project": str(spec.get("project") or "default"),
        "labels": {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        "repoURL": _text(source.get("repoURL")),
        "path": str(source.get("path") or "."),
        "targetRevision": str(source.get("targetRevision") or "HEAD"),
        "destination": {
            "server": str(destination.get("server") or ""),
            "name": str(destination.get("name") or ""),
            "namespace": str(destination.get("namespace") or ""),
        },
        "sync": str(_dict(status.get("sync")).get("status") or "Unknown"),
        "health": str(health.get("status") or "Unknown"),
        "healthMessage": _text(health.get("message")),
    }


def operation_variables(app: JSON) -> tuple[JSON, list[JSON]]:
    op = _dict(_dict(app.get("status")).get("operationState"))
    operation = {
        "phase": str(op.get("phase") or ""),
        "message": _text(op.get("message")),
        "startedAt": str(op.get("startedAt") or ""),
        "finishedAt": str(op.get("finishedAt") or ""),
        "resourcesOmitted": resources_omitted(op),
    }
    results = op.get("resources") if isinstance(op.get("resources"), list) else []
    resources = [
        {
            "kind": str(r.get("kind") or ""),
            "namespace": str(r.get("namespace") or ""),
            "name": str(r.get("name") or ""),
            "status": str(r.get("status") or ""),
            "message": _text(r.get("message")),
        }
        for r in (results or [])[:MAX_RESOURCES]
        if isinstance(r, dict)
    ]
    return operation, resources


def commit_variables(commit: Any, revision: str | None = None) -> JSON:
    """``GitCache.commit_info``'s answer as template data (duck-typed: pure).

    No commit read: the same shape, empty (``sha`` the revision, if any).
    """
    if commit is None:
        return {
            "sha": revision or "",
            "message": "",
            "author": {"name": "", "email": ""},
            "date": "",
        }
    return {
        "sha": str(commit.sha),
        "message": str(commit.message),
        "author": {"name": str(commit.author_name), "email": str(commit.author_email)},
        "date": str(commit.date),
    }


def variables(
    app: JSON, trigger: str, revision: str | None, commit: Any, ui_url: str | None
) -> JSON:
    """Everything a template may use (see the module docstring)."""
    info = app_variables(app)
    operation, resources = operation_variables(app)
    return {
        "app": info,
        "trigger": trigger,
        "revision": revision,
        "short_revision": (revision or "")[:8],
        "commit": commit_variables(commit, revision),
        "resources": resources,
        "operation": operation,
        "app_url": app_url(ui_url, info["namespace"], info["name"]),
    }


def notification(context: JSON, title: str, body: str) -> Notification:
    """The message for the services, from a template context and its rendered text."""
    app = context["app"]
    facts = [("Sync", app["sync"]), ("Health", app["health"])]
    if context["revision"]:
        facts.append(("Revision", context["revision"]))
    if context["operation"]["phase"]:
        facts.append(("Operation", context["operation"]["phase"]))
    return Notification(
        trigger=context["trigger"],
        app_namespace=app["namespace"],
        app_name=app["name"],
        project=app["project"],
        repo_url=app["repoURL"],
        revision=context["revision"],
        title=title,
        body=body,
        status=STATUS_OF.get(context["trigger"], "pending"),
        app_url=context["app_url"],
        facts=tuple(facts),
    )
