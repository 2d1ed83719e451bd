"""Upstream rule files load unchanged: no errors, every rule compiles, event types as Falco derives them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tiercel.rules.files.collector import Collector
from tiercel.rules.files.diagnostics import LOAD_NO_EVTTYPE, LoadResult
from tiercel.rules.files.loader import load_rules
from tiercel.rules.files.reader import read_items

FALCO_TEST = "falco-regression/test"  # under the oracle directory


def _collected_rules(path: Path) -> int:
    result = LoadResult()
    col = Collector(result)
    col.collect(read_items(str(path), path.read_text(), result))
    return sum(1 for r in col.rules.values() if not r.unknown_source)


def _upstream_files(oracles: Path) -> list[Any]:
    paths = [*sorted((oracles / "rules").rglob("*.yaml")),
             oracles / "falco-regression/rules/falco_rules.yaml"]
    return [pytest.param(p, id=str(p.relative_to(oracles))) for p in paths]


@pytest.mark.oracle_cases("path", _upstream_files)
def test_upstream_file_validates_and_every_rule_compiles(path: Path) -> None:
    ruleset, result = load_rules([path])
    assert result.ok, result.render_text()
    assert len(ruleset.rules) == _collected_rules(path)
    assert all(r.evttypes is None or r.evttypes for r in ruleset.rules)


def test_stable_and_incubating_load_together(oracles: Path) -> None:
    ruleset, result = load_rules([oracles / "rules/falco_rules.yaml",
                                  oracles / "rules/falco-incubating_rules.yaml"])
    assert result.ok
    assert len(ruleset.enabled_rules()) == len(ruleset.rules)


def test_falco_031_default_rules_load_without_warnings(oracles: Path) -> None:
    """falco_tests.yaml `builtin_rules_no_warnings`: the 0.31 default rules warn about nothing."""
    _, result = load_rules([oracles / "falco-regression/rules/falco_rules.yaml"])
    assert result.ok and not result.warnings, result.render_text()


class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _falco_tests(oracles: Path) -> dict[str, Any]:
    tests: dict[str, Any] = yaml.load((oracles / FALCO_TEST / "falco_tests.yaml").read_text(),
                                      Loader=_MuxLoader)["trace_files"]
    return tests


# Falco 0.31's Lua loader gave up ("all") when a `not`/`!=` on another field came before the
# evt.type check; libsinsp's ppm_event_codes (Falco >= 0.32, and tiercel) derives the exact set.
MODERN_DERIVATION = {
    "not_before_trailing_evttype": {"execve", "open"},
    "not_equals_before_trailing_evttype": {"execve", "open"},
    "not_equals_before_in": {"connect", "execve", "open"},
    "not_before_in": {"connect", "execve", "open"},
    "not_in_before_in": {"connect", "execve", "open"},
    "leading_in_not_equals_before_evttype": {"connect", "execve", "open"},
    "not_equals_before_evttype": {"execve"},
    "not_equals_before_in_evttype": {"execve", "open"},
    "not_before_evttype": {"execve"},
    "not_before_evttype_using_in": {"execve", "open"},
}


def _rules_events_cases(oracles: Path) -> list[Any]:
    cases = []
    for name, t in _falco_tests(oracles).items():
        for entry in t.get("rules_events", []):
            for rule, types in entry.items():
                expected = MODERN_DERIVATION.get(rule, set(types))
                cases.append(pytest.param(t["rules_file"], rule, expected, id=f"{name}-{rule}"))
    return cases


@pytest.mark.oracle_cases(("files", "rule", "types"), _rules_events_cases)
def test_event_types_as_falco_derives_them(files: list[str] | str, rule: str, types: set[str],
                                           oracles: Path) -> None:
    files = [files] if isinstance(files, str) else files
    ruleset, _ = load_rules([oracles / FALCO_TEST / f for f in files])
    got = {r.name: r.evttypes for r in ruleset.rules}[rule]
    assert (got if got is not None else {"all"}) == types


def test_no_evttype_warnings_name_falcos_rules(oracles: Path) -> None:
    """`rules_warning` of test_warnings: exactly these rules get the no-event-type warning."""
    t = _falco_tests(oracles)["test_warnings"]
    _, result = load_rules([oracles / FALCO_TEST / t["rules_file"]])
    warned = {w.context[0].removeprefix("rule '").removesuffix("'")
              for w in result.warnings if w.code == LOAD_NO_EVTTYPE}
    # Falco 0.31 warned only for a leading `not`/`!=` pattern; every rule it names is warned here too.
    assert set(t["rules_warning"]) <= warned


@pytest.mark.parametrize("name", ["falco-deprecated_rules.yaml", "falco-sandbox_rules.yaml",
                                  "falco-incubating_rules.yaml", "falco_rules.yaml"])
def test_disabled_upstream_rules_stay_disabled(name: str, oracles: Path) -> None:
    ruleset, _ = load_rules([oracles / "rules" / name])
    text = (oracles / "rules" / name).read_text()
    assert len(ruleset.rules) - len(ruleset.enabled_rules()) == text.count("enabled: false")
