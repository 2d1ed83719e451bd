"""Comparison operators, built once per check into closures over pre-converted constants.

`value_matcher` gives a test on one extracted value; `event_check` wraps it with the field's getter
into the check's predicate, with the common shapes (`x = c`, `x in (...)`) specialised so that they
cost one call and one dict lookup. A missing value (None) makes every operator false but `exists`.

The work one check does on one event is bounded: every operator is linear in the value (`regex`
and `glob` run on RE2, `pmatch` looks at no more of a path than its longest prefix), and a string
or bytes value longer than MAX_VALUE is matched on its first MAX_VALUE characters (or bytes), as
if the kernel had cut it there (`=` and `in` against constants, one hash lookup, see it whole). A
capture holds at most that much in one parameter (its lengths are 16-bit); only values put together
from several (a command line, a path made absolute, a `concat`) or a crafted capture's large
events come longer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import re2

from tiercel.rules.language import literals
from tiercel.rules.language.globs import glob_pattern

Getter = Callable[[Any], Any]
Matcher = Callable[[Any], bool]
Predicate = Callable[[Any], bool]

MAX_VALUE = 65535


def clip(v: Any) -> Any:
    """`v`, cut to MAX_VALUE when it is a longer string or bytes (anything else as it is)."""
    t = type(v)
    return v[:MAX_VALUE] if (t is str or t is bytes) and len(v) > MAX_VALUE else v

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda v, c: v < c, "<=": lambda v, c: v <= c, ">": lambda v, c: v > c, ">=": lambda v, c: v >= c}


def eq_forms(const: Any, fam: str) -> frozenset[Any]:
    """The values an extractor may return that equal `const` (a str field may hand back an int)."""
    if fam == literals.IP and not isinstance(const, literals.IpNetwork):
        return literals.ip_forms(const)
    if fam == literals.STR and isinstance(const, str) and const.lstrip("+-").isdigit():
        return frozenset((const, int(const)))
    return frozenset((const,))


def value_matcher(op: str, const: Any, fam: str) -> Matcher:
    """A test of one present value against one constant (already converted by literals.convert)."""
    if op in ("=", "=="):
        return _equal(const, fam)
    if op == "!=":
        eq = _equal(const, fam)
        return lambda v: not eq(v)
    if op in _ORDER:
        order = _ORDER[op]
        return lambda v: order(v, const)
    if fam == literals.BYTES and op in ("contains", "startswith", "endswith", "bcontains", "bstartswith"):
        return _bytes_matcher(op, const)
    if op == "contains":
        return lambda v: const in v
    if op == "icontains":
        low = const.lower()
        return lambda v: low in v.lower()
    if op == "startswith":
        return lambda v: v.startswith(const)
    if op == "endswith":
        return lambda v: v.endswith(const)
    if op in ("glob", "iglob"):
        return regex_matcher(glob_pattern(const, ignore_case=op == "iglob"), shown=const)
    if op == "regex":
        return regex_matcher(const)
    raise ValueError(f"operator '{op}' is not supported here")


def regex_matcher(pattern: str, shown: str | None = None) -> Matcher:
    """`regex`: RE2, as Falco, so matching time is linear in the value whatever the pattern (a
    backtracking engine takes seconds on `/tmp/([a-z0-9_]+[.]?)+` and a name the process chose).
    The whole value must match. A pattern RE2 refuses (backreferences, lookaround) raises
    ValueError (naming `shown`, the rule's text, when the pattern was made from it). Values
    holding undecodable bytes (surrogate escapes) are matched as bytes."""
    options = re2.Options()
    options.log_errors = False      # the error is ours to report, with its position
    try:
        rx = re2.compile(pattern, options=options)
        raw = re2.compile(pattern.encode("utf-8", "surrogateescape"), options=options)
    except re2.error as e:
        why = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else e
        raise ValueError(f"invalid regular expression '{pattern if shown is None else shown}': "
                         f"{why}") from None

    def match(v: Any) -> bool:
        try:
            return rx.fullmatch(v) is not None
        except UnicodeEncodeError:
            return raw.fullmatch(v.encode("utf-8", "surrogateescape")) is not None
    return match


def _equal(const: Any, fam: str) -> Matcher:
    if fam == literals.NET or isinstance(const, literals.IpNetwork):
        return _in_networks((const,))
    if fam == literals.BYTES:
        return lambda v: _as_bytes(v) == const
    forms = eq_forms(const, fam)
    return forms.__contains__


def _bytes_matcher(op: str, const: bytes) -> Matcher:
    if op in ("contains", "bcontains"):
        return lambda v: const in _as_bytes(v)
    if op in ("startswith", "bstartswith"):
        return lambda v: _as_bytes(v).startswith(const)
    return lambda v: _as_bytes(v).endswith(const)


def _as_bytes(v: Any) -> bytes:
    return literals.to_bytes(v) if isinstance(v, str) else bytes(v)


def _in_networks(nets: Iterable[literals.IpNetwork]) -> Matcher:
    cache = literals.AddressCache()
    by_version = [(n.version, n) for n in nets]

    def match(v: Any) -> bool:
        addr = cache.get(v)
        return addr is not None and any(ver == addr.version and addr in n for ver, n in by_version)
    return match


def set_matcher(consts: list[Any], fam: str) -> Matcher:
    """`in (...)`: membership in a frozenset built once; networks are tested by containment."""
    nets = [c for c in consts if isinstance(c, literals.IpNetwork)]
    forms: set[Any] = set()
    for c in consts:
        if not isinstance(c, literals.IpNetwork):
            forms |= eq_forms(c, fam) if fam != literals.BYTES else {c}
    members = frozenset(forms)
    if fam == literals.BYTES:
        return lambda v: _as_bytes(v) in members
    if not nets:
        return members.__contains__
    in_nets = _in_networks(nets)
    return lambda v: v in members or in_nets(v)


def pmatch_matcher(prefixes: list[str]) -> Matcher:
    """Path-prefix match on whole components; prefixes may hold glob characters (`/opt/*/bin`).
    Only the path's leading components that a prefix could cover are looked at."""
    literal: set[str] = set()
    globbed: list[list[Matcher]] = []
    for p in prefixes:
        p = p.rstrip("/") or "/"
        if any(ch in p for ch in "*?["):
            globbed.append([regex_matcher(glob_pattern(part), shown=p) for part in p.split("/")])
        else:
            literal.add(p)
    root = "/" in literal
    longest = max(map(len, literal), default=0)
    depth = max(map(len, globbed), default=0)

    def match(path: str) -> bool:
        if root and path.startswith("/"):
            return True
        if path in literal:
            return True
        i = path.find("/", 1, longest + 1)
        while i != -1:
            if path[:i] in literal:
                return True
            i = path.find("/", i + 1, longest + 1)
        return bool(globbed) and _glob_prefix(path, globbed, depth)
    return match


def _glob_prefix(path: str, globbed: list[list[Matcher]], depth: int) -> bool:
    parts = path.split("/", depth)[:depth]
    for pats in globbed:
        if len(pats) <= len(parts) and all(m(part) for m, part in zip(pats, parts, strict=False)):
            return True
    return False


def modifier_matcher(modifier: str, matchers: list[Matcher]) -> Matcher:
    """`== anyof (...)`: any constant matches; `oneof`: exactly one; `allof`: all (and some)."""
    if modifier == "allof":
        return lambda v: bool(matchers) and all(m(v) for m in matchers)
    if modifier == "oneof":
        return lambda v: sum(1 for m in matchers if m(v)) == 1
    return lambda v: any(m(v) for m in matchers)


def event_check(get: Getter, match: Matcher, op: str, many: bool, members: frozenset[Any] | None = None
                ) -> Predicate:
    """The predicate of one check. `many`: the value is a list (or a client/server pair).

    `members` is the constant set when the whole test is a membership test (`=`, `in`), which is
    then inlined: `get(e) in members` is false for None without a separate test.
    """
    if many:
        return _many_check(get, match, op)
    if members is not None:    # one hash lookup, linear in the value at most once: left whole
        return lambda e: get(e) in members

    def check(e: Any) -> bool:
        v = get(e)
        if v is None:
            return False
        if ((t := type(v)) is str or t is bytes) and len(v) > MAX_VALUE:
            v = v[:MAX_VALUE]
        try:
            return match(v)
        except (TypeError, AttributeError, ValueError):  # a value of an unexpected type: no match
            return False
    return check


def _many_check(get: Getter, match: Matcher, op: str) -> Predicate:
    """List fields: `in` needs every value in the set, `!=` no value equal, others any value."""
    def values(e: Any) -> Any:
        v = get(e)
        return () if v is None else v

    if op in ("in", "!="):      # for `!=`, `match` is "not equal": no value may be equal
        return lambda e: _all_match(values(e), match)
    return lambda e: _any_match(values(e), match)


def exists_check(get: Getter, many: bool) -> Predicate:
    """`x exists`: a value was extracted; for a list (or a client/server pair), a non-empty one."""
    if many:
        return lambda e: bool(get(e))
    return lambda e: get(e) is not None


def _all_match(vs: Any, match: Matcher) -> bool:
    try:
        return bool(vs) and all(v is not None and match(clip(v)) for v in vs)
    except (TypeError, AttributeError, ValueError):
        return False


def _any_match(vs: Any, match: Matcher) -> bool:
    try:
        return any(v is not None and match(clip(v)) for v in vs)
    except (TypeError, AttributeError, ValueError):
        return False


def field_matcher(op: str) -> Callable[[Any, Any], bool]:
    """`x op val(y)`: a test of two present values of the same family."""
    table: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda v, w: v == w, "==": lambda v, w: v == w, "!=": lambda v, w: v != w,
        **_ORDER,
        "contains": lambda v, w: w in v, "icontains": lambda v, w: w.lower() in v.lower(),
        "startswith": lambda v, w: v.startswith(w), "endswith": lambda v, w: v.endswith(w),
        "bcontains": lambda v, w: w in v, "bstartswith": lambda v, w: v.startswith(w),
        "in": lambda v, w: v in w if isinstance(w, list | tuple) else v == w,
        "intersects": lambda v, w: v in w if isinstance(w, list | tuple) else v == w,
    }
    if op not in table:
        raise ValueError(f"filter error: operator '{op}' cannot compare with another field")
    test = table[op]
    return lambda v, w: test(clip(v), clip(w))
