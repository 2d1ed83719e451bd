"""Rule exceptions turned into condition text, the way Falco does it.

A rule `condition: C` with exceptions becomes `(C) and not (E1) and not (E2) ...`:
- tuple form, `fields: [f1, f2]`, `comps: [=, in]` (default `=`), each value `[v1, v2]` gives
  `(f1 = v1 and f2 in (v2))`; the values of one exception are joined with `or`;
- single-field form, `fields: f`, `comps: in` (default; or pmatch, intersects), values `[a, b]`
  give `(f in (a, b))`.
A value with a blank is quoted; a value given where a list operator expects a list is put in
parentheses, so it may name a list. The text is then parsed like any condition; each exception's
text maps back to the exception's position in the file.
"""

from __future__ import annotations

from collections.abc import Callable

from tiercel.rules.files.definitions import CondText, ExceptionInfo, ItemError, RuleInfo
from tiercel.rules.language import syntax

OPERATORS = frozenset((*syntax.UNARY_OPS, *syntax.NUM_OPS, *syntax.STR_OPS, *syntax.LIST_OPS))
_LIST_OPERATORS = frozenset(syntax.LIST_OPS)
_SINGLE_FIELD_OPERATORS = ("in", "pmatch", "intersects")


def _quote(v: str) -> str:
    return f'"{v}"' if " " in v and v[:1] not in ('"', "'") else v


def _paren(v: str) -> str:
    return v if v.startswith("(") else f"({v})"


def check_exception(ex: ExceptionInfo, field_exists: Callable[[str], bool], ctx: tuple[str, ...]) -> None:
    """Validate fields and comps (and fill in default comps), with Falco's messages."""
    ectx = (*ctx, f"exception '{ex.name}'")
    where = f"Rule exception item {ex.name}"
    if isinstance(ex.fields, list):
        if ex.comps is None:
            ex.comps = ["="] * len(ex.fields)
        if not isinstance(ex.comps, list) or len(ex.comps) != len(ex.fields):
            raise ItemError(f"{where}: fields and comps lists must have equal length", ex.span, ectx)
        for comp in ex.comps:
            if comp not in OPERATORS:
                raise ItemError(f"{where}: comparison operator {comp} is not a supported comparison "
                                "operator", ex.span, ectx)
        names = ex.fields
    else:
        if ex.comps is None:
            ex.comps = "in"
        if isinstance(ex.comps, list):
            raise ItemError(f"{where}: fields and comps must both be strings", ex.span, ectx)
        if ex.comps not in _SINGLE_FIELD_OPERATORS:
            raise ItemError(f"{where}: when fields is a single value, comps must be one of "
                            "(in, pmatch, intersects)", ex.span, ectx)
        names = [ex.fields] if ex.fields is not None else []
    for name in names:
        if not field_exists(name):
            raise ItemError(f"{where}: field name {name} is not a supported filter field", ex.span, ectx)


def exception_text(ex: ExceptionInfo, ctx: tuple[str, ...]) -> str:
    """The condition that one exception excludes ("" when it has no values yet)."""
    if not isinstance(ex.fields, list):
        assert isinstance(ex.comps, str) and isinstance(ex.fields, str)
        items = []
        for v in ex.values:
            if not isinstance(v, str):
                raise ItemError("Expected values array to contain a list of strings", ex.span,
                                (*ctx, f"exception '{ex.name}'"))
            items.append(_quote(v))
        return f"({ex.fields} {ex.comps} ({', '.join(items)}))" if items else ""
    assert isinstance(ex.comps, list)      # filled in by check_exception
    alternatives = []
    for i, values in enumerate(ex.values):
        if not isinstance(values, list) or len(values) != len(ex.fields):
            span = ex.value_spans[i] if i < len(ex.value_spans) else ex.span
            raise ItemError(f"Exception item {ex.name}: fields and values lists must have equal length",
                            span, (*ctx, f"exception '{ex.name}'"))
        alternatives.append("(" + " and ".join(
            f"{f} {c} {_value_text(v, c)}" for f, c, v in zip(ex.fields, ex.comps, values, strict=True)
        ) + ")")
    return f"({' or '.join(alternatives)})" if alternatives else ""


def _value_text(v: str | list[str] | object, comp: str) -> str:
    if isinstance(v, list):
        return "(" + ", ".join(_quote(str(x)) for x in v) + ")"
    text = str(v)
    return _paren(text) if comp in _LIST_OPERATORS else _quote(text)


def condition_with_exceptions(rule: RuleInfo, field_exists: Callable[[str], bool]) -> CondText:
    """`(condition) and not (exception)...`, positions of each part kept; raises ItemError."""
    ctx = (f"rule '{rule.name}'",)
    if not rule.exceptions:
        return rule.cond
    cond = rule.cond.wrap("(", ")")
    for ex in rule.exceptions:
        check_exception(ex, field_exists, ctx)
        text = exception_text(ex, ctx)
        if text:
            cond = cond.join(CondText.synthetic(text, ex.span), sep=" and not ")
    return cond
