"""Every default rule: at least one event that must alert and one that must not (no kernel needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.default_rules.cases import CASES
from tiercel.events.model import Event
from tiercel.rules import Ruleset, load_rules

RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    rs, result = load_rules([RULES, RULES / "incubating"], match_all=True)
    assert not result.errors and not result.warnings, result
    return rs


def fired(rs: Ruleset, event: Event) -> set[str]:
    return {m.rule.name for m in rs.match(event)}


@pytest.mark.parametrize(("rule", "event", "alerts"), [(r, e, a) for r, _, e, a in CASES],
                         ids=[f"{r}: {c}" for r, c, _, _ in CASES])
def test_case(ruleset: Ruleset, rule: str, event: Event, alerts: bool) -> None:
    assert (rule in fired(ruleset, event)) == alerts


def test_every_rule_has_a_positive_and_a_negative_case(ruleset: Ruleset) -> None:
    # the k8s_audit rules' cases are audit events: tests/k8saudit/test_tiercel_rules.py
    names = {r.name for r in ruleset.rules if r.source == "syscall"}
    pos = {r for r, _, _, a in CASES if a}
    neg = {r for r, _, _, a in CASES if not a}
    assert names - pos == set() and names - neg == set()
    assert {r for r, _, _, _ in CASES} <= names


def test_stable_directory_loads_alone() -> None:
    rs, result = load_rules([RULES])
    assert not result.errors and not result.warnings
    assert len(rs.rules) >= 30 and all("maturity_stable" in r.tags for r in rs.rules)
