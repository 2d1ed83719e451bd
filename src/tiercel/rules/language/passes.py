"""Passes over the condition tree: small pure functions, run in the order of PASSES.

    expand_macros   an Identifier becomes the (expanded) tree of the macro it names
    expand_lists    a list name among the values of a check becomes the list's items
    event_types     the evt.type values a condition can match (None: any), for the rule index

`run_passes` runs them on a rule's condition: the rewrites in turn, then the event types of the
result. (A macro's own condition only has its macros expanded, when the macro is defined: lists
are expanded once the rule using it is.)

Expansion is bounded: a condition may expand to at most MAX_EXPANDED_NODES nodes, nested at most
MAX_EXPANDED_DEPTH deep, and a check may hold at most MAX_LIST_ITEMS values. Macros that each use the
previous one twice double at every level; the expansion shares the subtrees (each node is expanded
once, by identity) and counts their sizes as the tree they stand for, so such a file fails at once
with ConditionTooLarge naming the chain of macros, instead of taking minutes and gigabytes; and a
chain of hundreds of macros fails the same way instead of exhausting Python's recursion.

Falco expands lists by substituting text before parsing; expand_lists gives the same result on the
tree: a bare (unquoted) value equal to a list name is replaced by the list's items, an item that is
itself a quoted string ('"one string"' in YAML) is read as one, and an item with a blank in it stays
one string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from tiercel.common.errors import TiercelError
from tiercel.rules.language import syntax
from tiercel.rules.language.lexer import Scanner


class UndefinedMacro(TiercelError):
    def __init__(self, name: str, pos: int) -> None:
        super().__init__(f"Undefined macro '{name}' used in filter.")
        self.name = name
        self.pos = pos


class MacroCycle(TiercelError):
    def __init__(self, name: str, pos: int) -> None:
        super().__init__(f"macro '{name}' refers to itself")
        self.name = name
        self.pos = pos


class InvalidListUse(TiercelError):
    """A list of other than one item where a single value is expected (`proc.name = my_list`)."""

    def __init__(self, name: str, pos: int) -> None:
        super().__init__(f"list '{name}' used where a single value is expected")
        self.name = name
        self.pos = pos


class ConditionTooLarge(TiercelError):
    """A condition, once its macros or lists are expanded, is beyond the bounds (module docstring).
    `macro`: the macro, named in the condition itself, through which it grew too large."""

    def __init__(self, message: str, pos: int, macro: str | None = None) -> None:
        super().__init__(message)
        self.pos = pos
        self.macro = macro


MAX_EXPANDED_NODES = 20_000    # the upstream rules expand to 1,300 at most
MAX_EXPANDED_DEPTH = 100       # they nest 8 deep at most; the compiler recurses
MAX_LIST_ITEMS = 100_000


# -- macros -------------------------------------------------------------------------------------

def expand_macros(node: syntax.Node, macros: Mapping[str, syntax.Node]) -> syntax.Node:
    """Replace every macro reference by the macro's condition, itself expanded.

    Raises UndefinedMacro, MacroCycle, or ConditionTooLarge (at the outermost macro of the chain)."""
    return _MacroExpansion(macros).expand(node, (), 1)


def macro_chain(names: list[str]) -> str:
    """`macro 'a' -> macro 'b' -> ...`, the middle left out of a long chain."""
    if len(names) > 6:
        names = [*names[:3], f"... ({len(names) - 5} more)", *names[-2:]]
    return " -> ".join(n if n.startswith("...") else f"macro '{n}'" for n in names)


class _MacroExpansion:
    """One expansion: results by input node identity, and each result's size and height as a tree."""

    def __init__(self, macros: Mapping[str, syntax.Node]) -> None:
        self.macros = macros
        self.done: dict[int, tuple[syntax.Node, syntax.Node]] = {}  # id(input) -> (input, result)
        self.size: dict[int, tuple[syntax.Node, int, int]] = {}     # id(result) -> (result, nodes, height)

    def expand(self, n: syntax.Node, active: tuple[tuple[str, int], ...], depth: int) -> syntax.Node:
        hit = self.done.get(id(n))
        if hit is not None:
            out = hit[1]
        elif isinstance(n, syntax.Identifier):
            if n.name not in self.macros:
                raise UndefinedMacro(n.name, n.pos)
            if any(name == n.name for name, _ in active):
                raise MacroCycle(n.name, n.pos)
            out = self.expand(self.macros[n.name], (*active, (n.name, n.pos)), depth)
        else:
            if depth > MAX_EXPANDED_DEPTH:
                self._too_large(f"nested more than {MAX_EXPANDED_DEPTH} levels deep", n, active)
            out = _map_bool(n, lambda c: self.expand(c, active, depth + 1))
            self._measure(out, n, active)
        self.done[id(n)] = (n, out)
        height = self.size[id(out)][2]
        if depth + height - 1 > MAX_EXPANDED_DEPTH:
            self._too_large(f"nested more than {MAX_EXPANDED_DEPTH} levels deep", n, active)
        return out

    def _measure(self, out: syntax.Node, n: syntax.Node, active: tuple[tuple[str, int], ...]) -> None:
        kids = [self.size[id(c)] for c in syntax.children(out) if id(c) in self.size] \
            if isinstance(out, syntax.And | syntax.Or | syntax.Not) else []
        nodes = 1 + sum(k[1] for k in kids)
        height = 1 + max((k[2] for k in kids), default=0)
        self.size[id(out)] = (out, nodes, height)
        if nodes > MAX_EXPANDED_NODES:
            self._too_large(f"expands to more than {MAX_EXPANDED_NODES} nodes", n, active)

    @staticmethod
    def _too_large(what: str, n: syntax.Node, active: tuple[tuple[str, int], ...]) -> None:
        if not active:   # grown by the macros this node names: the first of them leads the chain
            refs = [m.name for m in syntax.walk(n) if isinstance(m, syntax.Identifier)]
            raise ConditionTooLarge(f"condition {what}", n.pos, refs[0] if refs else None)
        raise ConditionTooLarge(f"condition {what}", active[0][1], active[0][0])


def _map_bool(n: syntax.Node, fn: Callable[[syntax.Node], syntax.Node]) -> syntax.Node:
    """Apply `fn` to the children of a boolean node; checks are returned as they are."""
    if isinstance(n, syntax.And | syntax.Or):
        return replace(n, children=tuple(fn(c) for c in n.children))
    if isinstance(n, syntax.Not):
        return replace(n, child=fn(n.child))
    return n


# -- lists --------------------------------------------------------------------------------------

_LIST_OPS = frozenset(syntax.LIST_OPS)


def expand_lists(node: syntax.Node, lists: Mapping[str, list[str]]) -> syntax.Node:
    """Replace list names among check values by the lists' items (lists may name lists)."""
    if not lists:
        return node

    def expand(n: syntax.Node) -> syntax.Node:
        if isinstance(n, syntax.Compare):
            return _expand_compare(n, lists)
        return _map_bool(n, expand)

    return expand(node)


def _expand_compare(n: syntax.Compare, lists: Mapping[str, list[str]]) -> syntax.Compare:
    right = n.right
    if isinstance(right, syntax.ListValue):
        items: list[syntax.Node] = []
        for item in right.items:
            if isinstance(item, syntax.Value) and not item.quoted and item.text in lists:
                items.extend(_item_values(item.text, lists, item.pos))
            else:
                items.append(item)
            if len(items) > MAX_LIST_ITEMS:
                raise ConditionTooLarge(f"more than {MAX_LIST_ITEMS} values in one check", right.pos)
        return replace(n, right=replace(right, items=tuple(items)))
    if isinstance(right, syntax.Value) and not right.quoted and right.text in lists:
        values = _item_values(right.text, lists, right.pos)
        if n.op in _LIST_OPS or n.modifier is not None:
            return replace(n, right=syntax.ListValue(tuple(values), pos=right.pos))
        if len(values) != 1:
            raise InvalidListUse(right.text, right.pos)
        return replace(n, right=values[0])
    return n


def _item_values(name: str, lists: Mapping[str, list[str]], pos: int) -> list[syntax.Node]:
    try:
        texts = flatten_list(name, lists)
    except ConditionTooLarge as e:
        raise ConditionTooLarge(str(e), pos) from None
    return [_item_value(text, pos) for text in texts]


def flatten_list(name: str, lists: Mapping[str, list[str]], _seen: frozenset[str] = frozenset()
                 ) -> list[str]:
    """The items of list `name`, with items naming other lists replaced by their items; raises
    ConditionTooLarge (position 0: the caller's) beyond MAX_LIST_ITEMS."""
    out: list[str] = []
    seen = _seen | {name}
    for item in lists[name]:
        item = str(item)
        if item in lists and item not in seen:
            out.extend(flatten_list(item, lists, seen))
        else:
            out.append(item)
        if len(out) > MAX_LIST_ITEMS:
            raise ConditionTooLarge(f"list '{name}' expands to more than {MAX_LIST_ITEMS} items", 0)
    return out


def _item_value(text: str, pos: int) -> syntax.Value:
    """A list item as the parser would read it after Falco's text substitution."""
    if text[:1] in ("'", '"'):
        sc = Scanner(text)
        value = sc.quoted()
        if value is not None and sc.at_end():
            return syntax.Value(value, quoted=True, pos=pos)
    return syntax.Value(text, quoted=" " in text, pos=pos)


# -- event types --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EventTypeSet:
    """A set of event names, or its complement (`cofinite`: every event but `names`)."""

    names: frozenset[str]
    cofinite: bool = False

    def complement(self) -> EventTypeSet:
        return EventTypeSet(self.names, not self.cofinite)

    def intersect(self, other: EventTypeSet) -> EventTypeSet:
        a, b = self, other
        if not a.cofinite and not b.cofinite:
            return EventTypeSet(a.names & b.names)
        if a.cofinite and b.cofinite:
            return EventTypeSet(a.names | b.names, True)
        fin, cof = (a, b) if not a.cofinite else (b, a)
        return EventTypeSet(fin.names - cof.names)

    def union(self, other: EventTypeSet) -> EventTypeSet:
        return self.complement().intersect(other.complement()).complement()


ALL_EVENTS = EventTypeSet(frozenset(), cofinite=True)
_EVTTYPE_OPS = frozenset(("=", "==", "!=", "in"))


def event_type_set(node: syntax.Node) -> EventTypeSet:
    """Falco's derivation (libsinsp ppm_event_codes): negations pushed down to the checks.

    `and` intersects and `or` unites (swapped under a negation); an `evt.type` check with =, ==,
    != or `in` gives its names (complemented under a negation, and again for !=); `evt.type exists`
    gives every event (none under a negation); any other check gives every event either way.
    """
    return _types(node, False)


def _types(n: syntax.Node, negated: bool) -> EventTypeSet:
    if isinstance(n, syntax.And | syntax.Or):
        unite = isinstance(n, syntax.Or) != negated
        result = EventTypeSet(frozenset()) if unite else ALL_EVENTS
        for c in n.children:
            t = _types(c, negated)
            result = result.union(t) if unite else result.intersect(t)
        return result
    if isinstance(n, syntax.Not):
        return _types(n.child, not negated)
    if isinstance(n, syntax.Compare) and _is_evt_type(n.left):
        if n.op == "exists":
            return ALL_EVENTS.complement() if negated else ALL_EVENTS
        names = _names(n.right) if n.op in _EVTTYPE_OPS else None
        if names is None:
            return ALL_EVENTS
        t = EventTypeSet(names)
        if negated:
            t = t.complement()
        return t.complement() if n.op == "!=" else t
    return ALL_EVENTS


def _is_evt_type(left: syntax.Node) -> bool:
    return isinstance(left, syntax.FieldRef) and left.name == "evt.type" and left.arg is None


def _names(right: syntax.Node | None) -> frozenset[str] | None:
    if isinstance(right, syntax.Value):
        return frozenset((right.text,))
    if isinstance(right, syntax.ListValue) and all(isinstance(i, syntax.Value) for i in right.items):
        return frozenset(i.text for i in right.items if isinstance(i, syntax.Value))
    return None


def event_types(node: syntax.Node, universe: Iterable[str] | None = None) -> frozenset[str] | None:
    """The evt.type names a condition can match; None when it can match any event.

    A complement ("every event but these") counts as any, as Falco reports it, unless `universe`
    (every known event name) is given: then it is spelled out, and names outside it are dropped.
    """
    t = event_type_set(node)
    if universe is None:
        return None if t.cofinite else t.names
    known = frozenset(universe)
    names = known - t.names if t.cofinite else known & t.names
    return None if names == known else names


def event_types_legacy(node: syntax.Node) -> frozenset[str] | None:
    """The derivation of Falco 0.31 and earlier (its Lua compiler), for comparing with old suites.

    Every evt.type value named anywhere counts, whatever joins it; but once a `not` or a `!=` has
    been seen (reading left to right), a later evt.type check makes the rule match any event.
    """
    names: set[str] = set()
    seen_not = found = after_not = False
    for n in syntax.walk(node):
        if isinstance(n, syntax.Not):
            seen_not = True
        elif isinstance(n, syntax.Compare):
            seen_not = seen_not or n.op == "!="
            if _is_evt_type(n.left):
                found = True
                after_not = after_not or seen_not
                names |= _names(n.right) or frozenset()
    return frozenset(names) if found and not after_not else None


# -- running them -------------------------------------------------------------------------------

PASSES = (expand_macros, expand_lists, event_types)


@dataclass(frozen=True, slots=True)
class Expanded:
    """A rule's condition after the passes: the tree to compile, and its event types (None: any)."""

    node: syntax.Node
    evttypes: frozenset[str] | None


def run_passes(node: syntax.Node, macros: Mapping[str, syntax.Node], lists: Mapping[str, list[str]]
               ) -> Expanded:
    """Every pass of PASSES, in that order; raises UndefinedMacro, MacroCycle or InvalidListUse."""
    macros_pass, lists_pass, types_pass = PASSES
    node = lists_pass(macros_pass(node, macros), lists)
    return Expanded(node, types_pass(node))
