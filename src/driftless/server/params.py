"""The path parameters that name one Application: ``/applications/{namespace}/{name}``.

One definition for the routes that act on an app (``routes_edit``, ``routes_ops``,
``stream``), so their validation and the OpenAPI document say the same thing: a
malformed name is FastAPI's 422 naming ``path.namespace`` or ``path.name`` before
the route runs (``access.well_formed`` is the same rule, so authorization never
looks such a name up).

* ``Namespace``: a DNS-1123 label, at most 63 characters (``core.names``).
* ``Name``: a DNS-1123 subdomain, at most ``app_spec.NAME_MAX`` (253) characters,
  what Kubernetes accepts as an Application's name.

The patterns are anchored RE2-compatible expressions, so the schema a client or a
fuzzer reads from ``/api/openapi.json`` is one it can use as written.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from driftless.core import names
from driftless.pipeline import app_spec

__all__ = ["Name", "Namespace"]

Namespace = Annotated[
    str,
    Path(
        min_length=1,
        max_length=names.NAMESPACE_MAX,
        pattern=names.NAMESPACE_PATTERN,
        description="The Application's namespace.",
    ),
]
Name = Annotated[
    str,
    Path(
        min_length=1,
        max_length=app_spec.NAME_MAX,
        pattern=names.RELEASE_NAME_PATTERN,  # a DNS-1123 subdomain, as Kubernetes names
        description="The Application's name.",
    ),
]
