"""What a read-only pass found about each object: the data of a plan. Pure.

``ObjectState`` (desired vs live for one rendered object) is produced by
``sync.execute.compare``; ``Orphan`` (a live object of the app that git no
longer renders) by ``sync.prune.find_orphans``. They live apart from those
I/O modules so the pure decisions built on them (``pipeline.plan``,
``pipeline.status``) never import the kube client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftless.core.argocd import IGNORE_EXTRANEOUS
from driftless.core.resources import ResourceRef
from driftless.core.vocabulary import ObjectOption
from driftless.core.wellknown import COMPARE_OPTIONS_ANNOTATION
from driftless.sync.plan import sync_options
from driftless.sync.prepare import DesiredObject

JSON = dict[str, Any]


@dataclass
class ObjectState:
    """Desired vs live for one object after ``compare`` (and maybe ``apply``)."""

    desired: DesiredObject
    live: JSON | None
    in_sync: bool
    message: str = ""
    predicted: JSON | None = None  # the server-side dry-run of applying ``desired``


@dataclass
class Orphan:
    """A live object of this app that git no longer renders."""

    ref: ResourceRef
    api_version: str
    live: JSON

    @property
    def prune_disabled(self) -> bool:
        return ObjectOption.NO_PRUNE in sync_options(self.live)

    @property
    def ignore_extraneous(self) -> bool:
        """``driftless.dev/compare-options: IgnoreExtraneous`` (Argo CD's meaning): its
        staying behind does not make the app OutOfSync; a sync still prunes it."""
        annotations = (self.live.get("metadata") or {}).get("annotations") or {}
        raw = str(annotations.get(COMPARE_OPTIONS_ANNOTATION, ""))
        return IGNORE_EXTRANEOUS in {part.strip() for part in raw.split(",")}
