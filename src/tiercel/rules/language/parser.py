"""Recursive-descent parser for Falco's condition language (libsinsp's filter grammar).

    Expr          ::= OrExpr
    OrExpr        ::= AndExpr ('or' (blank AndExpr | '(' Expr ')'))*
    AndExpr       ::= NotExpr ('and' (blank NotExpr | '(' Expr ')'))*
    NotExpr       ::= ('not' blank)* ('not(' Expr ')' | Check)
    Check         ::= '(' Expr ')' | Field Condition | Transformer Condition | Identifier
    Field         ::= FieldName ('[' FieldArg ']')?
    Transformer   ::= TrName '(' TrArg (',' TrArg)* ')' ('[' FieldArg ']')?
    TrArg         ::= Transformer | Field | QuotedStr | NumValue | '(' (TrItem (',' TrItem)*)? ')'
    TrItem        ::= Transformer | Field | QuotedStr | NumValue
    Condition     ::= 'exists'
                    | NumOp (NumValue | RhsField)
                    | StrOp (RhsField | StrValue)
                    | StrOp blank Modifier blank ListValue
                    | ListOp (ListValue | RhsField)
    RhsField      ::= Transformer | 'val(' Field ')' ('[' FieldArg ']')?
    ListValue     ::= '(' (StrValue (',' StrValue)*)? ')' | Identifier
    StrValue      ::= QuotedStr | BareStr
    NumValue      ::= HexNumber | Number
    NumOp         ::= '<=' | '<' | '>=' | '>'
    StrOp         ::= '==' | '=' | '!=' | ('glob' | 'iglob' | 'contains' | 'icontains' | 'bcontains'
                      | 'startswith' | 'bstartswith' | 'endswith' | 'regex') blank
    ListOp        ::= 'intersects' | 'in' | 'pmatch'
    Modifier      ::= 'oneof' | 'anyof' | 'allof'
    TrName        ::= 'tolower' | 'toupper' | 'b64' | 'basename' | 'len' | 'join' | 'concat' | 'getopt'

Tokens are in rules.language.lexer. `or` binds loosest, then `and`, then `not`; `and`/`or` nodes are
n-ary. As in libsinsp, the whole input must be consumed, `not not a` is `a`, a word operator needs a
blank after it while symbols do not (`a.b =c`), and nesting is limited (MAX_DEPTH levels of
parentheses, negations and transformers).
"""

from __future__ import annotations

from collections.abc import Callable

from tiercel.common.errors import TiercelError
from tiercel.rules.language import syntax
from tiercel.rules.language.lexer import (
    BARE_STR,
    BLANKS,
    FIELD_ARG_BARE,
    FIELD_NAME,
    HEX_NUMBER,
    IDENTIFIER,
    NOT_BLANK,
    NUMBER,
    LexError,
    Scanner,
)

MAX_DEPTH = 100
_WORD_OPS = tuple(op for op in syntax.STR_OPS if op[0].isalpha())
_SYMBOL_STR_OPS = ("==", "=", "!=")
_TRANSFORMER_OPENERS = tuple(f"{t}(" for t in syntax.TRANSFORMERS)
_ALL_OPS = ", ".join(f"'{op}'" for op in (*syntax.UNARY_OPS, *syntax.NUM_OPS, *syntax.STR_OPS,
                                             *syntax.LIST_OPS))
_TRANSFORMER_NAMES = ", ".join(f"'{t}'" for t in ("val", *syntax.TRANSFORMERS))


class ConditionSyntaxError(TiercelError):
    """The condition does not follow the grammar; `pos` is the offset where parsing stopped."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def parse_condition(text: str) -> syntax.Node:
    """Parse a whole condition into its tree, or raise ConditionSyntaxError."""
    if not text:
        raise ConditionSyntaxError("filter input string is empty", 0)
    parser = _Parser(text)
    try:
        node = parser.parse_or()
        if not parser.sc.at_end():
            raise LexError(f"unexpected token after '{parser.sc.last}', expecting 'or', 'and'",
                           parser.sc.pos)
    except LexError as e:
        raise ConditionSyntaxError(e.message, e.pos) from None
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.sc = Scanner(text)
        self.depth = 0

    def fail(self, message: str) -> LexError:
        return LexError(message, self.sc.pos)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"exceeded max depth limit of {MAX_DEPTH}")

    # -- boolean structure --------------------------------------------------------------------

    def parse_or(self) -> syntax.Node:
        self.enter()
        sc = self.sc
        sc.blank()
        pos = sc.pos
        children = [self.parse_and()]
        sc.blank()
        while sc.literal("or"):
            children.append(self._after_keyword("or", self.parse_and))
            sc.blank()
        self.depth -= 1
        return children[0] if len(children) == 1 else syntax.Or(tuple(children), pos=pos)

    def parse_and(self) -> syntax.Node:
        sc = self.sc
        sc.blank()
        pos = sc.pos
        children = [self.parse_not()]
        sc.blank()
        while sc.literal("and"):
            children.append(self._after_keyword("and", self.parse_not))
            sc.blank()
        return children[0] if len(children) == 1 else syntax.And(tuple(children), pos=pos)

    def _after_keyword(self, word: str, parse_next: Callable[[], syntax.Node]) -> syntax.Node:
        if self.sc.blank():
            return parse_next()
        if self.sc.literal("("):
            return self.embedded()
        raise self.fail(f"expected blank or '(' after '{word}'")

    def parse_not(self) -> syntax.Node:
        sc = self.sc
        sc.blank()
        pos = sc.pos
        negate = False
        while sc.regex(NOT_BLANK):
            negate = not negate
        if sc.literal("not("):
            negate = not negate
            child = self.embedded()
        else:
            child = self.parse_check()
        return syntax.Not(child, pos=pos) if negate else child

    def embedded(self) -> syntax.Node:
        """The rest of `( Expr )` once the '(' is consumed."""
        child = self.parse_or()
        self.sc.blank()
        if not self.sc.literal(")"):
            raise self.fail("expected a ')' token")
        return child

    def parse_check(self) -> syntax.Node:
        sc = self.sc
        sc.blank()
        pos = sc.pos
        if sc.literal("("):
            return self.embedded()
        name = sc.regex(FIELD_NAME)
        if name is not None:
            return self.condition(self.field_rest(name, pos), pos)
        tr = sc.one_of(_TRANSFORMER_OPENERS)
        if tr is not None:
            return self.condition(self.transformer_rest(tr[:-1], pos), pos)
        ident = sc.regex(IDENTIFIER)
        if ident is not None:
            return syntax.Identifier(ident, pos=pos)
        raise self.fail("expected a '(' token, a field check, or an identifier")

    # -- operands ---------------------------------------------------------------------------

    def field_arg(self) -> str | None:
        sc = self.sc
        if not sc.literal("["):
            return None
        arg = sc.quoted()
        if arg is None:
            arg = sc.regex(FIELD_ARG_BARE)
        if arg is None:
            raise self.fail("expected a valid field argument: a quoted string or a bare string")
        if not sc.literal("]"):
            raise self.fail("expected a ']' token")
        return arg

    def field_rest(self, name: str, pos: int) -> syntax.FieldRef:
        return syntax.FieldRef(name, self.field_arg(), pos=pos)

    def transformer_rest(self, name: str, pos: int) -> syntax.Transformer:
        """The rest of `name( arg, ... )[arg]` once `name(` is consumed."""
        self.enter()
        sc = self.sc
        args: list[syntax.Node] = []
        while True:
            sc.blank()
            args.append(self.transformer_arg(allow_list=True))
            sc.blank()
            if sc.literal(")"):
                break
            if not sc.literal(","):
                raise self.fail("expected a ')' token closing the transformer")
        self.depth -= 1
        return syntax.Transformer(name, tuple(args), self.field_arg(), pos=pos)

    def transformer_arg(self, allow_list: bool) -> syntax.Node:
        sc = self.sc
        pos = sc.pos
        tr = sc.one_of(_TRANSFORMER_OPENERS)
        if tr is not None:
            return self.transformer_rest(tr[:-1], pos)
        name = sc.regex(FIELD_NAME)
        if name is not None:
            return self.field_rest(name, pos)
        text = sc.quoted()
        if text is not None:
            return syntax.Value(text, quoted=True, pos=pos)
        num = sc.regex(HEX_NUMBER) or sc.regex(NUMBER)
        if num is not None:
            return syntax.Value(num, pos=pos)
        if allow_list and sc.literal("("):
            return self.transformer_list(pos)
        raise self.fail(f"expected a field or a nested valid transformer: {_TRANSFORMER_NAMES}")

    def transformer_list(self, pos: int) -> syntax.ListValue:
        sc = self.sc
        sc.blank()
        items: list[syntax.Node] = []
        if not sc.literal(")"):
            while True:
                sc.blank()
                items.append(self.transformer_arg(allow_list=False))
                sc.blank()
                if sc.literal(")"):
                    break
                if not sc.literal(","):
                    raise self.fail("expected a ')' token")
        return syntax.ListValue(tuple(items), pos=pos)

    def rhs_field(self) -> syntax.Node | None:
        """`val(field)` or a transformer on the right-hand side; None if neither starts here."""
        sc = self.sc
        pos = sc.pos
        if sc.literal("val("):
            sc.blank()
            fpos = sc.pos
            name = sc.regex(FIELD_NAME)
            if name is None:
                raise self.fail("expected a field within 'val' transformer")
            field = self.field_rest(name, fpos)
            sc.blank()
            if not sc.literal(")"):
                raise self.fail("expected a ')' token closing the transformer")
            return syntax.ValExpr(field, self.field_arg(), pos=pos)
        tr = sc.one_of(_TRANSFORMER_OPENERS)
        if tr is not None:
            return self.transformer_rest(tr[:-1], pos)
        return None

    # -- conditions -------------------------------------------------------------------------

    def condition(self, left: syntax.Operand, pos: int) -> syntax.Compare:
        sc = self.sc
        sc.blank()
        if sc.literal("exists"):
            return syntax.Compare(left, "exists", pos=pos)
        op = sc.one_of(syntax.NUM_OPS)
        if op is not None:
            return syntax.Compare(left, op, self.num_value(), pos=pos)
        op = self.str_op()
        if op is not None:
            modifier, right = self.str_rhs(op)
            return syntax.Compare(left, op, right, modifier, pos=pos)
        op = sc.one_of(syntax.LIST_OPS)
        if op is not None:
            return syntax.Compare(left, op, self.list_value(), pos=pos)
        raise self.fail(f"expected a valid check operator: one of {_ALL_OPS}")

    def str_op(self) -> str | None:
        sc = self.sc
        op = sc.one_of(_SYMBOL_STR_OPS)
        if op is not None:
            return op
        for word in _WORD_OPS:
            end = sc.pos + len(word)
            if sc.peek(word) and end < len(sc.text) and sc.text[end] in BLANKS:
                sc.literal(word)
                return word
        return None

    def str_rhs(self, op: str) -> tuple[str | None, syntax.Node]:
        sc = self.sc
        blank_before = sc.blank() or op in _WORD_OPS
        if blank_before:
            start = sc.pos
            for modifier in syntax.MODIFIERS:
                if sc.literal(modifier) and sc.blank():
                    listed = self.modifier_list()
                    if listed is not None:
                        return modifier, listed
                sc.pos = start  # not a modifier after all: `x.y = oneof and ...`
        return None, self.str_value(allow_fields=True)

    def modifier_list(self) -> syntax.Node | None:
        sc = self.sc
        pos = sc.pos
        if sc.literal("("):
            return self.paren_list(pos)
        ident = sc.regex(IDENTIFIER)
        if ident is None or ident in ("and", "or"):
            return None
        return syntax.Value(ident, pos=pos)

    def num_value(self) -> syntax.Node:
        sc = self.sc
        sc.blank()
        pos = sc.pos
        rhs = self.rhs_field()
        if rhs is not None:
            return rhs
        num = sc.regex(HEX_NUMBER) or sc.regex(NUMBER)
        if num is not None:
            return syntax.Value(num, pos=pos)
        raise self.fail(f"expected a number value or a field with a valid transformer: {_TRANSFORMER_NAMES}")

    def str_value(self, allow_fields: bool) -> syntax.Node:
        sc = self.sc
        sc.blank()
        pos = sc.pos
        if allow_fields:
            rhs = self.rhs_field()
            if rhs is not None:
                return rhs
        text = sc.quoted()
        if text is not None:
            return syntax.Value(text, quoted=True, pos=pos)
        bare = sc.regex(BARE_STR)
        if bare is not None:
            return syntax.Value(bare, pos=pos)
        if not allow_fields:
            raise self.fail("expected a string value")
        raise self.fail(f"expected a string value or a field with a valid transformer: {_TRANSFORMER_NAMES}")

    def list_value(self) -> syntax.Node:
        sc = self.sc
        sc.blank()
        pos = sc.pos
        if sc.literal("("):
            return self.paren_list(pos)
        rhs = self.rhs_field()
        if rhs is not None:
            return rhs
        ident = sc.regex(IDENTIFIER)
        if ident is not None:
            return syntax.Value(ident, pos=pos)
        raise self.fail("expected a list, an identifier, or a field with a valid transformer: "
                        + _TRANSFORMER_NAMES)

    def paren_list(self, pos: int) -> syntax.ListValue:
        """The rest of `( item, ... )` once the '(' is consumed: plain strings only."""
        sc = self.sc
        sc.blank()
        items: list[syntax.Node] = []
        if sc.peek(")"):
            sc.literal(")")
            return syntax.ListValue((), pos=pos)
        items.append(self.str_value(allow_fields=False))
        sc.blank()
        while sc.literal(","):
            items.append(self.str_value(allow_fields=False))
            sc.blank()
        if not sc.literal(")"):
            raise self.fail("expected a ')' token")
        return syntax.ListValue(tuple(items), pos=pos)
