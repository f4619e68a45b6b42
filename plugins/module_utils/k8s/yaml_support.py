# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""YAML in and out, the one place for it: PyYAML imported once and guarded, a loader that
hostile text cannot knock over, and a dumper whose output Go's YAML 1.1 readers read back.

Reading (``safe_load_all`` / ``safe_load``): Mission content, hierarchy files, module input and
kubeconfigs all come from people or programs we do not control. The loader composes the node
graph from the parser's events itself (iteratively: no recursion for a deep document to
exhaust) and refuses, with the place named:

- text longer than ``max_bytes``;
- nesting deeper than ``max_depth``;
- more than ``max_nodes`` nodes, counting each alias as the whole subtree it repeats, and more
  than ``max_alias_nodes`` nodes reached through aliases (a 450-byte "billion laughs" document
  expands to gigabytes: it is refused after counting, before anything is built);
- recursive aliases, tags other than the standard JSON-like ones (or those the caller
  registers), ``!!binary``, sets and ordered maps, NaN and infinities, and mapping keys that
  are not strings: everything returned round-trips through JSON.

An unquoted date or time stays the text it was written as (``released: 2024-01-01`` gives the
string ``"2024-01-01"``), as Kubernetes' own YAML reader does.

Writing (``safe_dump`` / ``safe_dump_all``): Go's YAML reader (kubectl, kube-controller-manager)
takes ``y``, ``n``, ``on``, ``101``, ``1e3`` or ``0o17`` for booleans and numbers. A cluster
named ``101`` is a valid DNS-1123 label; written unquoted it makes a kubeconfig every Go client
refuses. The dumper quotes every string that any YAML 1.1 reader would take for something else.
"""

from __future__ import annotations

import re
import traceback
from typing import Any, Optional

try:
    import yaml
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    yaml = None  # type: ignore[assignment]
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None


def require_yaml() -> None:
    """Raise ImportError with an install hint when PyYAML is missing."""
    if yaml is None:
        raise ImportError(
            "PyYAML is required (pip install PyYAML, or apt-get install python3-yaml):\n"
            f"{YAML_IMPORT_ERROR}"
        )


class YamlLimitError(ValueError):
    """The text is not YAML this project accepts; the message names where and why."""


class YamlLimits:
    """Bounds for one kind of input (bytes, nesting, nodes, nodes reached through aliases)."""

    __slots__ = ("max_alias_nodes", "max_bytes", "max_depth", "max_nodes")

    def __init__(
        self, max_bytes: int, max_depth: int, max_nodes: int, max_alias_nodes: int
    ) -> None:
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.max_alias_nodes = max_alias_nodes


# A Mission's content lives inside one Kubernetes object (etcd keeps at most ~1.5 MiB).
CONTENT_LIMITS = YamlLimits(
    max_bytes=1536 * 1024, max_depth=64, max_nodes=200_000, max_alias_nodes=1_000
)
# Kubeconfigs, agent configuration, module input: small files written by people.
CONFIG_LIMITS = YamlLimits(
    max_bytes=4 << 20, max_depth=64, max_nodes=200_000, max_alias_nodes=1_000
)
# A hierarchy file may describe tens of thousands of clusters; anchors for shared settings are
# common there, so aliases get more room, but still a fixed one.
HIERARCHY_LIMITS = YamlLimits(
    max_bytes=256 << 20, max_depth=200, max_nodes=20_000_000, max_alias_nodes=100_000
)

STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = frozenset(
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "seq", "map")
)
_AS_TEXT_TAGS = frozenset(("tag:yaml.org,2002:timestamp",))  # kept as the text written
_REFUSED_TAGS = {
    "tag:yaml.org,2002:binary": "binary values (!!binary) have no JSON form: give base64 text",
    "tag:yaml.org,2002:set": "sets (!!set) have no JSON form: use a list",
    "tag:yaml.org,2002:omap": "ordered maps (!!omap) have no JSON form: use a mapping",
    "tag:yaml.org,2002:pairs": "pairs (!!pairs) have no JSON form: use a mapping",
}
_NOT_FINITE = re.compile(r"^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$")

# extra tags: tag -> constructor(builder, node) -> value
TagConstructor = Any


def _where(where: str, mark: Any) -> str:
    if mark is None:
        return where
    return f"{where}: line {mark.line + 1}, column {mark.column + 1}"


class _Frame:
    """A collection node being composed: its node, how many nodes it holds, pending key."""

    __slots__ = ("anchor", "items", "key", "node", "size")

    def __init__(self, node: Any, anchor: Optional[str]) -> None:
        self.node = node
        self.anchor = anchor
        self.items: list[Any] = node.value
        self.size = 1
        self.key: Any = None


class _Composer:
    """Events -> node graph, iteratively, counting and checking as it goes."""

    def __init__(
        self, parser: Any, where: str, limits: YamlLimits, tags: dict[str, TagConstructor]
    ) -> None:
        self.parser = parser
        self.where = where
        self.limits = limits
        self.tags = tags
        self.nodes = 0
        self.alias_nodes = 0

    def fail(self, mark: Any, message: str) -> YamlLimitError:
        return YamlLimitError(f"{_where(self.where, mark)}: {message}")

    def documents(self) -> list[Any]:
        parser = self.parser
        parser.get_event()  # StreamStart
        nodes = []
        while not parser.check_event(yaml.StreamEndEvent):
            parser.get_event()  # DocumentStart
            nodes.append(self.document())
            parser.get_event()  # DocumentEnd
        return nodes

    def document(self) -> Any:  # noqa: PLR0912 - one event loop, one branch per event kind
        anchors: dict[str, Any] = {}  # anchor -> (node, size); None while still open
        stack: list[_Frame] = []
        root: Any = None
        parser = self.parser
        while True:
            event = parser.get_event()
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                frame = stack.pop()
                frame.node.end_mark = event.end_mark
                if frame.anchor is not None:
                    anchors[frame.anchor] = (frame.node, frame.size)
                node, size = frame.node, frame.size
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise self.fail(event.start_mark, f"alias *{event.anchor} names no anchor")
                if anchors[event.anchor] is None:
                    raise self.fail(
                        event.start_mark,
                        f"alias *{event.anchor} refers to itself: recursive data has no JSON form",
                    )
                node, size = anchors[event.anchor]
                self.alias_nodes += size
                if self.alias_nodes > self.limits.max_alias_nodes:
                    raise self.fail(
                        event.start_mark,
                        f"aliases repeat more than {self.limits.max_alias_nodes} nodes "
                        "(an alias bomb?): write the values out",
                    )
                self.count(size, event.start_mark)
            elif isinstance(event, yaml.ScalarEvent):
                node, size = self.scalar(event), 1
                self.count(1, event.start_mark)
                if event.anchor is not None:
                    anchors[event.anchor] = (node, 1)
            else:  # a sequence or a mapping starts
                mapping = isinstance(event, yaml.MappingStartEvent)
                node = self.collection(event, mapping)
                self.count(1, event.start_mark)
                if len(stack) >= self.limits.max_depth:
                    raise self.fail(
                        event.start_mark, f"nested deeper than {self.limits.max_depth} levels"
                    )
                if stack and isinstance(stack[-1].node, yaml.MappingNode) and stack[-1].key is None:
                    raise self.fail(
                        event.start_mark, "a mapping key must be a string, not a collection"
                    )
                if event.anchor is not None:
                    anchors[event.anchor] = None
                stack.append(_Frame(node, event.anchor))
                continue
            if not stack:
                root = node
                break
            self.attach(stack[-1], node, size)
        return root

    def count(self, size: int, mark: Any) -> None:
        self.nodes += size
        if self.nodes > self.limits.max_nodes:
            raise self.fail(mark, f"more than {self.limits.max_nodes} nodes")

    def attach(self, frame: _Frame, node: Any, size: int) -> None:
        frame.size += size
        if not isinstance(frame.node, yaml.MappingNode):
            frame.items.append(node)
        elif frame.key is None:
            if not isinstance(node, yaml.ScalarNode) or node.tag not in (STR_TAG, _MERGE_TAG):
                shown = getattr(node, "value", "?")
                raise self.fail(
                    node.start_mark,
                    f"mapping key {shown!r} is not a string: quote it (JSON keys are strings)",
                )
            frame.key = node
        else:
            frame.items.append((frame.key, node))
            frame.key = None

    def scalar(self, event: Any) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.parser.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag in _AS_TEXT_TAGS:
            tag = STR_TAG
        self.check_tag(tag, event.start_mark)
        if tag == "tag:yaml.org,2002:float" and _NOT_FINITE.match(event.value):
            raise self.fail(event.start_mark, f"{event.value} has no JSON form")
        return yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)

    def collection(self, event: Any, mapping: bool) -> Any:
        cls = yaml.MappingNode if mapping else yaml.SequenceNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.parser.resolve(cls, None, event.implicit)
        self.check_tag(tag, event.start_mark)
        return cls(tag, [], event.start_mark, None, flow_style=event.flow_style)

    def check_tag(self, tag: str, mark: Any) -> None:
        if tag in _PLAIN_TAGS or tag == _MERGE_TAG or tag in self.tags:
            return
        if tag in _REFUSED_TAGS:
            raise self.fail(mark, _REFUSED_TAGS[tag])
        raise self.fail(mark, f"the tag {tag} is not accepted here")


def _builder_class(tags: dict[str, TagConstructor]) -> Any:
    class Builder(yaml.constructor.SafeConstructor):
        pass

    for tag, constructor in tags.items():
        Builder.add_constructor(tag, constructor)
    return Builder


_PARSER: Any = None


def _parser_class() -> Any:
    """libyaml's parser when PyYAML has it (fast), else PyYAML's own; both resolve tags."""
    global _PARSER  # noqa: PLW0603 - chosen once per process
    if _PARSER is None:
        base = getattr(getattr(yaml, "cyaml", None), "CParser", None)
        if base is not None:

            class Parser(base, yaml.resolver.Resolver):  # type: ignore[misc,valid-type]
                def __init__(self, stream: str) -> None:
                    base.__init__(self, stream)
                    yaml.resolver.Resolver.__init__(self)

        else:

            class Parser(  # type: ignore[no-redef]
                yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.resolver.Resolver
            ):
                def __init__(self, stream: str) -> None:
                    yaml.reader.Reader.__init__(self, stream)
                    yaml.scanner.Scanner.__init__(self)
                    yaml.parser.Parser.__init__(self)
                    yaml.resolver.Resolver.__init__(self)

        _PARSER = Parser
    return _PARSER


def safe_load_all(
    text: Any,
    where: str = "YAML",
    limits: YamlLimits = CONFIG_LIMITS,
    tags: Optional[dict[str, TagConstructor]] = None,
) -> list[Any]:
    """Every document of ``text`` (``None`` for empty ones), within ``limits``.

    ``where`` starts every error message (a field or a file name). ``tags`` maps extra local
    tags (e.g. Ansible's ``!vault``) to constructors ``(builder, node) -> value``.
    Raises YamlLimitError for anything outside the limits and for text that is not YAML.
    """
    require_yaml()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlLimitError(f"{where}: not UTF-8 text ({exc.reason})") from exc
    if not isinstance(text, str):
        raise YamlLimitError(f"{where}: expected YAML text, got {type(text).__name__}")
    if len(text) > limits.max_bytes:
        raise YamlLimitError(
            f"{where}: {len(text)} characters, more than the {limits.max_bytes} accepted"
        )
    tags = dict(tags or {})
    parser = _parser_class()(text)
    try:
        nodes = _Composer(parser, where, limits, tags).documents()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise YamlLimitError(f"{where}: not valid YAML{at}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise YamlLimitError(f"{where}: not valid YAML: {exc}") from exc
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose is not None:
            dispose()
    builder_class = _builder_class(tags)
    documents = []
    for node in nodes:
        try:
            documents.append(builder_class().construct_document(node) if node else None)
        except yaml.MarkedYAMLError as exc:
            raise YamlLimitError(f"{_where(where, exc.problem_mark)}: {exc.problem}") from exc
    return documents


def safe_load(
    text: Any,
    where: str = "YAML",
    limits: YamlLimits = CONFIG_LIMITS,
    tags: Optional[dict[str, TagConstructor]] = None,
) -> Any:
    """The one document of ``text`` (None when empty); more than one is an error."""
    documents = safe_load_all(text, where, limits, tags)
    if len(documents) > 1:
        raise YamlLimitError(f"{where}: holds {len(documents)} documents, expected one")
    return documents[0] if documents else None


# -- writing ------------------------------------------------------------------------------------

# Plain scalars that PyYAML reads as strings but a Go YAML 1.1 reader does not.
_GO_ONLY = (
    ("tag:yaml.org,2002:bool", r"^(?:y|Y|n|N)$", list("yYnN")),
    ("tag:yaml.org,2002:int", r"^[-+]?0o[0-7_]+$", list("-+0")),
    (
        "tag:yaml.org,2002:float",
        r"^[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)$",
        list("-+0123456789"),
    ),
)

_DUMPER: Any = None


def _dumper_class() -> Any:
    global _DUMPER  # noqa: PLW0603 - built once per process
    if _DUMPER is None:
        base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

        class Dumper(base):  # type: ignore[misc,valid-type]
            """Quotes what YAML 1.1 readers (Go's among them) would take for a non-string."""

        for tag, pattern, first in _GO_ONLY:
            Dumper.add_implicit_resolver(tag, re.compile(pattern), first)
        _DUMPER = Dumper
    return _DUMPER


def safe_dump(data: Any, **options: Any) -> str:
    """YAML text of ``data`` that Python and Go readers both read back unchanged."""
    require_yaml()
    options.setdefault("sort_keys", False)
    options.setdefault("default_flow_style", False)
    return yaml.dump(data, Dumper=_dumper_class(), **options)


def safe_dump_all(documents: list[Any], **options: Any) -> str:
    """``safe_dump`` for several documents (``---`` between them)."""
    require_yaml()
    options.setdefault("sort_keys", False)
    options.setdefault("default_flow_style", False)
    return yaml.dump_all(documents, Dumper=_dumper_class(), **options)
