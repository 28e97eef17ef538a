"""An API object as driftless shows it to a person: credentials out, copies dropped. Pure.

``redacted(obj)`` is what the server's API keeps and answers (``server.caches``,
``server.routes_edit``, ``server.live``) and what every ``driftless app``
command prints (``cli.app``, ``cli.app_ops``), from a kubeconfig or through a
server: one function, so both paths show the same bytes.

* Every string goes through ``core.repourl.redact`` (userinfo and query values
  of URLs: a ``repoURL``, but also a URL quoted in a condition's message or an
  annotation).
* At every level where an object has a ``metadata`` mapping, two copies nobody
  reads are dropped: ``managedFields`` (the largest part of most objects;
  kubectl hides them too) and kubectl's last-applied annotation (a second
  spec, credentials in its URLs included).

Everything else is kept, in its order: the detail, history and tree views read
the rest of the object. The input may be hostile (any field missing or of
another type); the function never fails on it and never changes it.
"""

from __future__ import annotations

from typing import Any

from driftless.core import wellknown
from driftless.core.repourl import redact

__all__ = ["redacted"]

JSON = dict[str, Any]


def redacted(obj: Any) -> Any:
    """A deep copy of ``obj``: strings redacted, managedFields and last-applied dropped."""
    if isinstance(obj, str):
        # Only a string with userinfo or a query can hold a credential: the rest is kept as is.
        return redact(obj) if ("@" in obj or "?" in obj) else obj
    if isinstance(obj, list):
        return [redacted(item) for item in obj]
    if isinstance(obj, dict):
        return {
            str(k): _slim_metadata(v) if k == "metadata" and isinstance(v, dict) else redacted(v)
            for k, v in obj.items()
        }
    return obj


def _slim_metadata(meta: JSON) -> JSON:
    """``redacted`` metadata without the two copies (skipped, never copied)."""
    out: JSON = {}
    for key, value in meta.items():
        if key == "managedFields":
            continue
        if key == "annotations" and isinstance(value, dict):
            out[key] = {
                str(k): redacted(v)
                for k, v in value.items()
                if k != wellknown.KUBECTL_LAST_APPLIED_ANNOTATION
            }
        else:
            out[str(key)] = redacted(value)
    return out
