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
* ``load_single(text, what)`` is the same bounded parser for one YAML value
  that is not a manifest (a chart repository's ``index.yaml``).
* Values are read the way Kubernetes reads YAML (sigs.k8s.io/yaml): YAML 1.1
  scalars, except that timestamps stay strings — a date in an annotation must
  not turn into a ``datetime`` that cannot be sent back as JSON. Only JSON
  values come out (mappings, sequences, strings, numbers, booleans, null):
  ``!!binary``, ``!!set`` and the like are refused.
* A key repeated in one mapping is an error, as it is for ``kubectl``: the
  second ``spec:`` silently replacing the first is a classic lost change.
* Every failure is a ``RenderError`` naming ``file`` and the line of the
  problem. Messages never quote a value of the document: a Secret's value
  that YAML happens to read as a tag (``password: !s3cr3t``) must not end up
  in a condition.

Bounds (the input is untrusted; ``Limits``): the text size is checked first;
the event stream of the C parser is composed here, in Python, counting the
nesting depth, the aliases and the number of nodes *as expanded* (an alias
counts as the whole subtree it names) before anything is constructed. So
100 KB of ``[[[[…`` is refused at the depth limit instead of overflowing the
C composer's stack, and a 600-byte "billion laughs" is refused at the node
limit instead of turning into a gigabyte when the result is copied or
serialised. A recursive alias (an anchor used inside itself) is refused too.
JSON values get the same depth check after ``json.loads``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from driftless.core.errors import RenderError

try:  # libyaml's event parser is much faster; composition stays in Python either way.
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, _PyParser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            _PyParser.__init__(self)


@dataclass(frozen=True)
class Limits:
    """How much YAML one parse may hold (see the module docstring)."""

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 200
    max_aliases: int = 10_000
    max_nodes: int = 2_000_000


MANIFEST_LIMITS = Limits()
# A chart repository's index.yaml is parsed in the controller process, so these
# bound its worst case there. Measured: a flat list of 1M one-letter scalars (the
# cheapest text per node) peaks near 400 MB RSS and ~5 s; a realistic index is
# ~15-19 bytes a node, so indexes up to ~15-19 MB parse, bigger ones are refused.
INDEX_LIMITS = Limits(max_bytes=32 * 1024 * 1024, max_nodes=1_000_000, max_aliases=1_000)


class LimitExceededError(Exception):
    """The input is larger, deeper or more aliased than ``Limits`` allow."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _PlainError(ConstructorError):
    """Our own wording, which quotes nothing but keys: not redacted."""


class _BoundedComposer(Composer):
    """PyYAML's composer with counters: depth, aliases and expanded nodes."""

    limits: Limits
    if TYPE_CHECKING:  # provided by the parser and resolver it is mixed with
        check_event: Callable[..., bool]
        get_event: Callable[[], Any]
        peek_event: Callable[[], Any]
        descend_resolver: Callable[[Any, Any], None]
        ascend_resolver: Callable[[], None]
        resolve: Callable[..., str]

    def _reset_counters(self) -> None:
        self._depth = 0
        self._aliases = 0
        self._nodes = 0
        self._sizes: dict[Node, int] = {}  # expanded size of every finished anchored node
        self._open: set[Node] = set()  # anchored collections being composed

    def _count(self, nodes: int, mark: Any) -> None:
        self._nodes += nodes
        if self._nodes > self.limits.max_nodes:
            raise LimitExceededError(
                f"the document expands to more than {self.limits.max_nodes} nodes"
                " (aliases count as what they repeat)",
                _line(mark),
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            return self._alias(self.get_event())
        event = self.peek_event()
        if self._depth >= self.limits.max_depth:
            raise LimitExceededError(
                f"nesting deeper than {self.limits.max_depth} levels", _line(event.start_mark)
            )
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            raise ComposerError(None, None, "found a duplicate anchor", event.start_mark)
        self.descend_resolver(parent, index)
        before = self._nodes
        self._count(1, event.start_mark)
        self._depth += 1
        try:
            node = self._compose_event(anchor)
        finally:
            self._depth -= 1
        self.ascend_resolver()
        if anchor is not None:
            self._sizes[node] = self._nodes - before
        return node

    def _alias(self, event: Any) -> Node:
        node = self.anchors.get(event.anchor)
        if node is None:
            raise ComposerError(None, None, "found an undefined alias", event.start_mark)
        if node in self._open:
            raise ComposerError(
                None, None, "found a recursive alias (an anchor used inside itself)",
                event.start_mark,
            )  # fmt: skip
        self._aliases += 1
        if self._aliases > self.limits.max_aliases:
            raise LimitExceededError(
                f"more than {self.limits.max_aliases} aliases", _line(event.start_mark)
            )
        self._count(self._sizes.get(node, 1), event.start_mark)
        return node

    def _compose_event(self, anchor: str | None) -> Node:
        if self.check_event(ScalarEvent):
            node: Node = self.compose_scalar_node(anchor)  # type: ignore[arg-type]
            return node
        if self.check_event(SequenceStartEvent):
            return self._collection(SequenceNode, SequenceEndEvent, anchor)
        if self.check_event(MappingStartEvent):
            return self._collection(MappingNode, MappingEndEvent, anchor)
        event = self.get_event()
        raise ComposerError(None, None, "unexpected YAML event", event.start_mark)

    def _collection(self, kind: Any, end: type[Any], anchor: str | None) -> Node:
        start = self.get_event()
        tag = start.tag
        if tag is None or tag == "!":
            tag = self.resolve(kind, None, start.implicit)
        node: Node = kind(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
            self._open.add(node)
        index = 0
        while not self.check_event(end):
            if kind is MappingNode:
                key = self.compose_node(node, None)
                node.value.append((key, self.compose_node(node, key)))
            else:
                node.value.append(self.compose_node(node, index))
                index += 1
        node.end_mark = self.get_event().end_mark
        self._open.discard(node)
        return node


class _ManifestLoader(_BoundedComposer, _Parser, SafeConstructor, Resolver):
    """Bounded SafeLoader that keeps timestamps as strings and refuses duplicate keys."""

    def __init__(self, text: str, limits: Limits) -> None:
        _Parser.__init__(self, text)
        _BoundedComposer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.limits = limits
        self._reset_counters()

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
                    shown = repr(key) if len(repr(key)) <= 60 else repr(key)[:57] + "..."
                    first = seen[key].start_mark.line + 1
                    raise _PlainError(
                        None,
                        None,
                        f"found duplicate key {shown} (first defined on line {first})",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]
        return result

    def construct_undefined(self, node: Node) -> Any:
        # PyYAML's message quotes the tag, and the "tag" may be a Secret's value.
        raise _PlainError(
            None, None, "unknown tag (quote a value that starts with '!')", node.start_mark
        )


_ManifestLoader.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str
)
# YAML 1.1's "=" value key; no constructor exists for it, so it would crash.
_ManifestLoader.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:value", SafeConstructor.construct_yaml_str
)
_ManifestLoader.add_constructor(None, _ManifestLoader.construct_undefined)  # type: ignore[type-var]
for _tag in ("binary", "set", "omap", "pairs"):
    # Not JSON: Kubernetes cannot take them, and they break serialisation later.
    _ManifestLoader.add_constructor(  # type: ignore[type-var]
        f"tag:yaml.org,2002:{_tag}", _ManifestLoader.construct_undefined
    )


@dataclass(frozen=True)
class Document:
    """One parsed document and where it starts (1-based)."""

    data: Any
    line: int
    item_lines: list[int] = field(default_factory=list)


def parse_yaml_stream(text: str, file: str, *, limits: Limits = MANIFEST_LIMITS) -> list[Document]:
    """Every non-empty document of a YAML stream, in order."""
    _check_size(text, file, limits)
    return [doc for doc in _documents(text, file, limits) if doc.data is not None]


def load_single(text: str, what: str, *, limits: Limits = MANIFEST_LIMITS) -> Any:
    """The value of a one-document YAML text (``None`` when empty); bounded like manifests."""
    _check_size(text, what, limits)
    documents = list(_documents(text, what, limits))
    if len(documents) > 1:
        raise RenderError("expected one YAML document, found several", file=what)
    return documents[0].data if documents else None


def parse_json(text: str, file: str, *, limits: Limits = MANIFEST_LIMITS) -> list[Document]:
    """The document(s) of a JSON file."""
    _check_size(text, file, limits)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RenderError(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno) from None
    except RecursionError:
        raise RenderError(f"nesting deeper than {limits.max_depth} levels", file=file) from None
    check_value(data, file, limits)
    if data is None:
        return []
    if isinstance(data, list):
        return [Document(data=item, line=1) for item in data if item is not None]
    return [Document(data=data, line=1)]


def check_value(data: Any, file: str, limits: Limits = MANIFEST_LIMITS) -> None:
    """Refuse a JSON value nested deeper or holding more nodes than ``limits`` (iterative)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > limits.max_depth:
            raise RenderError(f"nesting deeper than {limits.max_depth} levels", file=file)
        if nodes > limits.max_nodes:
            raise RenderError(f"more than {limits.max_nodes} values", file=file)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _check_size(text: str, file: str, limits: Limits) -> None:
    # len() counts characters; a character is at least one byte, so this is a lower bound.
    if len(text) > limits.max_bytes:
        raise RenderError(f"larger than the limit of {limits.max_bytes} bytes", file=file)


def _documents(text: str, file: str, limits: Limits) -> Iterator[Document]:
    loader = _ManifestLoader(text, limits)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            yield Document(data=data, line=node.start_mark.line + 1, item_lines=_item_lines(node))
    except LimitExceededError as exc:
        raise RenderError(f"invalid YAML: {exc.message}", file=file, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except yaml.YAMLError:
        raise RenderError("invalid YAML", file=file) from None
    except (ValueError, TypeError, LookupError, OverflowError, RecursionError):
        # A constructor choking on a value (``!!int abc``, ``!!bool maybe`` is a
        # KeyError); its text would quote the value.
        raise RenderError("invalid YAML: a value cannot be read as its type", file=file) from None
    finally:
        loader.dispose()


def _item_lines(node: Node) -> list[int]:
    """Lines of the elements of a top-level ``items:`` sequence (for ``kind: List``)."""
    if not isinstance(node, MappingNode):
        return []
    for key_node, value_node in node.value:
        if (
            isinstance(key_node, ScalarNode)
            and key_node.value == "items"
            and isinstance(value_node, SequenceNode)
        ):
            return [item.start_mark.line + 1 for item in value_node.value]
    return []


# A quoted fragment in PyYAML's wording ('x', "x"): a character or value of the
# input. Token names such as '<block end>' or '-' describe syntax and are kept.
_QUOTED = re.compile(r"""\s*(?:'(?!<)(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def redact_problem(text: str) -> str:
    """PyYAML's problem text without the quoted input characters and values it cites."""
    if text.startswith("expected") or " but found " in text:
        return text  # "expected <block end>, but found '-'": syntax tokens only
    return _QUOTED.sub("", text)


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _yaml_error(exc: yaml.MarkedYAMLError, file: str) -> RenderError:
    """A RenderError at the line of the problem, worded like PyYAML but on one line."""
    mark = exc.problem_mark or exc.context_mark
    context = exc.context
    cause = exc.context_mark
    # e.g. an unclosed bracket: the problem is found far below its cause
    if context and cause is not None and mark is not None and cause.line != mark.line:
        context = f"{context} (started on line {cause.line + 1})"
    own = isinstance(exc, _PlainError)
    parts = [p if own else redact_problem(p) for p in (context, exc.problem) if p]
    message = "invalid YAML: " + (", ".join(parts) if parts else "syntax error")
    return RenderError(message, file=file, line=_line(mark))
