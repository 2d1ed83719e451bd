"""Condition parser and compiler: any text ends in a tree, ConditionSyntaxError, or a compile error
(CompileError, FieldError): never another exception, a RecursionError or a stall."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import CORPUS, bounded, one_line
from tiercel.rules.fields.spec import FieldError
from tiercel.rules.fields.table import FieldTable
from tiercel.rules.language.compiler import CompileError, compile_condition
from tiercel.rules.language.parser import ConditionSyntaxError, parse_condition
from tiercel.testing.oracles import find_oracles

CHECKOUT = Path(__file__).resolve().parents[2]
TABLE = FieldTable()
TOKENS = ["evt.type", "proc.name", "fd.name", "proc.aname[2]", "proc.args", "fd.sport", "evt.arg.flags",
          "proc.env[HOME]", "container.id", "fd.net", "evt.rawres", "user.uid", "(", ")", "(", ")",
          "and", "or", "not", "=", "!=", "<", ">=", "in", "pmatch", "intersects", "contains",
          "icontains", "startswith", "endswith", "glob", "regex", "exists", "val(", "tolower(",
          "b64(", "'", '"', ",", "open", "'/etc/pass wd'", '"a\\"b"', "123", "-1", "0x1f",
          "10.0.0.0/8", "::1", "(a, b)", "'(a+)+$'", "'[z-a]'", "\\", "\x00", "é", "\u202e"]
words = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=4)), min_size=1, max_size=40)


def _check(text: str) -> None:
    with bounded(seconds=2):
        try:
            node = parse_condition(text)
        except ConditionSyntaxError as e:
            one_line(e.message)
            assert 0 <= e.pos <= len(text)
            return
        try:
            compile_condition(node, TABLE)
        except (CompileError, FieldError) as e:
            one_line(str(e))


@settings(max_examples=5000)
@given(words.map(" ".join))
def test_token_soup(text: str) -> None:
    _check(text)


@settings(max_examples=1000)
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    _check(text)


def _vectors() -> list[str]:
    root = find_oracles(CHECKOUT)
    if root is None:
        return []
    data = json.loads((root / "filter-language/vectors.json").read_text())
    return [v["input"] for v in data.get("vectors", []) if isinstance(v.get("input"), str) and v["input"]]


VECTORS = _vectors()


@pytest.mark.skipif(not VECTORS, reason="the oracle directory (filter-language/vectors.json) is absent")
@settings(max_examples=1500)
@given(st.integers(0, 1 << 30), st.integers(1, 8))
def test_mutated_vectors(seed: int, flips: int) -> None:
    rng = random.Random(seed)
    text = list(rng.choice(VECTORS))
    for _ in range(flips):
        op = rng.randrange(3)
        at = rng.randrange(len(text) + 1)
        if op == 0 and text:
            del text[min(at, len(text) - 1)]
        elif op == 1:
            text.insert(at, rng.choice("()'\"\\, =!<>[]anot"))
        else:
            text.insert(at, rng.choice(TOKENS))
    _check("".join(text))


def _corpus() -> list[str]:
    lines = (CORPUS / "conditions.txt").read_text().splitlines()
    return [json.loads(line) for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("text", _corpus())
def test_corpus(text: str) -> None:
    _check(text)
