"""Field transformers: `tolower(x)`, `b64(x)`, `join(sep, (a, b))`, `getopt(args, "t:")[t]`, ...

Each compiles, once, into an Operand: a getter on the event plus the type it yields. Single-input
transformers apply element-wise to list fields. A missing input (None) gives a missing output.
Their inputs are cut to the operators' MAX_VALUE first, as the operators' own are (so `toupper` or
`b64` of a huge value costs no more than a check of it); `len` counts the value as it is.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tiercel.rules.language import literals, syntax
from tiercel.rules.language.operators import clip


@dataclass(frozen=True, slots=True)
class Operand:
    """Something a check can compare: a getter on the event, its type, and whether it is a list."""

    get: Callable[[Any], Any]
    type: str
    is_list: bool
    name: str
    hashable: bool = False        # every value it yields can key a dict (no lists): see prefilter


class TransformerError(ValueError):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


CompileArg = Callable[[syntax.Operand], Operand]


def compile_transformer(node: syntax.Transformer, compile_arg: CompileArg) -> Operand:
    if node.arg is not None and node.name != "getopt":
        raise TransformerError(f"filter error: transformer '{node.name}' does not support field arguments",
                               node.pos)
    if node.name in _SINGLE:
        return _single(node, compile_arg)
    build = {"join": _join, "concat": _concat, "getopt": _getopt}[node.name]
    return build(node, compile_arg)


# -- single-input transformers -------------------------------------------------------------------

def _lower(v: Any) -> Any:
    return v.lower()


def _upper(v: Any) -> Any:
    return v.upper()


def _b64(v: Any) -> Any:
    try:
        pad = b"=" * (-len(v) % 4) if isinstance(v, bytes) else "=" * (-len(v) % 4)
        raw = base64.b64decode(v + pad, validate=True)  # libsinsp accepts unpadded input
    except (binascii.Error, ValueError):
        return None
    return raw if isinstance(v, bytes) else raw.decode("utf-8", "surrogateescape")


def _basename(v: Any) -> Any:
    return v.rsplit("/", 1)[-1]


# name -> (function, families accepted, output type or None for "same as input")
_SINGLE: dict[str, tuple[Callable[[Any], Any], frozenset[str], str | None]] = {
    "tolower": (_lower, frozenset((literals.STR,)), None),
    "toupper": (_upper, frozenset((literals.STR,)), None),
    "b64": (_b64, frozenset((literals.STR, literals.BYTES)), None),
    "basename": (_basename, frozenset((literals.STR,)), None),
    "len": (len, frozenset((literals.STR, literals.BYTES)), "UINT64"),
}


def _single(node: syntax.Transformer, compile_arg: CompileArg) -> Operand:
    fn, families, out_type = _SINGLE[node.name]
    if len(node.args) != 1 or not isinstance(node.args[0], syntax.FieldRef | syntax.Transformer):
        raise TransformerError(f"filter error: transformer '{node.name}' takes exactly one field",
                               node.pos)
    inner = compile_arg(node.args[0])
    get = inner.get
    if node.name == "len" and inner.is_list:
        return Operand(lambda e: _len_or_none(get(e)), "UINT64", False, f"len({inner.name})")
    if literals.family(inner.type) not in families:
        raise TransformerError(f"filter error: transformer '{node.name}' does not support field type "
                               f"{inner.type} ('{inner.name}')", node.pos)
    name = f"{node.name}({inner.name})"
    cut: Callable[[Any], Any] = _same if node.name == "len" else clip
    if inner.is_list:
        def each(e: Any) -> Any:
            v = get(e)
            return None if v is None else [fn(cut(x)) for x in v if x is not None]
        return Operand(each, out_type or inner.type, True, name)

    def one(e: Any) -> Any:
        v = get(e)
        return None if v is None else fn(cut(v))
    return Operand(one, out_type or inner.type, False, name)


def _same(v: Any) -> Any:
    return v


def _len_or_none(v: Any) -> int | None:
    return None if v is None else len(v)


# -- multi-argument transformers -----------------------------------------------------------------

def _scalar_text(node: syntax.Node, compile_arg: CompileArg, owner: str) -> Callable[[Any], str | None]:
    """A string-valued argument: a constant, or a single-valued field or transformer."""
    if isinstance(node, syntax.Value):
        text = node.text
        return lambda e: text
    if isinstance(node, syntax.FieldRef | syntax.Transformer):
        op = compile_arg(node)
        if not op.is_list:
            get = op.get
            return lambda e: _text(get(e))
    raise TransformerError(f"filter error: transformer '{owner}' expects single values here", node.pos)


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    return str(v).lower() if isinstance(v, bool) else str(v)


def _list_texts(node: syntax.Node, compile_arg: CompileArg, owner: str) -> Callable[[Any], list[str] | None]:
    """A list-valued argument: `( item, ... )` or a list field."""
    if isinstance(node, syntax.ListValue):
        getters = [_scalar_text(i, compile_arg, owner) for i in node.items]

        def items(e: Any) -> list[str] | None:
            out = [g(e) for g in getters]
            return None if None in out else out  # type: ignore[return-value]
        return items
    if isinstance(node, syntax.FieldRef | syntax.Transformer):
        op = compile_arg(node)
        get = op.get
        if op.is_list:
            return lambda e: None if (v := get(e)) is None else [t for x in v if (t := _text(x)) is not None]
        if literals.family(op.type) == literals.STR and owner == "getopt":
            return lambda e: None if (v := get(e)) is None else str(v).split()
    raise TransformerError(f"filter error: transformer '{owner}' expects a list here", node.pos)


def _join(node: syntax.Transformer, compile_arg: CompileArg) -> Operand:
    if len(node.args) != 2:
        raise TransformerError("filter error: join takes a separator and a list", node.pos)
    sep = _scalar_text(node.args[0], compile_arg, "join")
    items = _list_texts(node.args[1], compile_arg, "join")

    def join(e: Any) -> str | None:
        s, xs = sep(e), items(e)
        return None if s is None or xs is None else s.join(xs)
    return Operand(join, "CHARBUF", False, "join(...)")


def _concat(node: syntax.Transformer, compile_arg: CompileArg) -> Operand:
    if len(node.args) < 2:
        raise TransformerError("filter error: concat takes at least two values", node.pos)
    parts = [_scalar_text(a, compile_arg, "concat") for a in node.args]

    def concat(e: Any) -> str | None:
        out = [p(e) for p in parts]
        return None if None in out else "".join(out)  # type: ignore[arg-type]
    return Operand(concat, "CHARBUF", False, "concat(...)")


def _getopt(node: syntax.Transformer, compile_arg: CompileArg) -> Operand:
    if len(node.args) != 2 or not (isinstance(node.args[1], syntax.Value) and node.args[1].quoted):
        raise TransformerError("filter error: getopt takes an argument list and a quoted option string",
                               node.pos)
    argv = _list_texts(node.args[0], compile_arg, "getopt")
    optstring = node.args[1].text
    if node.arg is None:
        return Operand(lambda e: None if (a := argv(e)) is None else getopt(a, optstring)[0],
                       "CHARBUF", True, "getopt(...)")
    if not node.arg:
        raise TransformerError("filter error: getopt needs an option letter as its argument", node.pos)
    key = node.arg
    return Operand(lambda e: None if (a := argv(e)) is None else getopt(a, optstring)[1].get(key),
                   "CHARBUF", False, f"getopt(...)[{key}]")


def getopt(argv: list[str], optstring: str) -> tuple[list[str], dict[str, str]]:
    """POSIX getopt over `argv` (no program name): the options and values seen, and option -> value.

    Parsing stops at the first non-option or at `--`; `--long` options are skipped. An unknown
    option gives '?'; an option missing its required argument gives '' (and maps to '').
    A flag maps to itself, an option with an argument to its last value.
    """
    spec = optstring[1:] if optstring.startswith(":") else optstring
    out: list[str] = []
    seen: dict[str, str] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            break
        if a.startswith("--"):
            i += 1
            continue
        if len(a) < 2 or a[0] != "-":
            break
        i = _getopt_cluster(argv, i, spec, out, seen)
    return out, seen


def _getopt_cluster(argv: list[str], i: int, spec: str, out: list[str], seen: dict[str, str]) -> int:
    """One `-abc` word (and the next word if its last option takes it); returns the next index."""
    a = argv[i]
    j = 1
    while j < len(a):
        c = a[j]
        j += 1
        k = spec.find(c) if c != ":" else -1
        if k < 0:
            out.append("?")
            continue
        if not spec.startswith(":", k + 1):
            out.append(c)
            seen[c] = c
            continue
        if j < len(a):
            value = a[j:]
        elif i + 1 < len(argv):
            i += 1
            value = argv[i]
        else:
            out.append("")
            seen[c] = ""
            break
        out += [c, value]
        seen[c] = value
        break
    return i + 1
