"""Which rules see which Applications (pure).

* Visibility: a rule sees the Applications of its own namespace; a rule in
  the controller's namespace (``home``, where only administrators write)
  sees every Application. Tenants therefore cannot subscribe to, or learn
  about, another namespace's apps.
* Selection, within what a rule sees: every non-empty part of
  ``spec.selector`` must match: ``projects`` (the app's project is listed),
  ``apps`` (a name or glob matching the app's name, or ``namespace/name``),
  ``matchLabels`` (each label present with that value). Empty: every app.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from driftless.notifications.model import RuleSelector


def sees(rule_namespace: str, home: str, app_namespace: str) -> bool:
    """May a rule in ``rule_namespace`` hear about an app in ``app_namespace``?"""
    return rule_namespace in (app_namespace, home)


def selects(selector: RuleSelector, app: dict[str, Any]) -> bool:
    """Does ``selector`` pick the raw Application ``app``?"""
    meta, spec = _dict(app.get("metadata")), _dict(app.get("spec"))
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    if selector.projects and str(spec.get("project") or "default") not in selector.projects:
        return False
    if selector.apps and not any(
        fnmatchcase(f"{namespace}/{name}" if "/" in pattern else name, pattern)
        for pattern in selector.apps
    ):
        return False
    labels = _dict(meta.get("labels"))
    return all(labels.get(key) == value for key, value in selector.match_labels.items())


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
