"""Keyed plans: each rule gets a cheap necessary condition, evaluated once per distinct field value.

On a real host almost every event matches no rule, and a rule is usually ruled out by one selective
check: `fd.name in (sensitive_file_names) or fd.directory in (...)`, `proc.name in (shell_binaries)`.
For each rule of an event type, the plan picks such a *key*: a set of atoms, each a sub-condition
that reads one field only, such that the rule cannot match unless one atom holds. An atom's truth
is then a function of that field's value, so it is memoised per value: per event the plan extracts
each key field once, looks its value up (one dict lookup gives the truth of every atom on that
field, as bits), and only the rules whose key holds are evaluated, in full, in definition order.

    openat: fd.name -> {bits}   fd.directory -> {bits}   proc.name -> {bits} ...
            mask -> (rules to evaluate)                  usually none

The result equals evaluating every rule: a key is implied by its rule (checks are pure and never
raise, so `a and b` implies `a`), and the rules whose key holds are evaluated unchanged. Rules
without a selective key are evaluated on every event. Memos are bounded: a full memo is cleared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tiercel.events.model import Event
from tiercel.rules import ast
from tiercel.rules.compiler import operand_of

if TYPE_CHECKING:
    from tiercel.rules.ruleset import CompiledRule

Predicate = Callable[[Event], bool]
Compile = Callable[[ast.Node], Predicate]
Plan = Callable[[Event, list[Any]], None]
FieldKey = tuple[str, str | None]
Atom = tuple[FieldKey, ast.Node]

MEMO_LIMIT = 16384          # distinct values kept per field before the memo starts over
SELECTIVE = 0.9             # a key costs one dict lookup: worth it unless it nearly always holds
# Fields whose value differs on (almost) every event: memoising them would only fill memory.
_PER_EVENT = frozenset({
    "evt.num", "evt.rawtime", "evt.rawtime.s", "evt.rawtime.ns", "evt.time", "evt.time.s",
    "evt.time.iso8601", "evt.datetime", "evt.datetime.s", "proc.duration", "proc.ppid.duration",
    "thread.tid", "proc.pid", "fd.cport", "fd.lport", "fd.uid", "fd.num", "evt.buffer", "evt.args",
    "evt.info", "proc.exe_ino.ctime_duration_proc_start",
})


def single_field(node: ast.Node) -> FieldKey | None:
    """The one plain field every check of `node` reads against constants, if there is one."""
    keys: set[FieldKey] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Compare):
            if not isinstance(n.left, ast.FieldRef) or n.modifier is not None:
                return None
            right = n.right
            if right is not None and not isinstance(right, ast.Value | ast.ListValue):
                return None
            if isinstance(right, ast.ListValue) and not all(isinstance(i, ast.Value) for i in right.items):
                return None
            keys.add((n.left.name, n.left.arg))
        elif not isinstance(n, ast.And | ast.Or | ast.Not | ast.FieldRef | ast.Value | ast.ListValue):
            return None
    if len(keys) != 1:
        return None
    key = keys.pop()
    return None if key[0] in _PER_EVENT else key


# Fields with few distinct values on a host: a check of one value is true of many events.
_COARSE = frozenset({
    "fd.typechar", "fd.type", "fd.l4proto", "fd.sockfamily", "fd.is_server", "fd.connected", "evt.dir",
    "evt.res", "evt.rawres", "evt.failed", "evt.category", "syscall.type", "evt.type", "evt.source",
    "container.id", "container.type", "container.privileged", "proc.tty", "user.uid", "user.name",
    "group.gid", "group.name", "user.loginuid", "user.loginname", "thread.ismain", "evt.is_async",
    "evt.is_io", "evt.is_io_read", "evt.is_io_write", "evt.is_wait", "evt.is_syslog",
})


def estimate(node: ast.Node) -> float:
    """A rough probability that `node` holds on a routine event (for choosing keys only)."""
    if isinstance(node, ast.Not):
        return 1.0 - estimate(node.child)
    if isinstance(node, ast.And):
        return min(estimate(c) for c in node.children)
    if isinstance(node, ast.Or) and _set_like(node):
        # `f in (a, b, c)` spelt out (fd.filename in (...) as fd.name endswith '/a' or ...): still
        # a short list of specific values, about as selective as one of them.
        return min(1.0, max(estimate(c) for c in node.children) + 0.005 * (len(node.children) - 1))
    if isinstance(node, ast.Or):
        miss = 1.0
        for c in node.children:
            miss *= 1.0 - estimate(c)
        return 1.0 - miss
    if isinstance(node, ast.Compare):
        if node.op in ("in", "intersects") and isinstance(node.right, ast.ListValue) and not node.right.items:
            return 0.0
        if node.op in ("=", "==", "in", "intersects"):
            right = node.right
            text = right.text if isinstance(right, ast.Value) else ""
            coarse = text.lower() in ("true", "false", "0", "1") or node.left.name in _COARSE  # type: ignore[union-attr]
            return 0.5 if coarse else 0.02
        if node.op in ("startswith", "endswith", "contains", "icontains", "glob", "iglob", "regex",
                       "pmatch", "bcontains", "bstartswith"):
            right = node.right
            text = right.text if isinstance(right, ast.Value) else ""
            return min(0.2, max(0.005, 0.3 / max(len(text), 1)))    # longer text, rarer match
        if node.op in ("!=", "exists"):
            return 0.95
        return 0.5
    return 1.0


def _set_like(node: ast.Or) -> bool:
    return single_field(node) is not None and all(
        isinstance(c, ast.Compare) and c.op in ("=", "==", "in", "startswith", "endswith")
        for c in node.children)


def necessary(node: ast.Node, usable: Callable[[FieldKey], bool]) -> list[Atom] | None:
    """Atoms on single fields such that `node` implies at least one of them; None if none found."""
    via_name = _via_fd_name(node)
    if via_name is not None:
        node = via_name
    key = single_field(node)
    if key is not None and usable(key):
        return [(key, node)]
    if isinstance(node, ast.Not):
        child = node.child
        if isinstance(child, ast.Not):
            return necessary(child.child, usable)
        if isinstance(child, ast.And | ast.Or):       # De Morgan: push the negation down
            flipped = tuple(ast.Not(c) for c in child.children)
            return necessary(ast.Or(flipped) if isinstance(child, ast.And) else ast.And(flipped), usable)
        return None
    if isinstance(node, ast.And):
        return best([necessary(c, usable) for c in node.children])
    if isinstance(node, ast.Or):
        out: list[Atom] = []
        for c in node.children:
            part = necessary(c, usable)
            if part is None:
                return None
            out.extend(part)
        return out
    return None


def _via_fd_name(node: ast.Node) -> ast.Node | None:
    """`fd.directory in (D...)` / `fd.filename in (F...)` as a check on fd.name that they imply.

    Both fields derive from fd.name (fields_fd): fd.directory is dirname(fd.name), or fd.name itself
    for a directory; fd.filename is basename(fd.name). So `fd.directory = D` implies `fd.name = D or
    fd.name startswith 'D/'` (not for D = '/', the directory of names without a slash), and
    `fd.filename = F` implies `fd.name = F or fd.name endswith '/F'`. Keys on fd.name alone save
    the plan two extractions per open.
    """
    if not isinstance(node, ast.Compare) or node.modifier is not None or node.op not in ("=", "==", "in"):
        return None
    left, right = node.left, node.right
    if not isinstance(left, ast.FieldRef) or left.arg is not None or left.name not in (
            "fd.directory", "fd.filename"):
        return None
    values = [right] if isinstance(right, ast.Value) else right.items if isinstance(
        right, ast.ListValue) else None
    if values is None or not all(isinstance(v, ast.Value) for v in values):
        return None
    texts = [v.text for v in values if isinstance(v, ast.Value)]
    name = ast.FieldRef("fd.name")
    if not texts:
        return node            # `in ()`: never true, whatever the field
    if left.name == "fd.directory":
        if "/" in texts:
            return None
        parts = [ast.Compare(name, "startswith", ast.Value(t + "/")) for t in texts]
    else:
        parts = [ast.Compare(name, "endswith", ast.Value("/" + t)) for t in texts]
    same = ast.Compare(name, "in", ast.ListValue(tuple(ast.Value(t) for t in texts)))
    return ast.Or((same, *parts), pos=node.pos)


def best(options: Sequence[list[Atom] | None]) -> list[Atom] | None:
    """The most selective of several candidate keys."""
    found = [o for o in options if o is not None]
    if not found:
        return None
    return min(found, key=lambda atoms: sum(estimate(n) for _, n in atoms))


def build_keyed_plan(items: Sequence[tuple[CompiledRule, list[ast.Node]]], compiled: Compile) -> Plan:
    """The plan for one event type, from each candidate rule and its specialised conjuncts."""
    operands: dict[FieldKey, Any] = {}

    def usable(key: FieldKey) -> bool:
        if key not in operands:
            op = operand_of(compiled(ast.Compare(ast.FieldRef(key[0], key[1]), "exists")))
            operands[key] = op if op is not None and op.hashable else None
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
        pred = None if not conj else compiled(reorder(conj[0] if len(conj) == 1 else ast.And(tuple(conj))))
        rules.append((rule, pred, tuple(masks)))
    groups: dict[FieldKey, list[tuple[int, Predicate]]] = {}
    for (fkey, node), bit in atom_bits.items():
        groups.setdefault(fkey, []).append((bit, compiled(node)))
    return _keyed(tuple((operands[k].get, {}, tuple(a)) for k, a in groups.items()), tuple(rules))


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
        counts = Counter(frozenset(_fields(c)) for cl in pending
                         for c in {frozenset(_fields(c)): c for c in cl if _score(c) < GOOD}.values())
        if counts:
            chosen |= max(counts, key=lambda fs: (counts[fs], -len(fs)))
            continue
        for cl in pending:
            if not any(_fields(c) <= chosen for c in cl):
                chosen |= _fields(cl[0])
        break
    return chosen


def _score(atoms: list[Atom]) -> float:
    return sum(estimate(n) for _, n in atoms)


def _clauses(conj: list[ast.Node], usable: Callable[[FieldKey], bool]) -> list[list[Atom]]:
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
        bits = 0
        for bit, pred in atoms:
            if pred(ev):
                bits |= bit
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[value] = bits
        return bits

    def run(ev: Event, out: list[Any]) -> None:
        mask = 0
        for get, memo, atoms in groups:
            v = get(ev)
            bits = memo.get(v, -1)
            mask |= bits if bits >= 0 else fill(memo, v, atoms, ev)
        cands = by_mask.get(mask)
        if cands is None:
            cands = candidates(mask)
        for rule, pred in cands:
            if pred is None or pred(ev):
                out.append(rule)
    return run


# -- evaluation order ---------------------------------------------------------------------------

# Fields that walk the process tree, join strings or build lists: dearer to extract than an attribute.
_DEAR = frozenset({
    "proc.cmdline", "proc.args", "proc.exeline", "proc.pcmdline", "proc.env", "proc.aname", "proc.aexe",
    "proc.aexepath", "proc.acmdline", "proc.apid", "proc.loginshellid", "fd.types", "evt.args", "evt.info",
    "fd.ip", "fd.net", "fd.port", "fd.proto", "fd.cnet", "fd.snet", "fd.lnet", "fd.rnet", "fd.rip",
    "fd.lip", "thread.cap_permitted", "thread.cap_effective", "thread.cap_inheritable", "proc.sname",
    "proc.vpgid.name",
})
_SLOW_OPS = frozenset({"regex", "glob", "iglob", "pmatch", "icontains"})


def cost(node: ast.Node) -> float:
    """A rough relative cost of evaluating `node` once (for ordering only)."""
    if isinstance(node, ast.Not):
        return cost(node.child)
    if isinstance(node, ast.And | ast.Or):
        return sum(cost(c) for c in node.children)
    if isinstance(node, ast.Compare):
        left = node.left
        dear = not isinstance(left, ast.FieldRef) or left.name in _DEAR or not isinstance(
            node.right, ast.Value | ast.ListValue | None)
        return (3.0 if dear else 1.0) * (2.0 if node.op in _SLOW_OPS else 1.0)
    return 1.0


def reorder(node: ast.Node) -> ast.Node:
    """The same condition with cheap, decisive checks first inside every `and` and `or`.

    Safe because checks are pure and never raise: `a and b` equals `b and a`. (An extractor that did
    raise would fail the whole plan, and the ruleset then evaluates each rule's own predicate.)
    """
    if isinstance(node, ast.Not):
        return ast.Not(reorder(node.child), pos=node.pos)
    if isinstance(node, ast.And | ast.Or):
        kids = [reorder(c) for c in node.children]
        if isinstance(node, ast.And):       # most likely false per unit of cost first
            kids.sort(key=lambda c: cost(c) / max(1.0 - estimate(c), 0.01))
        else:                               # most likely true per unit of cost first
            kids.sort(key=lambda c: cost(c) / max(estimate(c), 0.01))
        return type(node)(tuple(kids), pos=node.pos)
    return node
