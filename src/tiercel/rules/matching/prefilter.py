"""Keyed plans: each rule gets a cheap necessary condition, evaluated once per distinct field value.

On a real host almost every event matches no rule, and a rule is usually ruled out by one selective
check: `fd.name in (sensitive_file_names) or fd.directory in (...)`, `proc.name in (shell_binaries)`.
For each rule of an event type, the plan picks *keys* (implied_checks): clauses of atoms, each atom a
sub-condition that reads one field only, such that the rule cannot match unless every clause has a
true atom. An atom's truth is a function of its field's value, so it is memoised per value: per event
the plan extracts each key field once, looks its value up (one dict lookup gives the truth of every
atom on that field, as bits), and the resulting mask selects, through one more memo, the rules to
evaluate in full; usually none. Key fields are chosen to serve many rules, so the upstream rules need
two fields per open (fd.name, proc.name):

    openat: fd.name -> bits | proc.name -> bits  ->  mask -> (rules to evaluate)

The result equals evaluating every rule: a key is implied by its rule (checks are pure and never
raise, so `a and b` implies `a`), and the rules it lets through are evaluated whole (their checks
reordered, cheap and decisive first, which purity also allows). Rules without a selective key are
evaluated on every event. Memos are bounded: a full memo is cleared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tiercel.events.model import Event
from tiercel.rules.language import syntax
from tiercel.rules.language.compiler import Compiled
from tiercel.rules.language.transformers import Operand
from tiercel.rules.matching.implied_checks import Atom, FieldKey, estimate, necessary, reorder

if TYPE_CHECKING:
    from tiercel.rules.matching.ruleset import CompiledRule

Predicate = Callable[[Event], bool]
Compile = Callable[[syntax.Node], Compiled]
Plan = Callable[[Event, list[Any]], None]

# Distinct values kept per field before the memo starts over. File paths are most of them (fd.name,
# fd.directory, the path of unlinkat, mkdirat, renameat), ~180 B each with their slot: a full memo
# holds ~0.7 MB. At 16384 the soak's unique paths (containers, generator) took over 10 minutes to
# fill the memos and the agent's RSS grew ~1 MB a minute meanwhile (issue 16).
MEMO_LIMIT = 4096
SELECTIVE = 0.9             # a key costs one dict lookup: worth it unless it nearly always holds


def build_keyed_plan(items: Sequence[tuple[CompiledRule, list[syntax.Node]]], compiled: Compile) -> Plan:
    """The plan for one event type, from each candidate rule and its specialised conjuncts."""
    operands: dict[FieldKey, Operand | None] = {}

    def usable(key: FieldKey) -> bool:
        """A field can key a memo when its values are hashable (its check's compiled field says)."""
        if key not in operands:
            field = compiled(syntax.Compare(syntax.FieldRef(key[0], key[1]), "exists")).field
            operands[key] = field if field is not None and field.hashable else None
        return operands[key] is not None

    # Each conjunct with a selective key is a clause: the rule is a candidate when every clause
    # has a true atom. The fields the plan extracts per event are chosen to cover every rule with
    # few fields (fd.name serves most open rules); a rule's other clauses are kept when they read
    # only fields extracted anyway.
    per_rule = [(rule, conj, _clauses(conj, usable)) for rule, conj in items]
    fields = _cover([clauses for _, _, clauses in per_rule])
    atom_bits: dict[Atom, int] = {}
    rules: list[tuple[CompiledRule, Predicate | None, tuple[int, ...]]] = []
    for rule, conj, clauses in per_rule:
        masks = []
        for atoms in clauses:
            if _fields(atoms) <= fields:
                mask = 0
                for atom in atoms:
                    mask |= atom_bits.setdefault(atom, 1 << len(atom_bits))
                masks.append(mask)
        whole = None if not conj else reorder(conj[0] if len(conj) == 1 else syntax.And(tuple(conj)))
        pred = None if whole is None else compiled(whole).check
        rules.append((rule, pred, tuple(masks)))
    groups: dict[FieldKey, list[tuple[int, Predicate]]] = {}
    for (fkey, node), bit in atom_bits.items():
        groups.setdefault(fkey, []).append((bit, compiled(node).check))
    getters = {k: op.get for k, op in operands.items() if op is not None}
    return _keyed(tuple((getters[k], {}, tuple(a)) for k, a in groups.items()), tuple(rules))


def _fields(atoms: list[Atom]) -> set[FieldKey]:
    return {k for k, _ in atoms}


GOOD = 0.3      # a clause this selective on fields extracted anyway is key enough


def _cover(per_rule: list[list[list[Atom]]]) -> set[FieldKey]:
    """Fields such that every rule with a clause has one on them, few of them (greedy set cover).

    A field serving many rules with a good clause is taken first; a rule with no good clause
    brings the fields of its best clause.
    """
    chosen: set[FieldKey] = set()
    pending = [clauses for clauses in per_rule if clauses]
    while pending:
        pending = [cl for cl in pending if not any(_fields(c) <= chosen and _score(c) < GOOD for c in cl)]
        counts: Counter[frozenset[FieldKey]] = Counter()
        for cl in pending:          # how many pending rules each field set would serve
            counts.update({frozenset(_fields(c)) for c in cl if _score(c) < GOOD})
        if counts:
            chosen |= max(counts.items(), key=lambda item: (item[1], -len(item[0])))[0]
            continue
        for cl in pending:
            if not any(_fields(c) <= chosen for c in cl):
                chosen |= _fields(cl[0])
        break
    return chosen


def _score(atoms: list[Atom]) -> float:
    return sum(estimate(n) for _, n in atoms)


def _clauses(conj: list[syntax.Node], usable: Callable[[FieldKey], bool]) -> list[list[Atom]]:
    """The selective keys of a rule's conjuncts, most selective first."""
    found = [atoms for atoms in (necessary(c, usable) for c in conj)
             if atoms is not None and sum(estimate(n) for _, n in atoms) < SELECTIVE]
    return sorted(found, key=lambda atoms: sum(estimate(n) for _, n in atoms))


Group = tuple[Callable[[Event], Any], dict[Any, int], tuple[tuple[int, Predicate], ...]]
Keyed = tuple["CompiledRule", Predicate | None, tuple[int, ...]]


def _keyed(groups: tuple[Group, ...], rules: tuple[Keyed, ...]) -> Plan:
    by_mask: dict[int, tuple[tuple[CompiledRule, Predicate | None], ...]] = {}

    def candidates(mask: int) -> tuple[tuple[CompiledRule, Predicate | None], ...]:
        found = tuple((r, p) for r, p, clauses in rules if all(c & mask for c in clauses))
        if len(by_mask) >= MEMO_LIMIT:
            by_mask.clear()
        by_mask[mask] = found
        return found

    def fill(memo: dict[Any, int], value: Any, atoms: tuple[tuple[int, Predicate], ...], ev: Event) -> int:
        # The atoms read only this field, so their truth on this event is their truth for `value`.
        bits = _evaluate(atoms, ev)
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[value] = bits
        return bits

    def run(ev: Event, out: list[Any]) -> None:
        mask = 0
        for get, memo, atoms in groups:
            v = get(ev)
            try:
                bits = memo.get(v, -1)
            except TypeError:       # an unhashable value (a list where a scalar was declared)
                bits = _evaluate(atoms, ev)
            mask |= bits if bits >= 0 else fill(memo, v, atoms, ev)
        cands = by_mask.get(mask)
        if cands is None:
            cands = candidates(mask)
        for rule, pred in cands:
            if pred is None or pred(ev):
                out.append(rule)
    return run


def _evaluate(atoms: tuple[tuple[int, Predicate], ...], ev: Event) -> int:
    bits = 0
    for bit, pred in atoms:
        if pred(ev):
            bits |= bit
    return bits
