"""Compile a condition tree into one predicate `Event -> bool`, once, before any event is seen.

The result is a `Compiled` record: the predicate (`check`) and, when the condition is one check on
a plain field, that field's operand, which the prefilter uses to memoise the check per value.
Each node type has a handler in HANDLERS that returns a closure; nothing looks at the tree per
event. Fields are resolved once (through a FieldResolver, normally rules.fields.table.FieldTable),
constants are converted once to the field's type, `in` lists become frozensets, globs and regexes
are compiled once. Type errors (`proc.pid contains 1`) are CompileErrors with the node's position.

Semantics follow libsinsp: a value that cannot be extracted (None) makes a check false, except
`exists`, which tests exactly that; fields marked `either` (fd.ip: client or server) or `is_list`
match when any of their values does, except that `!=` needs none equal and `in` needs all in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tiercel.common.errors import TiercelError
from tiercel.events.model import Event
from tiercel.rules.language import literals, operators, syntax
from tiercel.rules.language.lexer import FIELD_NAME
from tiercel.rules.language.transformers import Operand, TransformerError, compile_transformer

Predicate = Callable[[Event], bool]
Warnings = list[tuple[str, int]]


class FieldDef(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...  # libsinsp's PT_ type name without the prefix: CHARBUF, UINT64, IPNET ...
    @property
    def is_list(self) -> bool: ...
    @property
    def extract(self) -> Callable[[Event], Any]: ...  # argument already bound; None when unavailable


class FieldResolver(Protocol):
    def resolve(self, name: str, arg: str | None) -> FieldDef:
        """The field bound to its argument; raises (UnknownField, ...) when there is no such field."""
        ...


class CompileError(TiercelError):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled condition: its predicate, and the field it reads when it is one check on a field.

    `field` (getter, type, whether its values can key a dict) is set for a check whose left side
    is a plain field, `proc.name in (...)`, and None otherwise: rules.matching.prefilter memoises
    such checks by the field's value.
    """

    check: Predicate
    field: Operand | None = None


def compile_condition(node: syntax.Node, fields: FieldResolver, warnings: Warnings | None = None
                      ) -> Compiled:
    """An expanded condition (macros and lists already substituted), compiled.

    Errors from the resolver propagate with a `pos` attribute added; `warnings` collects
    (message, pos) pairs for checks that work but are probably not what was meant.
    """
    compiler = _Compiler(fields, warnings if warnings is not None else [])
    if isinstance(node, syntax.Compare) and isinstance(node.left, syntax.FieldRef):
        left = compiler.operand(node.left)
        return Compiled(_compare_operand(compiler, node, left), left)
    return Compiled(compiler.compile(node))


class _Compiler:
    def __init__(self, fields: FieldResolver, warnings: Warnings) -> None:
        self.fields = fields
        self.warnings = warnings

    def compile(self, node: syntax.Node) -> Predicate:
        handler = HANDLERS.get(type(node))
        if handler is None:
            raise CompileError(f"unexpected {type(node).__name__} where a check is expected", node.pos)
        return handler(self, node)

    def operand(self, node: syntax.Operand) -> Operand:
        """A field or transformer, ready to extract."""
        if isinstance(node, syntax.Transformer):
            try:
                return compile_transformer(node, self.operand)
            except TransformerError as e:
                raise CompileError(str(e), e.pos) from None
        try:
            fd = self.fields.resolve(node.name, node.arg)
        except Exception as e:
            if isinstance(e, TiercelError) and not hasattr(e, "pos"):
                e.pos = node.pos  # type: ignore[attr-defined]
            raise
        either = bool(getattr(fd, "either", False))     # client/server pairs come as tuples
        many = fd.is_list or either or fd.type.endswith("ARRAY")
        return Operand(fd.extract, fd.type, many, _display(node), hashable=not many or
                       (either and not fd.is_list and not fd.type.endswith("ARRAY")))

    def field_or_none(self, text: str) -> Operand | None:
        """`text` as a field, if it names one (for the "did you mean val()" warning)."""
        try:
            return self.operand(syntax.FieldRef(text))
        except Exception:
            return None


def _display(node: syntax.FieldRef) -> str:
    return node.name if node.arg is None else f"{node.name}[{node.arg}]"


# -- boolean nodes ------------------------------------------------------------------------------

def _and(c: _Compiler, node: syntax.Node) -> Predicate:
    assert isinstance(node, syntax.And)
    preds = [c.compile(ch) for ch in _flatten(node, syntax.And)]
    if len(preds) == 2:
        a, b = preds
        return lambda e: a(e) and b(e)
    if len(preds) == 3:
        a, b, d = preds
        return lambda e: a(e) and b(e) and d(e)

    def all_of(e: Event) -> bool:
        for p in preds:  # noqa: SIM110 - a plain loop: all() would build a generator per event
            if not p(e):
                return False
        return True
    return all_of


def _or(c: _Compiler, node: syntax.Node) -> Predicate:
    assert isinstance(node, syntax.Or)
    preds = [c.compile(ch) for ch in _flatten(node, syntax.Or)]
    if len(preds) == 2:
        a, b = preds
        return lambda e: a(e) or b(e)
    if len(preds) == 3:
        a, b, d = preds
        return lambda e: a(e) or b(e) or d(e)

    def any_of(e: Event) -> bool:
        for p in preds:  # noqa: SIM110 - a plain loop: any() would build a generator per event
            if p(e):
                return True
        return False
    return any_of


def _flatten(node: syntax.And | syntax.Or, kind: type) -> list[syntax.Node]:
    """`a and (b and c)` as one level: fewer calls per event."""
    out: list[syntax.Node] = []
    for ch in node.children:
        out.extend(_flatten(ch, kind) if isinstance(ch, kind) else [ch])  # type: ignore[arg-type]
    return out


def _not(c: _Compiler, node: syntax.Node) -> Predicate:
    assert isinstance(node, syntax.Not)
    p = c.compile(node.child)
    return lambda e: not p(e)


def _identifier(c: _Compiler, node: syntax.Node) -> Predicate:
    assert isinstance(node, syntax.Identifier)
    raise CompileError(f"Undefined macro '{node.name}' used in filter.", node.pos)


# -- checks -------------------------------------------------------------------------------------

def _compare(c: _Compiler, node: syntax.Node) -> Predicate:
    assert isinstance(node, syntax.Compare)
    return _compare_operand(c, node, c.operand(node.left))


def _compare_operand(c: _Compiler, node: syntax.Compare, left: Operand) -> Predicate:
    fam = literals.family(left.type)
    if node.op not in literals.ALLOWED_OPS[fam]:
        raise CompileError(f"filter error: operator '{node.op}' is not supported for field "
                           f"'{left.name}' of type {left.type}", node.pos)
    if node.op == "exists":
        return operators.exists_check(left.get, left.is_list)
    if isinstance(node.right, syntax.ValExpr | syntax.Transformer):
        return _compare_fields(c, node, left)
    try:
        return _compare_constants(c, node, left, fam)
    except (ValueError, re.error) as e:
        raise CompileError(str(e), node.pos) from None


def _constants(node: syntax.Compare) -> list[syntax.Value]:
    right = node.right
    if isinstance(right, syntax.ListValue):
        return [i for i in right.items if isinstance(i, syntax.Value)]
    if isinstance(right, syntax.Value):
        return [right]
    raise CompileError("expected a value", node.pos)


def _compare_constants(c: _Compiler, node: syntax.Compare, left: Operand, fam: str) -> Predicate:
    op = node.op
    texts = [v.text for v in _constants(node)]
    if op == "pmatch":
        for t in texts:
            literals.convert(t, fam, left.type)  # the NUL check
        return operators.event_check(left.get, operators.pmatch_matcher(texts), op, left.is_list)
    consts = [_constant(t, op, fam, left.type) for t in texts]
    _warn_constant(c, node, fam, texts)
    if node.modifier is not None:
        matchers = [operators.value_matcher(op, k, fam) for k in consts]
        match = operators.modifier_matcher(node.modifier, matchers)
        return operators.event_check(left.get, match, op, left.is_list)
    if op in ("in", "intersects"):
        match = operators.set_matcher(consts, fam)
        members = getattr(match, "__self__", None) if not left.is_list else None
        return operators.event_check(left.get, match, op, left.is_list,
                             members if isinstance(members, frozenset) else None)
    match = operators.value_matcher(op, consts[0], fam)
    members = getattr(match, "__self__", None) if op in ("=", "==") and not left.is_list else None
    return operators.event_check(left.get, match, op, left.is_list,
                         members if isinstance(members, frozenset) else None)


def _constant(text: str, op: str, fam: str, field_type: str) -> Any:
    if op in ("bcontains", "bstartswith"):
        return literals.hex_bytes(text)
    if fam == literals.STR and op in ("glob", "iglob", "regex", "contains", "icontains", "startswith",
                                      "endswith"):
        literals.convert(text, fam, field_type)  # the NUL check
        return text
    return literals.convert(text, fam, field_type)


def _compare_fields(c: _Compiler, node: syntax.Compare, left: Operand) -> Predicate:
    right = node.right
    if isinstance(right, syntax.ValExpr):
        if right.arg is not None:
            raise CompileError("filter error: transformer 'val' does not support field arguments", right.pos)
        other = c.operand(right.field)
    else:
        assert isinstance(right, syntax.Transformer)
        other = c.operand(right)
    if literals.family(other.type) != literals.family(left.type):
        raise CompileError(f"filter error: cannot compare field '{left.name}' ({left.type}) with "
                           f"'{other.name}' ({other.type})", node.pos)
    try:
        test = operators.field_matcher(node.op)
    except ValueError as e:
        raise CompileError(str(e), node.pos) from None
    get, get2 = left.get, other.get

    def check(e: Event) -> bool:
        v, w = get(e), get2(e)
        if v is None or w is None:
            return False
        try:
            return test(v, w)
        except (TypeError, AttributeError):
            return False
    return check


# -- warnings -----------------------------------------------------------------------------------

_SIMPLE_REGEX = re.compile(r"\^?(?:\.[*+?])?[A-Za-z0-9_\-/ ]+(?:\.[*+?])?\$?")
_WRAPPED = re.compile(r"(?:tolower|toupper|b64|basename|len)\((.*)\)")


def _warn_constant(c: _Compiler, node: syntax.Compare, fam: str, texts: list[str]) -> None:
    if fam != literals.STR or len(texts) != 1 or node.modifier is not None:
        return
    text = texts[0]
    if node.op == "regex" and _SIMPLE_REGEX.fullmatch(text):
        c.warnings.append((f"regex '{text}' needs no regular expression: '=', 'startswith', 'endswith' "
                           "or 'contains' say the same and are faster", node.pos))
        return
    inner = text
    while (m := _WRAPPED.fullmatch(inner)) is not None:
        inner = m.group(1)
    if FIELD_NAME.fullmatch(inner) and c.field_or_none(inner) is not None:
        c.warnings.append((f"'{text}' is compared as a string; to compare with the field, write "
                           f"val({text})" if inner == text else
                           f"'{text}' is compared as a string, not as a transformed field", node.pos))


HANDLERS: dict[type, Callable[[_Compiler, syntax.Node], Predicate]] = {
    syntax.And: _and,
    syntax.Or: _or,
    syntax.Not: _not,
    syntax.Compare: _compare,
    syntax.Identifier: _identifier,
}
