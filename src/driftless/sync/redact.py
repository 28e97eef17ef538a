"""Keep Secret values out of API error messages. Pure.

The API server echoes the offending value in many refusals (``Invalid value:
"…"``, ``expected map, got &{…}``). Every message about a write driftless
makes — dry-run, apply, replace, create, hook deletion, prune — ends up in
the Application's status, in Events and in logs, where anyone who may read
the Application would read the Secret. So every such message about a Secret
goes through ``redact_api_error`` before it is stored or raised: quoted and
echoed values become ``<redacted>``. Messages about other kinds are kept as
they are (their values are not secret, and they help the person fixing them).
"""

from __future__ import annotations

import re

from driftless.core.resources import ResourceRef

_QUOTED_OR_ECHOED = re.compile(r'(got &?\{[^}]*\}|got [^,;)]+|"[^"]*"|\'[^\']*\')')
REDACTED = "<redacted>"


def is_secret(ref: ResourceRef) -> bool:
    return ref.kind == "Secret" and not ref.group


def redact_api_error(message: str, ref: ResourceRef) -> str:
    """``message`` without the values the API server echoed, when it is about a Secret."""
    if not is_secret(ref):
        return message
    return _QUOTED_OR_ECHOED.sub(REDACTED, message)
