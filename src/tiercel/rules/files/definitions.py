"""The collected rule-file items (lists, macros, rules, exceptions) and the typed decoding of YAML keys.

Decoding follows Falco's reader: every property is a YAML scalar read as a string, booleans accept
YAML's spellings, `tags`/`items` are sequences of scalars. A problem raises `ItemError`, which the
collector records with its position before moving on to the next item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tiercel.common.priority import NAMES, Priority, parse_priority
from tiercel.rules.files.diagnostics import (
    LOAD_APPEND_NO_VALUES,
    LOAD_ERR_VALIDATE,
    LOAD_ERR_YAML_VALIDATE,
    LOAD_EXCEPTION_NAME_NOT_UNIQUE,
    LOAD_UNKNOWN_KEY,
    LoadResult,
    SourceSpan,
)
from tiercel.rules.files.reader import YNode

ENGINE_VERSION = (0, 57, 0)   # the Falco engine version whose rule files we load unchanged

LIST_KEYS = frozenset({"list", "items", "append", "override"})
MACRO_KEYS = frozenset({"macro", "condition", "append", "override"})
RULE_KEYS = frozenset({"rule", "desc", "condition", "output", "priority", "source", "tags", "enabled",
                       "exceptions", "append", "override", "warn_evttypes", "skip-if-unknown-filter",
                       "capture", "capture_duration"})

_TRUE = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
_FALSE = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}


class ItemError(Exception):
    """A problem with one item; the collector records it and continues with the next item."""

    def __init__(self, message: str, span: SourceSpan | None, context: tuple[str, ...] = (),
                 code: str = LOAD_ERR_VALIDATE) -> None:
        super().__init__(message)
        self.message, self.span, self.context, self.code = message, span, context, code


@dataclass
class CondText:
    """Condition text assembled from one or more YAML scalars, mapping each offset back to the file.

    `pieces` holds (offset in text, scalar node or None, span used when the node is None); appends and
    exceptions add pieces, so an error at any offset points into the file that wrote that part.
    """

    text: str
    pieces: list[tuple[int, YNode | None, SourceSpan | None]] = field(default_factory=list)

    @classmethod
    def from_node(cls, node: YNode) -> CondText:
        return cls(node.text if node.kind == "scalar" else "", [(0, node, None)])

    @classmethod
    def synthetic(cls, text: str, span: SourceSpan | None) -> CondText:
        return cls(text, [(0, None, span)])

    def join(self, other: CondText, sep: str = " ") -> CondText:
        shift = len(self.text) + len(sep)
        moved = [(off + shift, node, span) for off, node, span in other.pieces]
        return CondText(self.text + sep + other.text, [*self.pieces, *moved])

    def wrap(self, before: str, after: str) -> CondText:
        moved = [(off + len(before), node, span) for off, node, span in self.pieces]
        return CondText(before + self.text + after, moved)

    def span_at(self, offset: int) -> SourceSpan | None:
        """The file position of character `offset` of the assembled text."""
        chosen = self.pieces[0] if self.pieces else (0, None, None)
        for piece in self.pieces:
            if piece[0] <= offset:
                chosen = piece
        start, node, span = chosen
        if node is None:
            return span
        return node.span_of_offset(max(0, offset - start))


@dataclass
class ListInfo:
    name: str
    items: list[str]
    span: SourceSpan
    node: YNode
    index: int = 0
    visibility: int = 0


@dataclass
class MacroInfo:
    name: str
    cond: CondText
    span: SourceSpan
    node: YNode
    index: int = 0
    visibility: int = 0


@dataclass
class ExceptionInfo:
    """One `exceptions:` entry. `fields`/`comps` are a string (single-field form) or a list."""

    name: str
    fields: str | list[str] | None
    comps: str | list[str] | None
    values: list[str | list[str | list[str]]]
    span: SourceSpan
    value_spans: list[SourceSpan] = field(default_factory=list)


@dataclass
class RuleInfo:
    name: str
    cond: CondText
    output: str
    output_node: YNode | None
    desc: str
    priority: Priority
    source: str
    tags: tuple[str, ...]
    span: SourceSpan
    node: YNode
    enabled: bool = True
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    unknown_source: bool = False
    index: int = 0
    visibility: int = 0


# -- decoding -------------------------------------------------------------------------------------

def decode_str(item: YNode, key: str, ctx: tuple[str, ...], required: str = "") -> str:
    """A scalar property as a string; "" when absent and not required."""
    node = item.get(key)
    if node is None:
        if required:
            raise ItemError(required, item.span, ctx, LOAD_ERR_YAML_VALIDATE)
        return ""
    if node.is_null:
        raise ItemError(f"Mapping for key '{key}' is empty", node.span, ctx, LOAD_ERR_YAML_VALIDATE)
    if node.kind != "scalar":
        raise ItemError(f"Value of '{key}' must be a string, not a {node.type_name()}", node.span,
                        ctx, LOAD_ERR_YAML_VALIDATE)
    return node.text


def decode_bool(item: YNode, key: str, ctx: tuple[str, ...], default: bool | None) -> bool | None:
    node = item.get(key)
    if node is None:
        return default
    text = node.text if node.kind == "scalar" else ""
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    shown = text if node.kind == "scalar" else f"a {node.type_name()}"
    raise ItemError(f"Value of '{key}' must be a boolean (true or false), not '{shown}'", node.span,
                    ctx, LOAD_ERR_YAML_VALIDATE)


def decode_seq(item: YNode, key: str, ctx: tuple[str, ...], required: str = "") -> list[YNode]:
    """A sequence of scalars (list `items`, rule `tags`)."""
    node = item.get(key)
    if node is None:
        if required:
            raise ItemError(required, item.span, ctx, LOAD_ERR_YAML_VALIDATE)
        return []
    if node.is_null and not required:
        return []
    if node.kind != "seq":
        raise ItemError(f"Value of '{key}' must be a sequence, not a {node.type_name()}", node.span,
                        ctx, LOAD_ERR_YAML_VALIDATE)
    for v in node.items:
        if v.kind != "scalar":
            raise ItemError(f"Entries of '{key}' must be strings, not a {v.type_name()}", v.span, ctx,
                            LOAD_ERR_YAML_VALIDATE)
    return node.items


def decode_tags(item: YNode, ctx: tuple[str, ...]) -> tuple[str, ...]:
    """Tags are a set in Falco: unique and sorted (that is also their order in the JSON alert)."""
    return tuple(sorted({t.text for t in decode_seq(item, "tags", ctx)}))


def decode_priority(node: YNode, ctx: tuple[str, ...]) -> Priority:
    text = node.text if node.kind == "scalar" else ""
    level = parse_priority(text)
    if level is None:
        raise ItemError(f"Invalid priority '{text}': expected one of {', '.join(NAMES)}",
                        node.span, (*ctx, "priority"))
    return level


def parse_engine_version(text: str) -> tuple[int, int, int] | None:
    """An integer N means 0.N.0 (Falco's implicit form); otherwise a semver string."""
    text = text.strip()
    if text.isdigit():
        return (0, int(text), 0)
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def warn_unknown_keys(item: YNode, allowed: frozenset[str], ctx: tuple[str, ...],
                      result: LoadResult) -> None:
    for key in item.entries:
        if key not in allowed:
            result.warning(LOAD_UNKNOWN_KEY, f"Unknown key '{key}' is ignored", item.key_span(key), ctx)


def read_overrides(item: YNode, appendable: tuple[str, ...], replaceable: tuple[str, ...],
                   ctx: tuple[str, ...]) -> dict[str, str]:
    """The `override:` mapping as {key: "append" | "replace"}, checked against what each key allows."""
    node = item.get("override")
    if node is None:
        return {}
    if node.kind != "map":
        raise ItemError("Value of 'override' must be a mapping", node.span, ctx, LOAD_ERR_YAML_VALIDATE)
    out = {}
    for key, op_node in node.entries.items():
        op = op_node.text if op_node.kind == "scalar" else ""
        kspan = node.key_span(key)
        if op == "append" and key not in appendable:
            raise ItemError(f"Key '{key}' cannot be appended to, use 'replace' instead", kspan, ctx,
                            LOAD_ERR_YAML_VALIDATE)
        if op == "replace" and key not in replaceable:
            raise ItemError(f"Key '{key}' cannot be replaced", kspan, ctx, LOAD_ERR_YAML_VALIDATE)
        if op not in ("append", "replace"):
            allowed = " ".join(x for x, ok in (("append", key in appendable),
                                                ("replace", key in replaceable)) if ok)
            raise ItemError(f"Invalid override operation for key '{key}': '{op}'. Allowed values are: "
                            f"{allowed}", op_node.span, ctx, LOAD_ERR_YAML_VALIDATE)
        out[key] = op
    return out


def apply_override(rule: RuleInfo, item: YNode, key: str, op: str, ctx: tuple[str, ...],
                   result: LoadResult) -> None:
    """One `override:` entry applied to an existing rule (exception appends are merged by the caller)."""
    if key == "condition":
        cond = CondText.from_node(item.entries[key])
        decode_str(item, key, ctx)
        rule.cond = rule.cond.join(cond) if op == "append" else cond
    elif key in ("output", "desc"):
        value = decode_str(item, key, ctx)
        old = rule.output if key == "output" else rule.desc
        new = f"{old} {value}" if op == "append" and value else value
        if key == "output":
            rule.output, rule.output_node = new.strip(), item.entries[key]
        else:
            rule.desc = new
    elif key == "tags":
        tags = decode_tags(item, ctx)
        rule.tags = tuple(sorted(set(rule.tags) | set(tags))) if op == "append" else tags
    elif key == "exceptions" and op == "replace":
        rule.exceptions = read_exceptions(item, ctx, True, result)
    elif key == "priority":
        rule.priority = decode_priority(item.entries[key], ctx)
    elif key in ("enabled", "warn_evttypes", "skip-if-unknown-filter"):
        setattr(rule, key.replace("-", "_"), decode_bool(item, key, ctx, None))


# -- exceptions -----------------------------------------------------------------------------------

def read_exceptions(item: YNode, ctx: tuple[str, ...], append: bool,
                    result: LoadResult) -> list[ExceptionInfo]:
    node = item.get("exceptions")
    if node is None or node.is_null:
        return []
    if node.kind != "seq":
        raise ItemError("Rule exceptions must be a sequence", node.span, ctx, LOAD_ERR_YAML_VALIDATE)
    out: list[ExceptionInfo] = []
    for ex in node.items:
        if ex.kind != "map":
            raise ItemError("Rule exception must be a mapping", ex.span, ctx, LOAD_ERR_YAML_VALIDATE)
        name_node = ex.get("name")
        if name_node is None or name_node.is_null or name_node.kind != "scalar" or not name_node.text:
            raise ItemError("Rule exception item must have name property", ex.span, ctx,
                            LOAD_ERR_YAML_VALIDATE)
        info = _read_exception(ex, name_node.text, (*ctx, f"exception '{name_node.text}'"))
        if any(o.name == info.name for o in out):
            result.warning(LOAD_EXCEPTION_NAME_NOT_UNIQUE, "Multiple exceptions defined with the same "
                           f"name '{info.name}'", ex.span, ctx)
        if append and "values" not in ex.entries:
            result.warning(LOAD_APPEND_NO_VALUES, "Overriding/appending exception with no values",
                           ex.span, ctx)
        out.append(info)
    return out


def _read_exception(ex: YNode, name: str, ctx: tuple[str, ...]) -> ExceptionInfo:
    fields = _entry(ex.get("fields"), ctx, "fields")
    comps = _entry(ex.get("comps"), ctx, "comps")
    values_node = ex.get("values")
    values: list[str | list[str | list[str]]] = []
    spans: list[SourceSpan] = []
    if values_node is not None and not values_node.is_null:
        if values_node.kind != "seq":
            raise ItemError("Rule exception values must be a sequence", values_node.span, ctx,
                            LOAD_ERR_YAML_VALIDATE)
        for v in values_node.items:
            values.append(_value(v, ctx))
            spans.append(v.span)
    return ExceptionInfo(name, fields, comps, values, ex.span, spans)


def _entry(node: YNode | None, ctx: tuple[str, ...], key: str) -> str | list[str] | None:
    if node is None or node.is_null:
        return None
    if node.kind == "scalar":
        return node.text
    if node.kind == "seq" and all(n.kind == "scalar" for n in node.items):
        return [n.text for n in node.items]
    raise ItemError(f"Rule exception {key} must be a string or a sequence of strings", node.span, ctx,
                    LOAD_ERR_YAML_VALIDATE)


def _value(node: YNode, ctx: tuple[str, ...]) -> str | list[str | list[str]]:
    if node.kind == "scalar":
        return node.text
    if node.kind == "seq":
        return [_value(n, ctx) for n in node.items]  # type: ignore[misc]
    raise ItemError("Rule exception values must be strings or sequences", node.span, ctx,
                    LOAD_ERR_YAML_VALIDATE)
