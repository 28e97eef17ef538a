"""Hooks written with ``metadata.generateName``: a new object per sync. Pure.

Argo CD's and Helm's users write hook Jobs with ``generateName`` so that each
sync runs a fresh Job. driftless keeps that meaning and stays resumable:

* Only a hook may use ``generateName`` (``render.manifests`` refuses it on any
  other object: driftless must find an app's objects again by name).
* The *template* (the object as rendered) is identified by its generateName:
  its ``ResourceRef`` name is the generateName itself (``identity_name``),
  which is what messages and the plan show.
* Each operation creates its own *instance*, named ``instance_name(prefix,
  seed)``: the generateName (cut to 58 characters, as the API server cuts it)
  plus five characters from the API server's own alphabet, derived from the
  operation (start time, retry count, phase) and the template. The name is a
  function of the operation, so a controller that restarts mid-sync finds
  the instance it created instead of creating a second one, and the instance
  is created with POST (``sync.runner``), never applied over an existing object.
* Every instance carries ``HOOK_TEMPLATE_LABEL`` = ``template_label(tracking
  id of the template)``, by which the next operation finds the earlier
  instances that ``BeforeHookCreation`` deletes.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

# The API server's ``maxGeneratedNameLength`` (63 - 5) and the alphabet it draws
# the five random characters from (no vowels, no look-alikes).
MAX_PREFIX: Final = 58
SUFFIX_LENGTH: Final = 5
_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"


def generate_name(obj: dict[str, Any]) -> str | None:
    """The object's generateName when it has no name (a template), else None."""
    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict) or meta.get("name"):
        return None
    prefix = meta.get("generateName")
    return prefix if isinstance(prefix, str) and prefix else None


def identity_name(obj: dict[str, Any]) -> str:
    """``metadata.name``, or the generateName of a template (its identity)."""
    meta = obj.get("metadata") or {}
    return str(meta.get("name") or generate_name(obj) or "")


def instance_name(prefix: str, seed: str) -> str:
    """``prefix`` (cut to ``MAX_PREFIX``) plus five characters derived from ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    suffix = "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:SUFFIX_LENGTH])
    return prefix[:MAX_PREFIX] + suffix


def template_label(tracking_id: str) -> str:
    """The ``HOOK_TEMPLATE_LABEL`` value of a template: a digest, a valid label value."""
    return hashlib.sha256(tracking_id.encode()).hexdigest()[:40]
