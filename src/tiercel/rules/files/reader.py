"""Read a rules file into located YAML nodes: every key and value knows its `file:line:col`.

PyYAML's composed nodes carry `start_mark`; we keep them in a small tree of `YNode`s so the collector
can check shapes and types and report a position for each problem. Scalars keep the text exactly as
written (Falco decodes every scalar as a string: `items: [yes]` is the string "yes", not True).

A file is a sequence of YAML documents, each a sequence of mappings (lists, macros, rules...).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import yaml

from tiercel.common.safeyaml import check_node_count, check_tree
from tiercel.rules.files.diagnostics import (
    LOAD_ERR_YAML_PARSE,
    LOAD_ERR_YAML_VALIDATE,
    LoadResult,
    SourceSpan,
)

try:  # the C composer is ~10x faster on the upstream files and carries the same marks
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_TAG_PREFIX = "tag:yaml.org,2002:"

# PyYAML phrases the same problems a little differently from libyaml (which Falco's messages use).
_LIBYAML_WORDING = {"mapping values are not allowed here": "mapping values are not allowed in this context"}


class Source:
    """One file's text, with fast index -> (line, col) conversion."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self._line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def span_at(self, index: int) -> SourceSpan:
        line = bisect.bisect_right(self._line_starts, index) - 1
        return SourceSpan(self.name, line + 1, index - self._line_starts[line] + 1)


@dataclass(eq=False, slots=True)
class YNode:
    """A YAML node with its position. `kind` is "scalar", "seq" or "map"."""

    kind: str
    tag: str                       # resolved YAML type: str, int, bool, null, float, seq, map
    source: Source
    start: int                     # character offsets of the node in the file
    end: int
    text: str = ""                 # scalars: the value as written (after YAML unquoting/folding)
    items: list[YNode] = field(default_factory=list)       # seq
    entries: dict[str, YNode] = field(default_factory=dict)  # map: key text -> value
    key_nodes: dict[str, YNode] = field(default_factory=dict)  # map: key text -> key node

    @property
    def span(self) -> SourceSpan:
        return self.source.span_at(self.start)

    @property
    def is_null(self) -> bool:
        return self.kind == "scalar" and self.tag == "null"

    def get(self, key: str) -> YNode | None:
        return self.entries.get(key)

    def key_span(self, key: str) -> SourceSpan:
        k = self.key_nodes.get(key)
        return k.span if k is not None else self.span

    def type_name(self) -> str:
        """The node's type the way Falco names it in messages ("string", "sequence", ...)."""
        if self.kind == "seq":
            return "sequence"
        if self.kind == "map":
            return "mapping"
        return {"str": "string", "int": "number", "float": "number"}.get(self.tag, self.tag)

    def span_of_offset(self, offset: int) -> SourceSpan:
        """Where character `offset` of this scalar's value is in the file.

        Values of folded, quoted or multi-line scalars do not map 1:1 onto the raw text, so each
        non-blank character of the value is matched, in order, with the next equal raw character.
        """
        raw = self.source.text[self.start:self.end]
        j = 0
        if raw[:1] in ('"', "'"):
            j = 1
        elif raw[:1] in ("|", ">"):
            j = raw.find("\n") + 1 or len(raw)
        found = j - 1                     # raw index of the last matched character
        exact = False
        for c in self.text[:offset + 1]:
            exact = False
            if c.isspace():
                continue
            k = raw.find(c, j)
            if k < 0:
                break
            found, j, exact = k, k + 1, True
        index = found if exact else found + 1
        return self.source.span_at(self.start + max(0, min(index, len(raw))))


def _convert(node: yaml.Node, source: Source) -> YNode:
    start, end = node.start_mark.index, node.end_mark.index
    if isinstance(node, yaml.ScalarNode):
        tag = node.tag.removeprefix(_TAG_PREFIX)
        return YNode("scalar", tag, source, start, end, text=node.value)
    if isinstance(node, yaml.SequenceNode):
        return YNode("seq", "seq", source, start, end, items=[_convert(n, source) for n in node.value])
    assert isinstance(node, yaml.MappingNode)
    out = YNode("map", "map", source, start, end)
    for k, v in node.value:
        key = _convert(k, source)
        name = key.text if key.kind == "scalar" else str(k.value)
        out.entries[name] = _convert(v, source)
        out.key_nodes[name] = key
    return out


def parse_documents(source: Source, result: LoadResult) -> list[YNode] | None:
    """All documents of the file as YNodes, or None (with an error recorded) on a YAML syntax error."""
    try:
        check_node_count(source.text, source.name, _Loader)  # before composing: bounded while read
        docs = list(yaml.compose_all(source.text, Loader=_Loader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        span = SourceSpan(source.name, mark.line + 1, mark.column + 1) if mark else None
        result.error(LOAD_ERR_YAML_PARSE, _LIBYAML_WORDING.get(problem, problem), span)
        return None
    except yaml.YAMLError as e:
        result.error(LOAD_ERR_YAML_PARSE, str(e).splitlines()[0], SourceSpan(source.name, 1, 1))
        return None
    return [_convert(d, source) for d in docs if d is not None and _safe(d, source, result)]


def _safe(doc: yaml.Node, source: Source, result: LoadResult) -> bool:
    """Record the document's YAML problems (safeyaml.check_tree: alias bombs, nesting, duplicate
    keys; tags are Falco's business: text whatever they say); False when it must not be walked."""
    unsafe, problems = check_tree(doc, tags=False)
    for mark, message in [unsafe] if unsafe is not None else problems:
        code = LOAD_ERR_YAML_PARSE if unsafe is not None else LOAD_ERR_YAML_VALIDATE
        result.error(code, message, SourceSpan(source.name, mark.line + 1, mark.column + 1))
    return unsafe is None


def read_items(name: str, text: str, result: LoadResult) -> list[YNode]:
    """The top-level items (mappings) of every document, in file order; shape errors are recorded."""
    source = Source(name, text)
    result.sources[name] = text
    docs = parse_documents(source, result)
    if docs is None:
        return []
    items: list[YNode] = []
    for doc in docs:
        if doc.is_null:
            continue
        if doc.kind == "scalar":
            result.error(LOAD_ERR_YAML_VALIDATE, "Rules content is not yaml", doc.span)
        elif doc.kind == "map":
            result.error(LOAD_ERR_YAML_VALIDATE, "Rules content is not yaml array of objects", doc.span)
        else:
            items.extend(_document_items(doc, result))
    return items


def _document_items(doc: YNode, result: LoadResult) -> list[YNode]:
    items = []
    for item in doc.items:
        if item.is_null:
            continue
        if item.kind != "map":
            result.error(LOAD_ERR_YAML_VALIDATE, f"Unexpected element of type {item.type_name()}. "
                         "Each element should be a yaml associative array.", item.span)
            continue
        items.append(item)
    return items
