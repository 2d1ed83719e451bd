"""`tiercel explain RULE`: why a rule matched an event, or why not, node by node.

The rule's expanded condition tree (`CompiledRule.node`: macros and lists substituted, exceptions
appended as `and not (...)`) is prepared once through a node-type -> handler table, each check
compiled with the same compiler and field extractors the ruleset uses; then each event asked about
is evaluated node by node (every node, no short cut, so each part shows its value):

    event 5 openat (proc.name=cat pid=27): matched
      true   and
      true     evt.type = openat                    evt.type=openat
      true     proc.name = cat                      proc.name=cat
      true     not                                  exception 'allowed_dirs'
      false      fd.directory in (/etc)             fd.directory=/tmp

Events come from a capture (evaluated as they are replayed, while the process state is as the
rule saw it) or as field maps (tiercel.rules.fieldmap).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiercel.rules.files.collector import Collector
from tiercel.rules.files.diagnostics import LoadResult
from tiercel.rules.files.reader import read_items
from tiercel.rules.files.rule_exceptions import condition_with_exceptions
from tiercel.rules.language import syntax
from tiercel.rules.language.compiler import FieldResolver, compile_condition
from tiercel.rules.matching.ruleset import CompiledRule

MAX_LIST_SHOWN = 6   # a list longer than this shows its first items and how many more


@dataclass(frozen=True)
class Step:
    """One node evaluated: its text, its value, the field values it read, its parts."""

    text: str
    value: bool
    fields: dict[str, Any] = field(default_factory=dict)
    children: tuple[Step, ...] = ()
    exception: str | None = None     # this `not (...)` is the rule's exception of that name

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"node": self.text, "value": self.value}
        if self.fields:
            doc["fields"] = {k: _plain(v) for k, v in self.fields.items()}
        if self.exception is not None:
            doc["exception"] = self.exception
        if self.children:
            doc["children"] = [c.as_json() for c in self.children]
        return doc


@dataclass(frozen=True)
class Explanation:
    rule: str
    num: int
    evttype: str
    who: str                  # the process, for the heading
    candidate: bool           # the event's type is one the rule is indexed under
    tree: Step

    @property
    def matched(self) -> bool:
        return self.candidate and self.tree.value

    @property
    def removed_by(self) -> list[str]:
        """The exceptions that matched (each makes its `not` false)."""
        return [c.exception for c in self.tree.children if c.exception is not None and not c.value]

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "event": {"num": self.num, "type": self.evttype, "process": self.who},
                "candidate": self.candidate, "matched": self.matched, "removed_by": self.removed_by,
                "condition": self.tree.as_json()}

    def render_text(self) -> str:
        if not self.candidate:
            verdict = "not a candidate: the rule is not indexed under this event type"
        elif self.matched:
            verdict = "matched"
        elif self.removed_by:
            verdict = "not matched: removed by exception " + ", ".join(f"'{n}'" for n in self.removed_by)
        else:
            verdict = "not matched"
        lines = [f"event {self.num} {self.evttype} ({self.who}): {verdict}"]
        _render(self.tree, 1, lines)
        return "\n".join(lines)


def _render(step: Step, depth: int, lines: list[str]) -> None:
    read = "  ".join(f"{k}={_shown(v)}" for k, v in step.fields.items())
    note = f"exception '{step.exception}'" if step.exception else read
    head = f"  {str(step.value).lower():<6} {'  ' * (depth - 1)}{step.text}"
    lines.append(f"{head:<60} {note}".rstrip() if note else head)
    for c in step.children:
        _render(c, depth + 1, lines)


# -- preparing the tree once per rule -------------------------------------------------------------

Event = Any                                   # an Event, or a field map (tiercel.rules.fieldmap)
Prepared = Callable[[Event], Step]


class Explainer:
    """A rule's condition prepared for evaluation, node by node, against events."""

    def __init__(self, rule: CompiledRule, fields: FieldResolver,
                 exceptions: Sequence[tuple[int, str]] = ()) -> None:
        assert rule.node is not None, "a loaded rule keeps its condition tree"
        self.rule = rule
        self.fields = fields
        self.exceptions = sorted(exceptions)
        self.root = self.prepare(rule.node, top=True)

    def prepare(self, node: syntax.Node, top: bool = False) -> Prepared:
        return HANDLERS.get(type(node), _prepare_check)(self, node, top)

    def exception_at(self, node: syntax.Node) -> str | None:
        pos = node.child.pos if isinstance(node, syntax.Not) else -1
        name = None
        for offset, ex in self.exceptions:
            if pos >= offset:
                name = ex
        return name

    def explain(self, event: Event, num: int, evttype: str, who: str) -> Explanation:
        types = self.rule.evttypes
        return Explanation(self.rule.name, num, evttype, who, types is None or evttype in types,
                           self.root(event))


def _prepare_bool(x: Explainer, node: syntax.Node, top: bool) -> Prepared:
    assert isinstance(node, syntax.And | syntax.Or)
    parts = [_child(x, c, top and isinstance(node, syntax.And)) for c in _flatten(node)]
    word, combine = ("and", all) if isinstance(node, syntax.And) else ("or", any)

    def step(e: Event) -> Step:
        children = tuple(p(e) for p in parts)
        return Step(word, combine(c.value for c in children), children=children)
    return step


def _child(x: Explainer, node: syntax.Node, top_and: bool) -> Prepared:
    prepared = x.prepare(node)
    exception = x.exception_at(node) if top_and else None
    if exception is None:
        return prepared

    def step(e: Event) -> Step:
        s = prepared(e)
        return Step(s.text, s.value, s.fields, s.children, exception)
    return step


def _flatten(node: syntax.And | syntax.Or) -> list[syntax.Node]:
    out: list[syntax.Node] = []
    for c in node.children:
        out.extend(_flatten(c) if type(c) is type(node) else [c])
    return out


def _prepare_not(x: Explainer, node: syntax.Node, top: bool) -> Prepared:
    assert isinstance(node, syntax.Not)
    inner = x.prepare(node.child)

    def step(e: Event) -> Step:
        s = inner(e)
        return Step("not", not s.value, children=(s,))
    return step


def _prepare_check(x: Explainer, node: syntax.Node, top: bool) -> Prepared:
    check = compile_condition(node, x.fields).check
    readers = [(_text(f), x.fields.resolve(f.name, f.arg).extract)
               for f in dict.fromkeys(n for n in syntax.walk(node) if isinstance(n, syntax.FieldRef))]
    text = _text(node)

    def step(e: Event) -> Step:
        return Step(text, bool(check(e)), {name: _read(get, e) for name, get in readers})
    return step


def _read(get: Callable[[Event], Any], e: Event) -> Any:
    try:
        return get(e)
    except Exception:  # an extractor that fails reads as unavailable, as in matching
        return None


HANDLERS: dict[type, Callable[[Explainer, syntax.Node, bool], Prepared]] = {
    syntax.And: _prepare_bool,
    syntax.Or: _prepare_bool,
    syntax.Not: _prepare_not,
    syntax.Compare: _prepare_check,
}


# -- the condition as text ------------------------------------------------------------------------

def _text(n: syntax.Node) -> str:
    if isinstance(n, syntax.FieldRef):
        return n.name if n.arg is None else f"{n.name}[{n.arg}]"
    if isinstance(n, syntax.Value):
        return repr(n.text) if n.quoted or not n.text or " " in n.text else n.text
    if isinstance(n, syntax.ListValue):
        items = [_text(i) for i in n.items[:MAX_LIST_SHOWN]]
        more = len(n.items) - MAX_LIST_SHOWN
        return "(" + ", ".join(items) + (f", ... {more} more" if more > 0 else "") + ")"
    if isinstance(n, syntax.Transformer):
        return f"{n.name}({', '.join(_text(a) for a in n.args)})" + (f"[{n.arg}]" if n.arg else "")
    if isinstance(n, syntax.ValExpr):
        return f"val({_text(n.field)})"
    if isinstance(n, syntax.Compare):
        right = "" if n.right is None else " " + _text(n.right)
        mod = f" {n.modifier}" if n.modifier else ""
        return f"{_text(n.left)} {n.op}{mod}{right}"
    if isinstance(n, syntax.Identifier):
        return n.name
    return type(n).__name__.lower()


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, list | tuple | set | frozenset):
        return [_plain(i) for i in v]
    if isinstance(v, dict):
        return {str(k): _plain(i) for k, i in v.items()}
    if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network
                  | ipaddress.IPv6Network):
        return str(v)
    return str(v)


def _shown(v: Any) -> str:
    return "<NA>" if v is None else str(_plain(v))


# -- the rule's exceptions ------------------------------------------------------------------------

def exception_offsets(sources: Iterable[tuple[str, str]], rule: str) -> list[tuple[int, str]]:
    """Where each of the rule's exceptions starts in its condition text (as the loader builds it)."""
    col = Collector(LoadResult())
    for name, text in sources:
        col.collect(read_items(name, text, col.result))
    info = col.rules.get(rule)
    if info is None or not info.exceptions:
        return []
    try:
        cond = condition_with_exceptions(info, lambda _name: True)
    except Exception:  # the loader reported it already; explain without exception names
        return []
    out: list[tuple[int, str]] = []
    for offset, node, span in cond.pieces:
        found = [ex.name for ex in info.exceptions if span is not None and ex.span is span]
        if node is None and found:
            out.append((offset, found[0]))
    return out
