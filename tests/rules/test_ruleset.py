"""The evttype-indexed ruleset: candidates, order, selection, errors, and plans equal to rule-by-rule."""

from __future__ import annotations

import random
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tiercel.events.model import Event
from tiercel.rules.files.loader import load_rules, load_rules_text
from tiercel.rules.language import syntax
from tiercel.rules.language.parser import parse_condition
from tiercel.rules.matching.plan import specialise
from tiercel.rules.matching.ruleset import CompiledRule, Ruleset
from tiercel.rules.output import OutputFormat
from tiercel.testing import streams
from tiercel.testing.events import event as build_event
from tiercel.testing.events import file_fd, process


def rule(rid: int, name: str, evttypes: set[str] | None, pred: Callable[[Event], bool],
         priority: int = 4, tags: tuple[str, ...] = (), enabled: bool = True) -> CompiledRule:
    return CompiledRule(id=rid, name=name, desc="", priority=priority, source="syscall", tags=tags,
                        enabled=enabled, evttypes=frozenset(evttypes) if evttypes else None,
                        predicate=pred, output=OutputFormat("", ()))


def event(etype: str, name: str = "/etc/passwd", comm: str = "cat") -> Event:
    return build_event(etype, res=None, fd=file_fd(name), proc=process(comm, pid=5, ppid=1), ts=1)


def test_only_candidate_rules_are_evaluated() -> None:
    calls: list[str] = []

    def seen(name: str) -> Callable[[Event], bool]:
        return lambda e: calls.append(name) or False  # type: ignore[func-returns-value]

    rs = Ruleset([rule(1, "open", {"open", "openat"}, seen("open")),
                  rule(2, "exec", {"execve"}, seen("exec")),
                  rule(3, "any", None, seen("any"))])
    rs.match(event("openat"))
    assert calls == ["open", "any"]
    calls.clear()
    rs.match(event("close"))
    assert calls == ["any"]
    assert rs.needed_event_types() == {"open", "openat", "execve"}
    assert rs.matches_any_type


def test_first_match_wins_in_definition_order_unless_match_all() -> None:
    rules = [rule(1, "a", {"open"}, lambda e: True), rule(2, "b", None, lambda e: True)]
    assert [m.rule.name for m in Ruleset(rules).match(event("open"))] == ["a"]
    assert [m.rule.name for m in Ruleset(rules, match_all=True).match(event("open"))] == ["a", "b"]


def test_selection_like_falco_flags() -> None:
    rs = Ruleset([rule(1, "open_from_cat", {"open"}, bool, tags=("a",), priority=4),
                  rule(2, "exec_from_cat", {"open"}, bool, tags=("b",), priority=6),
                  rule(3, "access_from_cat", {"open"}, bool, tags=("a", "c"), priority=3),
                  rule(4, "off", {"open"}, bool, enabled=False)])
    names = lambda: [r.name for r in rs.enabled_rules()]  # noqa: E731
    assert names() == ["open_from_cat", "exec_from_cat", "access_from_cat"]
    assert rs.disable_matching("from_c") == 3 and names() == []
    rs = Ruleset(rs.rules)
    rs.disable_tags(["c"])
    assert names() == ["open_from_cat", "exec_from_cat"]
    rs = Ruleset(rs.rules)
    rs.only_tags(["b", "c"])
    assert names() == ["exec_from_cat", "access_from_cat"]
    rs = Ruleset(rs.rules)
    rs.min_priority(4)
    assert names() == ["open_from_cat", "access_from_cat"]
    rs.enable("off")
    assert "off" in names()


def test_a_raising_predicate_is_counted_not_fatal() -> None:
    def boom(e: Event) -> bool:
        raise ValueError("bad event")
    rs = Ruleset([rule(1, "bad", {"open"}, boom), rule(2, "good", {"open"}, lambda e: True)])
    assert [m.rule.name for m in rs.match(event("open"))] == ["good"]
    assert rs.errors == 1


@pytest.mark.parametrize(("cond", "etype", "expected"), [
    ("evt.type = open and proc.name = cat", "open", "proc.name = cat"),
    ("evt.type = open and proc.name = cat", "openat", False),
    ("evt.type in (open, openat) or proc.name = cat", "openat", True),
    ("evt.type != open and proc.name = cat", "execve", "proc.name = cat"),
    ("not evt.type = open", "open", False),
    ("proc.name = cat and not evt.num = 0", "open", "proc.name = cat"),
])
def test_specialise(cond: str, etype: str, expected: str | bool) -> None:
    got = specialise(parse_condition(cond), etype)
    want = expected if isinstance(expected, bool) else parse_condition(expected)
    assert got == want


RULES = """
- list: cat_binaries
  items: [cat]
- macro: open_read
  condition: evt.type in (open, openat) and fd.typechar = 'f'
- rule: read_etc
  desc: d
  condition: open_read and fd.name startswith /etc and proc.name in (cat_binaries)
  output: "%proc.name read %fd.name"
  priority: WARNING
  tags: [filesystem]
- rule: read_any
  desc: d
  condition: open_read and proc.name in (cat_binaries)
  output: "%proc.name read something"
  priority: INFO
"""


def test_loaded_rules_match_through_plans() -> None:
    rs, result = load_rules_text([("r.yaml", textwrap.dedent(RULES))])
    assert result.ok, result.render_text()
    assert [m.rule.name for m in rs.match(event("openat"))] == ["read_etc"]
    assert [m.rule.name for m in rs.match(event("openat", "/tmp/x"))] == ["read_any"]
    assert rs.match(event("openat", comm="ls")) == []
    assert rs.match(event("execve")) == []
    m = rs.match(event("open"))[0]
    assert m.rule.render_output(m.event)[0] == "cat read /etc/passwd"


def test_plans_agree_with_rule_by_rule_on_upstream_rules(oracles: Path) -> None:
    """The shared-check plan must match exactly what each rule's own predicate says."""
    files = [oracles / "rules/falco_rules.yaml", oracles / "rules/falco-incubating_rules.yaml"]
    fast, result = load_rules(files, match_all=True)
    assert result.ok
    slow = Ruleset(fast.rules, match_all=True)         # no compile_: rule by rule
    rng = random.Random(3)
    procs = streams.build_processes(rng, 200)
    hits = 0
    for i in range(3000):
        ev = streams.make_event(rng, i + 1, 1_700_000_000_000_000_000 + i, procs)
        a = [m.rule.name for m in fast.match(ev)]
        assert a == [m.rule.name for m in slow.match(ev)], ev
        hits += bool(a)
    assert hits > 0 and fast.errors == slow.errors == 0


def test_directory_of_rules_loads_in_name_order(oracles: Path) -> None:
    rules_dir = oracles / "falco-regression/test/rules/rules_dir"
    rs, result = load_rules([rules_dir])
    assert result.ok
    assert [r.name for r in rs.rules] == ["open_from_cat", "exec_from_cat", "access_from_cat"]


def test_shipped_rules_directory_loads() -> None:
    rs, result = load_rules([Path(__file__).parents[2] / "rules"])
    assert result.ok, result.render_text()
    assert rs.rules


def test_node_is_kept_for_plans() -> None:
    rs, _ = load_rules_text([("r.yaml", textwrap.dedent(RULES))])
    assert all(isinstance(r.node, syntax.Node) for r in rs.rules)
