"""Passes: macro expansion, list expansion (Falco's substitution semantics), event-type derivation."""

from __future__ import annotations

import pytest

from tiercel.rules.language import syntax
from tiercel.rules.language.parser import parse_condition
from tiercel.rules.language.passes import (
    PASSES,
    InvalidListUse,
    MacroCycle,
    UndefinedMacro,
    event_type_set,
    event_types,
    event_types_legacy,
    expand_lists,
    expand_macros,
)


def macros(**defs: str) -> dict[str, syntax.Node]:
    return {name: parse_condition(text) for name, text in defs.items()}


def test_macros_expand_recursively() -> None:
    table = macros(open_read="evt.type = open and is_read", is_read="evt.is_open_read = true")
    got = expand_macros(parse_condition("open_read and proc.name = cat"), table)
    assert got == parse_condition("(evt.type = open and (evt.is_open_read = true)) and proc.name = cat")


def test_undefined_macro_has_its_position() -> None:
    with pytest.raises(UndefinedMacro) as info:
        expand_macros(parse_condition("a.b = 1 and missing"), {})
    assert info.value.name == "missing" and info.value.pos == 12


def test_macro_cycle() -> None:
    with pytest.raises(MacroCycle):
        expand_macros(parse_condition("m1"), macros(m1="m2", m2="not m1"))


LISTS = {
    "cat_binaries": ["cat"],
    "shells": ["bash", "sh"],
    "all_bins": ["shells", "cat_binaries", "ls"],          # lists may name lists
    "quoted": ['"one string"', "'two\\'s'"],              # YAML items that are quoted strings
    "spaced": ["a b"],
    "empty": [],
}

LIST_CASES = [
    ("in-parens", "proc.name in (shells)", "proc.name in (bash, sh)"),
    ("front", "proc.name in (cat_binaries, ps)", "proc.name in (cat, ps)"),
    ("mid", "proc.name in (ls, cat_binaries, ps)", "proc.name in (ls, cat, ps)"),
    ("bare-after-in", "proc.name in shells", "proc.name in (bash, sh)"),
    ("nested", "proc.name in (all_bins)", "proc.name in (bash, sh, cat, ls)"),
    ("scalar-one-item", "proc.name = cat_binaries", "proc.name = cat"),
    ("quoted-items", "fd.name in (quoted)", "fd.name in (\"one string\", 'two\\'s')"),
    ("spaced-item", "fd.name in (spaced)", 'fd.name in ("a b")'),
    ("empty-list", "proc.name in (empty, x)", "proc.name in (x)"),
    ("quoted-name-untouched", "proc.name in ('shells')", "proc.name in ('shells')"),
    ("substring-untouched", "proc.name in (shells_extra)", "proc.name in (shells_extra)"),
    ("pmatch", "fd.name pmatch (shells)", "fd.name pmatch (bash, sh)"),
    ("inside-not", "not proc.name in (shells)", "not proc.name in (bash, sh)"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in LIST_CASES], ids=[c[0] for c in LIST_CASES])
def test_lists(text: str, expected: str) -> None:
    assert expand_lists(parse_condition(text), LISTS) == parse_condition(expected)


def test_multi_item_list_as_scalar_is_an_error() -> None:
    with pytest.raises(InvalidListUse):
        expand_lists(parse_condition("proc.name = shells"), LISTS)


# Conditions of Falco's regression file falco_rules_warnings.yaml, with the event types current
# Falco (libsinsp's ppm_event_codes) derives; None means "any event" (Falco prints `all`).
EVTTYPES = [
    ("evt.type=execve", {"execve"}),
    ("proc.name=foo", None),
    ("evt.type!=execve", None),
    ("not evt.type=execve", None),
    ("evt.type=execve and not proc.name=foo", {"execve"}),
    ("evt.type=execve and proc.name=foo or evt.type=open", {"execve", "open"}),
    ("evt.type=execve and proc.name=foo or evt.type in (open, connect)", {"execve", "open", "connect"}),
    ("evt.type=execve and proc.name=foo or evt.type=open or evt.type!=connect", None),
    ("evt.type in (execve, open) or evt.type!=connect", None),
    ("not evt.type in (execve, open) or evt.type=connect", None),
    ("not proc.name=foo and evt.type=execve", {"execve"}),
    ("proc.name!=foo and evt.type in (execve, open)", {"execve", "open"}),
    ("evt.type in (open, open)", {"open"}),
    ("not (evt.type != open)", {"open"}),
    ("not (evt.type = open or evt.type = close) and evt.type in (open, read)", {"read"}),
    ("not (not evt.type = open and proc.name = x)", None),
    ("evt.type = open and evt.type = close", set()),
    ("not evt.type exists", set()),
]


@pytest.mark.parametrize(("text", "expected"), EVTTYPES, ids=[t for t, _ in EVTTYPES])
def test_event_types(text: str, expected: set[str] | None) -> None:
    got = event_types(parse_condition(text))
    assert got == (None if expected is None else frozenset(expected))


def test_event_types_with_universe_spells_out_complements() -> None:
    universe = {"open", "close", "execve"}
    assert event_types(parse_condition("evt.type != open"), universe) == {"close", "execve"}
    assert event_types(parse_condition("proc.name = x"), universe) is None
    assert event_type_set(parse_condition("evt.type != open")).cofinite


LEGACY = [
    ("not proc.name=foo and evt.type=execve", None),        # a `not` before evt.type: any event
    ("proc.name!=foo and evt.type=execve", None),
    ("evt.type=execve and not proc.name=foo", {"execve"}),
    ("evt.type=execve and proc.name!=foo or evt.type=open", None),   # != then a later evt.type
]


@pytest.mark.parametrize(("text", "expected"), LEGACY, ids=[t for t, _ in LEGACY])
def test_event_types_legacy(text: str, expected: set[str] | None) -> None:
    got = event_types_legacy(parse_condition(text))
    assert got == (None if expected is None else frozenset(expected))


def test_passes_tuple() -> None:
    assert (expand_macros, expand_lists, event_types) == PASSES
