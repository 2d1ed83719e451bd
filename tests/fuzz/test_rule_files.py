"""The rule loader: any file text ends in a ruleset and a LoadResult whose every diagnostic is one
line: never an exception out of load_rules_text, a RecursionError, minutes of expansion or gigabytes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import CORPUS, bounded, one_line
from tests.fuzz.test_conditions import CHECKOUT, TOKENS
from tiercel.rules.files.loader import load_rules_text
from tiercel.testing.oracles import find_oracles

NAMES = ["m0", "m1", "m2", "l0", "l1", "r0", "shell_procs", "open_read"]
KEYS = ["rule", "macro", "list", "desc", "condition", "output", "priority", "items", "append",
        "override", "exceptions", "enabled", "tags", "source", "required_engine_version",
        "skip-if-unknown-filter", "warn_evttypes", "fields", "comps", "values", "name"]
SCALARS = ["evt.type = open", "m0 and m1", "m1 or m1", "proc.name in (l0)", "l1", "[l0, l0]", "INFO",
           "WARNING", "true", "no", "0.11.0", "!!int x", "&a [1]", "*a", "[*a, *a]", "{a: 1, a: 2}",
           "[proc.name, fd.name]", "[=, startswith]", "[[cat, /dev]]", "replace", "'%proc.name %fd.name'",
           "~", "''", "|\n    multi\n    line", "!= tag", "[" * 30 + "]" * 30]


@st.composite
def rule_files(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["rule", "macro", "list"]))
        lines.append(f"- {kind}: {draw(st.sampled_from(NAMES))}")
        for _ in range(draw(st.integers(0, 6))):
            key = draw(st.sampled_from(KEYS))
            value = draw(st.one_of(st.sampled_from(SCALARS),
                                   st.lists(st.sampled_from(TOKENS), max_size=8).map(" ".join)))
            lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"


def _check(text: str) -> None:
    with bounded(seconds=5):
        _, result = load_rules_text([("fuzz.yaml", text)])
    for d in result.all():
        one_line(d.headline())


@settings(max_examples=1000)
@given(rule_files())
def test_generated_rule_files(text: str) -> None:
    _check(text)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_text(text: str) -> None:
    _check(text)


def _upstream() -> str:
    root = find_oracles(CHECKOUT)
    return (root / "rules/falco_rules.yaml").read_text() if root is not None else ""


UPSTREAM = _upstream()


@pytest.mark.skipif(not UPSTREAM, reason="the oracle directory (rules/falco_rules.yaml) is absent")
@settings(max_examples=100)
@given(st.integers(0, 1 << 30))
def test_mutated_upstream_rules(seed: int) -> None:
    rng = random.Random(seed)
    lines = UPSTREAM.splitlines()
    start = rng.randrange(len(lines))
    chunk = lines[start:start + rng.randint(20, 400)]
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(chunk))
        line = chunk[i]
        j = rng.randrange(len(line) + 1)
        noise = rng.choice(["&x ", "*x", ": ", "'", '"', "[", "]", " and ", "!!str ", "\t", ""])
        chunk[i] = line[:j] + noise + line[j + rng.randint(0, 3):]
    _check("\n".join(chunk) + "\n")


@pytest.mark.parametrize("path", sorted((CORPUS / "rules").glob("*.yaml")), ids=lambda p: p.stem)
def test_corpus(path: Path) -> None:
    _check(path.read_text())
