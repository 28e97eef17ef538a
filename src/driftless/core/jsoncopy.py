"""Deep copies of JSON-shaped data (dicts, lists, scalars), fast.

``copy.deepcopy`` handles arbitrary objects, cycles and memo tables; API
objects are trees of dicts, lists, strings, numbers, booleans and None, which
this copies several times faster. Anything else is returned as is (it is
immutable in a JSON tree). Dataclasses holding such trees copy their fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def deep_copy(value: T) -> T:
    """A copy of ``value`` sharing no mutable dict or list with it."""
    return _copy(value)  # type: ignore[no-any-return]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _copy(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **fields)
    return value
