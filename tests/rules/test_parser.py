"""The condition parser: tree shapes, errors with positions, and every upstream rule file's conditions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tiercel.rules.language import syntax
from tiercel.rules.language.parser import MAX_DEPTH, ConditionSyntaxError, parse_condition

A, B, C = syntax.Identifier("a"), syntax.Identifier("b"), syntax.Identifier("c")


def cmp(field: str, op: str, right: syntax.Node | None = None, arg: str | None = None,
        modifier: str | None = None) -> syntax.Compare:
    return syntax.Compare(syntax.FieldRef(field, arg), op, right, modifier)


def val(text: str, quoted: bool = False) -> syntax.Value:
    return syntax.Value(text, quoted)


TREES = [
    ("macro", "a", A),
    ("and-nary", "a and b and c", syntax.And((A, B, C))),
    ("or-binds-loosest", "a or b and c", syntax.Or((A, syntax.And((B, C))))),
    ("parens", "(a or b) and c", syntax.And((syntax.Or((A, B)), C))),
    ("not-toggles", "not not a", A),
    ("not-paren", "not(a)and(not(b))", syntax.And((syntax.Not(A), syntax.Not(B)))),
    ("notz-is-identifier", "notz and a", syntax.And((syntax.Identifier("notz"), A))),
    ("exists", "proc.name exists", cmp("proc.name", "exists")),
    ("existsand", "a.b existsand c", syntax.And((cmp("a.b", "exists"), C))),
    ("no-blank-after-symbol", "proc.name=cat", cmp("proc.name", "=", val("cat"))),
    ("bare-glob", "fd.name=*.log", cmp("fd.name", "=", val("*.log"))),
    ("field-arg", "proc.aname[2] = sh", cmp("proc.aname", "=", val("sh"), arg="2")),
    ("quoted-field-arg", "x.y['a b'] = 1", cmp("x.y", "=", val("1"), arg="a b")),
    ("single-quoted", "c.s = 'hello \\'quoted\\''", cmp("c.s", "=", val("hello 'quoted'", True))),
    ("hex-escape", 'c.s = "a\\x00b"', cmp("c.s", "=", val("a\x00b", True))),
    ("legacy-backslash-space", 'c.s = "a\\ b"', cmp("c.s", "=", val("a\\b", True))),
    ("list", "evt.type in (open, 'openat')",
     cmp("evt.type", "in", syntax.ListValue((val("open"), val("openat", True))))),
    ("empty-list", "x.y in()", cmp("x.y", "in", syntax.ListValue(()))),
    ("list-name", "proc.name in shell_binaries", cmp("proc.name", "in", val("shell_binaries"))),
    ("number", "evt.num > -0.5e+10", cmp("evt.num", ">", val("-0.5e+10"))),
    ("modifier", "proc.name == oneof (cat, sh)",
     cmp("proc.name", "==", syntax.ListValue((val("cat"), val("sh"))), modifier="oneof")),
    ("modifier-word-is-value", "proc.name == anyof and c",
     syntax.And((cmp("proc.name", "==", val("anyof")), C))),
    ("val", "fd.name = val(proc.name)", cmp("fd.name", "=", syntax.ValExpr(syntax.FieldRef("proc.name")))),
    ("transformer-left", "tolower(proc.name) = bash",
     syntax.Compare(syntax.Transformer("tolower", (syntax.FieldRef("proc.name"),)), "=", val("bash"))),
    ("join", 'join("-", (fd.name, "x")) = a',
     syntax.Compare(syntax.Transformer("join", (val("-", True), syntax.ListValue((syntax.FieldRef("fd.name"),
                                                                        val("x", True))))), "=", val("a"))),
    ("getopt-arg", 'getopt(proc.args, "t:")[t] = v',
     syntax.Compare(syntax.Transformer("getopt", (syntax.FieldRef("proc.args"), val("t:", True)), "t"), "=",
                 val("v"))),
]


@pytest.mark.parametrize(("text", "tree"), [(t, n) for _, t, n in TREES], ids=[i for i, _, _ in TREES])
def test_tree(text: str, tree: syntax.Node) -> None:
    assert parse_condition(text) == tree


ERRORS = [
    ("empty", "", "filter input string is empty", 0),
    ("trailing", "a b", "unexpected token after 'a', expecting 'or', 'and'", 2),
    ("andb", "a andb", "expected blank or '(' after 'and'", 5),
    ("bad-op", "a.b ~ c", "expected a valid check operator", 4),
    ("unclosed", "(a.b = 1", "expected a ')' token", 8),
    ("field-arg", "evt.arg[] = x", "expected a valid field argument: a quoted string or a bare string", 8),
    ("word-op-needs-blank", "x.y containsvalue", "expected a valid check operator", 4),
    ("num-op-needs-number", "x.y <= a", "expected a number value", 7),
    ("bad-escape", 'x.y = "a\\qb"', "unsupported string escape sequence: \\q", 6),
    ("bad-hex", 'x.y = "\\xZZ"', "invalid hex char escape sequence: ZZ", 6),
    ("list-trailing-comma", "x.y in (a,)", "expected a string value", 10),
]


@pytest.mark.parametrize(("text", "message", "pos"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error(text: str, message: str, pos: int) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(text)
    assert info.value.message.startswith(message)
    assert info.value.pos == pos


def test_positions_point_into_the_text() -> None:
    text = "a and \n not proc.name in (x, y)"
    node = parse_condition(text)
    assert isinstance(node, syntax.And)
    negated = node.children[1]
    assert isinstance(negated, syntax.Not) and text[negated.pos:].startswith("not")
    check = negated.child
    assert isinstance(check, syntax.Compare) and text[check.pos:].startswith("proc.name")
    assert check.right is not None and text[check.right.pos] == "("


def test_depth_limit() -> None:
    parse_condition("(" * (MAX_DEPTH - 1) + "a" + ")" * (MAX_DEPTH - 1))
    with pytest.raises(ConditionSyntaxError, match="exceeded max depth limit"):
        parse_condition("(" * 100000)


def _rule_files(oracles: Path) -> list[Any]:
    paths = sorted([*oracles.glob("rules/*.yaml"), *oracles.glob("rules/old/**/*.yaml"),
                    *oracles.glob("falco-regression/rules/*.yaml")])
    return [pytest.param(p, id=str(p.relative_to(oracles))) for p in paths]


def conditions(path: Path) -> list[tuple[str, str]]:
    docs = yaml.safe_load(path.read_text()) or []
    return [(str(d.get("rule") or d.get("macro")), d["condition"]) for d in docs
            if isinstance(d, dict) and isinstance(d.get("condition"), str)]


@pytest.mark.oracle_cases("path", _rule_files)
def test_upstream_conditions_parse(path: Path) -> None:
    failures = []
    for name, text in conditions(path):  # falco_rules.local.yaml holds none: only comments
        try:
            parse_condition(text)
        except ConditionSyntaxError as e:
            failures.append(f"{name}: {e.message} at {e.pos}")
    assert not failures
