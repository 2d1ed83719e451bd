"""The path, comm and needle tests of kfilter.derive's slots, read from the atoms' constants.

An fd.name (or a call's path argument) atom gives the exact names, prefixes and suffixes it can hold
for (=, in, startswith, endswith, glob prefix, pmatch), or else the needles, pairs of bytes one of
which a judged path must contain; a proc.name atom gives the comms it can hold for. Anything else is
left untested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tiercel.kfilter.judge import replace
from tiercel.probe.filtertables import COMM_LEN, MAX_NEEDLES, NEEDLE_LEN, PATH_MAX_K, PathSet, Slot
from tiercel.rules.language import syntax as ast

T = TypeVar("T")


def narrow_names(slot: Slot, kind: str, atoms: list[ast.Node]) -> Slot:
    """`slot` further restricted by the `or` of these atoms, all on one kind of test: the comm or the path."""
    s = slot
    if kind == "comm":
        comms = _union([_comm_set(a) for a in atoms])
        if comms is not None:
            return replace(s, comms=comms if s.comms is None else s.comms & comms)
    elif kind == "path":
        paths = _union_paths([_path_set(a) for a in atoms])
        if paths is not None:
            if s.paths is None or _size(paths) < _size(s.paths):
                return replace(s, paths=paths)
            return s
        needles = _union([_needles(a) for a in atoms])
        if needles is not None and (s.needles is None or len(needles) < len(s.needles)):
            return replace(s, needles=needles)
    return s


def directory_prefix(node: ast.Node) -> ast.Node:
    """An fd.directory atom as the fd.name check it implies, where one is plain: `startswith D` or
    `contains C` (the directory is the start of the name)."""
    if isinstance(node, ast.Compare) and node.op in ("startswith", "contains"):
        return ast.Compare(ast.FieldRef("fd.name"), node.op, node.right)
    return ast.Identifier("unjudged")      # converts to "no path test"


def fit_needles(slots: list[Slot]) -> list[Slot]:
    """The probe searches a path for at most MAX_NEEDLES strings per syscall: slots asking for more
    lose their needle test, those with the most needles first (fewer tests only let more through)."""
    order = sorted(range(len(slots)), key=lambda i: len(slots[i].needles or ()))
    kept: set[bytes] = set()
    out = list(slots)
    for i in order:
        want = out[i].needles
        if want is None:
            continue
        if len(kept | want) <= MAX_NEEDLES:
            kept |= want
        else:
            out[i] = replace(out[i], needles=None)
    return out


def _size(p: PathSet) -> int:
    return len(p.exact) + 4 * (len(p.prefix) + len(p.suffix))


def _union(sets: list[frozenset[bytes] | None]) -> frozenset[bytes] | None:
    out: frozenset[bytes] = frozenset()
    for s in sets:
        if s is None:
            return None
        out |= s
    return out


def _union_paths(sets: list[PathSet | None]) -> PathSet | None:
    out = PathSet()
    for s in sets:
        if s is None:
            return None
        out = out.union(s)
    return out


def values(right: ast.Node | None) -> list[str] | None:
    if isinstance(right, ast.Value):
        return [right.text]
    if isinstance(right, ast.ListValue) and all(isinstance(i, ast.Value) for i in right.items):
        return [i.text for i in right.items if isinstance(i, ast.Value)]
    return None


def _over_atoms(node: ast.Node, leaf: Callable[[ast.Compare], T | None],
                union: Callable[[list[T | None]], T | None], size: Callable[[T], int]) -> T | None:
    """What an atom allows (the values, paths, ... it can hold for), read from its comparisons: an
    `or` allows what any of its parts does, an `and` what its narrowest part does; None: anything."""
    if isinstance(node, ast.Or):
        return union([_over_atoms(c, leaf, union, size) for c in node.children])
    if isinstance(node, ast.And):
        found = [s for s in (_over_atoms(c, leaf, union, size) for c in node.children) if s is not None]
        return min(found, key=size) if found else None
    return leaf(node) if isinstance(node, ast.Compare) else None


def _comm_set(node: ast.Node) -> frozenset[bytes] | None:
    """The comms (15 bytes) for which a proc.name atom can hold, if it names them all."""
    return _over_atoms(node, _comm_leaf, _union, len)


def _comm_leaf(node: ast.Compare) -> frozenset[bytes] | None:
    if node.op in ("=", "==", "in"):
        vals = values(node.right)
        if vals is None or any("\\" in v for v in vals):
            return None
        return frozenset(v.encode()[:COMM_LEN] for v in vals)
    return None


def _path_set(node: ast.Node) -> PathSet | None:
    """The exact names, prefixes and suffixes an fd.name atom can hold for, if it says them all."""
    return _over_atoms(node, _path_leaf, _union_paths, _size)


def _path_leaf(node: ast.Compare) -> PathSet | None:
    vals = values(node.right)
    if vals is None:
        return None
    raw = [v.encode() for v in vals]
    short = [v for v in raw if len(v) < PATH_MAX_K - 1]   # longer ones are never judged in the kernel
    if node.op in ("=", "==", "in"):
        return PathSet(exact=frozenset(short))
    if node.op == "startswith":
        return PathSet(prefix=frozenset(short))
    if node.op == "endswith":
        return PathSet(suffix=frozenset(short))
    if node.op == "pmatch":
        return PathSet(prefix=frozenset(short))
    if node.op == "glob" and len(raw) == 1:
        head = raw[0]
        for i, ch in enumerate(head):
            if ch in b"*?[\\":
                head = head[:i]
                break
        return PathSet(prefix=frozenset({head[:PATH_MAX_K]})) if head.startswith(b"/") else None
    return None


def _needles(node: ast.Node) -> frozenset[bytes] | None:
    """Pairs of bytes (needles), one of which a path the probe judges must contain for this fd.name
    atom to hold; None if the atom says none. A string with `//` or `/.` is in no judged path (they
    are normal), so it adds nothing: an empty set means no judged path holds."""
    return _over_atoms(node, _needle_leaf, _union, len)


def _needle_leaf(node: ast.Compare) -> frozenset[bytes] | None:
    vals = values(node.right)
    if vals is None:
        return None
    if node.op in ("=", "==", "in", "startswith", "endswith", "contains", "pmatch"):
        runs = [[v.encode()] for v in vals]
    elif node.op == "glob" and len(vals) == 1:
        literal = _glob_runs(vals[0].encode())
        if literal is None:
            return None
        runs = [literal]
    else:
        return None
    out: set[bytes] = set()
    for parts in runs:                      # each value: all its parts are in the path
        if any(b"//" in p or b"/." in p for p in parts):
            continue                        # never in a judged path
        pairs = [p[i:i + NEEDLE_LEN] for p in parts for i in range(len(p) - NEEDLE_LEN + 1)]
        if not pairs:
            return None                     # too short to say: the atom holds for too much
        out.add(max(pairs, key=_rarity))
    return frozenset(out)


def _rarity(pair: bytes) -> int:
    """Pairs of bytes rarer in paths make better needles: `/` is in every path, lower-case letters in
    most names; dots, digits, `_`, `-` and capitals less often. The first of the rarest is taken."""
    return sum(0 if b == 0x2F else 1 if 0x61 <= b <= 0x7A else 2 for b in pair)


def _glob_runs(pattern: bytes) -> list[bytes] | None:
    """The literal runs of a glob pattern (each is in every name it matches), None if it escapes."""
    runs, cur, i = [], b"", 0
    while i < len(pattern):
        ch = pattern[i:i + 1]
        if ch == b"\\":
            return None
        if ch in (b"*", b"?", b"["):
            runs.append(cur)
            cur = b""
            if ch == b"[":              # a class: `[!]x]` is one character, not `x]`
                j = i + 1 + (pattern[i + 1:i + 2] in (b"!", b"^"))
                end = pattern.find(b"]", j + 1)
                if end < 0:
                    return None
                i = end
        else:
            cur += ch
        i += 1
    runs.append(cur)
    return [r for r in runs if r]
