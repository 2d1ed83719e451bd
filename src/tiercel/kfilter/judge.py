"""Evaluating atoms on sample events: the return-value, open-flags, bits and value-set tests of
kfilter.derive's slots.

Truth of an atom on the return value or the open flags is found by evaluating it over the whole
domain that matters (every errno; every access mode with every open flag bit the field renders),
so it is exact. Likewise a bits argument's `contains` atoms (zero, every bit, every pair and a spread
of other values) and an enumerated argument's atoms (every value it renders by name, and sentinels
beyond). A check that cannot run on a sample event is taken as possibly true.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable
from itertools import combinations
from typing import Any

from tiercel.events.flags import PARAM_TABLES
from tiercel.events.model import Event, Fd
from tiercel.probe.filtertables import ACC_ALL, BITS_WIDTH, OPEN_FAMILY, Slot
from tiercel.rules.language import syntax as ast

Predicate = Callable[[Event], bool]
Compile = Callable[[ast.Node], Any]     # condition -> its compiled record (.check)

# Open flag bits (x86_64) whose presence changes what flag fields read (events/flags.py).
OPEN_BITS = (0o100, 0o200, 0o1000, 0o2000, 0o4000, 0o10000, 0o40000, 0o100000, 0o200000, 0o2000000,
             0o4000000, 0o20000000)


def narrow_ret(slot: Slot, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on the return value."""
    ok, fail = False, False
    for a in atoms:
        o, f = memo(("ret", a, evttype), functools.partial(_ret_truth, a, evttype, compile_))
        ok, fail = ok or o, fail or f
    return replace(slot, ret_ok=slot.ret_ok and ok, ret_fail=slot.ret_fail and fail)


def narrow_flags(slot: Slot, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on an open's flags."""
    as_type = _flags_alike(evttype)
    acc_ok, bits_any = memo(("flags", tuple(atoms), as_type), lambda: _flag_test(
        or_predicate([check(compile_, a) for a in atoms]), as_type))
    if slot.acc_ok == ACC_ALL:
        return replace(slot, acc_ok=acc_ok, bits_any=bits_any)
    return slot


def narrow_bits(slot: Slot, param: str, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on a bits argument: when they hold
    exactly for the values with one of some bits set, the probe tests those bits."""
    leaves = [leaf for a in atoms for leaf in _or_leaves(a)]
    if slot.acc_ok != ACC_ALL or not all(isinstance(a, ast.Compare) and a.op == "contains" for a in leaves):
        return slot                 # `contains NAME` holds for the values with NAME's bit: others may not
    bits = memo(("bits", tuple(atoms), evttype, param), lambda: _bits_test(
        or_predicate([check(compile_, a) for a in atoms]), evttype, param))
    return slot if bits is None else replace(slot, acc_ok=0, bits_any=bits)


def narrow_values(slot: Slot, param: str, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on an enumerated argument: the values
    they hold for, when no value outside the enumeration can make them hold."""
    values = memo(("values", tuple(atoms), evttype, param), lambda: _value_set(
        or_predicate([check(compile_, a) for a in atoms]), evttype, param))
    if values is None or (slot.values is not None and len(slot.values) <= len(values)):
        return slot
    return replace(slot, values=values)


def check(compile_: Compile, node: ast.Node) -> Predicate:
    """The compiled check of a condition (the compiler returns a record holding it)."""
    compiled: Any = compile_(node)
    pred: Predicate = getattr(compiled, "check", compiled)
    return pred


def or_predicate(preds: list[Predicate]) -> Predicate:
    return lambda ev: any(p(ev) for p in preds)


def probe_event(evttype: str, res: int = 0, flags: int = 0, args: dict[str, int] | None = None) -> Event:
    return Event(num=1, ts=0, type=evttype, dir="<", tid=1, pid=1, res=res,
                 args={"fd": res, "res": res, "flags": flags, "mode": 0, **(args or {})},
                 fd=Fd(num=res, typechar="f", openflags=flags))


def safe(pred: Predicate, ev: Event) -> bool:
    try:
        return bool(pred(ev))
    except Exception:     # a check that cannot run here is taken as possibly true
        return True


_MEMO: dict[tuple[Any, ...], Any] = {}


def memo(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """Truth tables by atom and event type: the same few atoms (evt.is_open_write = true) recur in
    many rules and syscalls, and evaluating one over its domain takes milliseconds. The atoms' meaning
    depends only on the field table, so the memo holds across loads; it is bounded."""
    if key not in _MEMO:
        if len(_MEMO) > 4096:
            _MEMO.clear()
        _MEMO[key] = make()
    result = _MEMO[key]
    return result


def replace(s: Slot, **kw: Any) -> Slot:
    return dataclasses.replace(s, **kw)


ERRNOS = range(-4095, 0)
OK_VALUES = (*range(0, 4097), 1 << 20, (1 << 31) - 1)


def _ret_truth(atom: ast.Node, evttype: str, compile_: Compile) -> tuple[bool, bool]:
    """Whether the atom can hold for a successful call, and for a failed one (every -errno)."""
    pred = check(compile_, atom)
    fail = any(safe(pred, probe_event(evttype, res=r)) for r in ERRNOS)
    ok = any(safe(pred, probe_event(evttype, res=r)) for r in OK_VALUES)
    return ok, fail


def _flag_values() -> list[int]:
    out: list[int] = []
    for n in range(len(OPEN_BITS) + 1):
        for combo in combinations(OPEN_BITS, n):
            bits = sum(combo)
            out.extend(acc | bits for acc in range(4))
    return out


_FLAG_VALUES = _flag_values()


def _flags_alike(evttype: str) -> str:
    """The event type whose flag truth table `evttype` shares: open, openat and openat2 render their
    flags with one table and are all open events (evt.is_open_*), so a flag atom holds for the same
    values in each, and the 16,384 values are tried once for the three (a third of start-up's
    derive with upstream's rules)."""
    return "openat" if PARAM_TABLES.get((evttype, "flags")) == PARAM_TABLES.get(("openat", "flags")) \
        and evttype in OPEN_FAMILY else evttype


def _flag_test(pred: Predicate, evttype: str) -> tuple[int, int]:
    """(acc_ok, bits_any) such that every flags value the predicate holds for passes the test."""
    true_values = [v for v in _FLAG_VALUES if safe(pred, probe_event(evttype, flags=v))]
    if not true_values:
        return 0, 0
    acc_ok = 0
    common = ~0
    for v in true_values:
        acc_ok |= 1 << (v & 3)
        common &= v & ~3
    if common and bin(acc_ok).count("1") > 1:
        return 0, common & -common          # one bit every true value has
    return acc_ok, 0


# Every value an enumerated argument is rendered by name for is below 256 or a ptrace request
# (0x42xx); what lies outside renders as a number, as the sentinels do.
ENUM_DOMAIN = (*range(256), *range(0x4200, 0x4300))
ENUM_SENTINELS = (1 << 16, 0x7FFFFFFF, 0xFFFFFFFF, (1 << 63) - 1)
MAX_VALUES = 16             # values per slot (entries of the probe's kf_enums)


def _value_set(pred: Predicate, evttype: str, param: str) -> frozenset[int] | None:
    def holds(v: int) -> bool:
        return safe(pred, probe_event(evttype, args={param: v}))
    if any(holds(v) for v in ENUM_SENTINELS):
        return None
    values = frozenset(v for v in ENUM_DOMAIN if holds(v))
    return values if len(values) <= MAX_VALUES else None


def _or_leaves(node: ast.Node) -> list[ast.Node]:
    if isinstance(node, ast.Or):
        return [leaf for c in node.children for leaf in _or_leaves(c)]
    return [node]


def _bits_test(pred: Predicate, evttype: str, param: str) -> int | None:
    """The bits B such that the predicate (`contains NAME` atoms: each holds when NAME's bit is set)
    holds for a value exactly when it has one of B, checked on zero, every bit, every pair of bits and
    a fixed spread of other values; None if there are no such bits."""
    def holds(v: int) -> bool:
        return safe(pred, probe_event(evttype, args={param: v}))
    if holds(0):
        return None
    singles = [1 << b for b in range(BITS_WIDTH)]
    bits = sum(b for b in singles if holds(b))
    rng = random.Random(20261201)
    tries = [a | b for a, b in combinations(singles, 2)] + [rng.getrandbits(BITS_WIDTH) for _ in range(512)]
    if not bits or any(holds(v) != bool(v & bits) for v in tries):
        return None
    return bits
