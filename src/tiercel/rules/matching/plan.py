"""Per-event-type evaluation plans: the candidate rules' conditions, specialised to one event type.

For one event type T, the candidate rules' expanded conditions are first specialised to T: every
`evt.type` check becomes true or false and is folded away (a rule that cannot match T drops out).
Each remaining condition is a list of conjuncts, from which rules.matching.prefilter builds the keyed plan:
a few field values per event, each looked up once, decide which rules need evaluating at all.

Matching rules are appended in any order; the ruleset sorts them into definition order, so "first
match wins" keeps Falco's meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from tiercel.events.model import Event
from tiercel.rules.language import syntax
from tiercel.rules.language.compiler import Compiled
from tiercel.rules.matching.prefilter import build_keyed_plan

if TYPE_CHECKING:
    from tiercel.rules.matching.ruleset import CompiledRule

Compile = Callable[[syntax.Node], Compiled]
Plan = Callable[[Event, list[Any]], None]     # appends matching rules to the list


def specialise(node: syntax.Node, evttype: str,
               params: Collection[str] | None = None) -> syntax.Node | bool:
    """The condition as it reads for events of type `evttype`; True/False when it is decided.
    Given the type's parameter names, a comparison of an argument it does not have is False (the
    field has no value, and no operator holds on a missing value)."""
    if isinstance(node, syntax.Compare):
        if params is not None and _missing_arg(node, params):
            return False
        return _evttype_check(node, evttype)
    if isinstance(node, syntax.Not):
        child = specialise(node.child, evttype, params)
        return (not child) if isinstance(child, bool) else syntax.Not(child, pos=node.pos)
    if isinstance(node, syntax.And | syntax.Or):
        stop = isinstance(node, syntax.Or)         # the value that decides the whole node
        kept: list[syntax.Node] = []
        for c in node.children:
            v = specialise(c, evttype, params)
            if v is stop:
                return stop
            if isinstance(v, syntax.Node):
                kept.extend(v.children if isinstance(v, syntax.And | syntax.Or) and type(v) is type(node)
                            else [v])
        if not kept:
            return not stop
        return kept[0] if len(kept) == 1 else type(node)(tuple(kept), pos=node.pos)
    return node


def _missing_arg(node: syntax.Compare, params: Collection[str]) -> bool:
    left = node.left
    if not isinstance(left, syntax.FieldRef):
        return False
    if left.name.startswith("evt.arg.") and left.arg is None:
        return left.name[len("evt.arg."):] not in params
    if left.name == "evt.arg" and left.arg is not None and not left.arg.isdigit():
        return left.arg not in params
    return False


def _evttype_check(node: syntax.Compare, evttype: str) -> syntax.Node | bool:
    left = node.left
    if not isinstance(left, syntax.FieldRef) or left.arg is not None or node.modifier:
        return node
    right = node.right
    if left.name == "evt.num" and node.op in ("=", "==") and isinstance(right, syntax.Value) \
            and right.text == "0":
        return False            # Falco's `never_true` idiom: tiercel numbers events from 1
    if node.op in ("in", "intersects") and isinstance(right, syntax.ListValue) and not right.items:
        return False            # an empty list (a template list left for users to fill) holds nothing
    if left.name != "evt.type":
        return node
    if isinstance(right, syntax.Value) and node.op in ("=", "==", "!="):
        return (right.text == evttype) != (node.op == "!=")
    if node.op == "in" and isinstance(right, syntax.ListValue) and \
            all(isinstance(i, syntax.Value) for i in right.items):
        return any(i.text == evttype for i in right.items if isinstance(i, syntax.Value))
    return node


def conjuncts(node: syntax.Node | bool) -> list[syntax.Node]:
    if node is True:
        return []
    assert isinstance(node, syntax.Node)
    return list(node.children) if isinstance(node, syntax.And) else [node]


def build_plan(rules: Sequence[CompiledRule], evttype: str, compile_: Compile) -> Plan:
    """The plan for events of `evttype`, given the candidate rules in definition order."""
    items: list[tuple[CompiledRule, list[syntax.Node]]] = []
    for rule in rules:
        assert rule.node is not None
        spec = specialise(rule.node, evttype)
        if spec is not False:
            items.append((rule, conjuncts(spec)))
    cache: dict[syntax.Node, Compiled] = {}

    def compiled(node: syntax.Node) -> Compiled:
        if node not in cache:
            cache[node] = compile_(node)
        return cache[node]

    return build_keyed_plan(items, compiled)
