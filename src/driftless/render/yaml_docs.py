"""Parsing YAML and JSON streams into documents that remember their line (pure).

Contract:

* ``parse_yaml_stream(text, file)`` returns every document of a multi-document
  YAML stream with the 1-based line where its content starts. Empty documents
  and ``null`` are skipped. A ``kind: List`` is *not* flattened here (that is a
  Kubernetes notion, see ``driftless.render.directory``), but each list item's
  line is kept in ``Document.item_lines`` so errors about items can point at
  them.
* ``parse_json(text, file)`` does the same for a JSON file (one value; a
  top-level array counts as one document per element).
* Values are read the way Kubernetes reads YAML (sigs.k8s.io/yaml): YAML 1.1
  scalars, except that timestamps stay strings — a date in an annotation must
  not turn into a ``datetime`` that cannot be sent back as JSON.
* A key repeated in one mapping is an error, as it is for ``kubectl``: the
  second ``spec:`` silently replacing the first is a classic lost change.
* Every failure is a ``RenderError`` naming ``file`` and the line of the
  problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, SequenceNode

from driftless.core.errors import RenderError

# The C parser is several times faster; the constructor stays Python either way.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ManifestLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that keeps timestamps as strings and refuses duplicate keys."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue  # unhashable key: the base class reports it
                if duplicate:
                    raise ConstructorError(
                        None,
                        None,
                        f"found duplicate key {key!r}"
                        f" (first defined on line {seen[key].start_mark.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


_ManifestLoader.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)
# YAML 1.1's "=" value key; no constructor exists for it, so it would crash.
_ManifestLoader.add_constructor("tag:yaml.org,2002:value", SafeConstructor.construct_yaml_str)


@dataclass(frozen=True)
class Document:
    """One parsed document and where it starts (1-based)."""

    data: Any
    line: int
    item_lines: list[int] = field(default_factory=list)


def parse_yaml_stream(text: str, file: str) -> list[Document]:
    """Every non-empty document of a YAML stream, in order."""
    loader = _ManifestLoader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            documents.append(
                Document(data=data, line=node.start_mark.line + 1, item_lines=_item_lines(node))
            )
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except yaml.YAMLError as exc:
        raise RenderError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    return documents


def parse_json(text: str, file: str) -> list[Document]:
    """The document(s) of a JSON file."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RenderError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    if data is None:
        return []
    if isinstance(data, list):
        return [Document(data=item, line=1) for item in data if item is not None]
    return [Document(data=data, line=1)]


def _item_lines(node: Node) -> list[int]:
    """Lines of the elements of a top-level ``items:`` sequence (for ``kind: List``)."""
    if not isinstance(node, MappingNode):
        return []
    for key_node, value_node in node.value:
        if getattr(key_node, "value", None) == "items" and isinstance(value_node, SequenceNode):
            return [item.start_mark.line + 1 for item in value_node.value]
    return []


def _yaml_error(exc: yaml.MarkedYAMLError, file: str) -> RenderError:
    """A RenderError at the line of the problem, worded like PyYAML but on one line."""
    mark = exc.problem_mark or exc.context_mark
    context = exc.context
    cause = exc.context_mark
    # e.g. an unclosed bracket: the problem is found far below its cause
    if context and cause is not None and mark is not None and cause.line != mark.line:
        context = f"{context} (started on line {cause.line + 1})"
    parts = [p for p in (context, exc.problem) if p]
    message = "invalid YAML: " + (", ".join(parts) if parts else "syntax error")
    return RenderError(message, file=file, line=mark.line + 1 if mark is not None else None)
