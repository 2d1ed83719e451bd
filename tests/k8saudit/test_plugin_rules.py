"""Today's k8saudit plugin rules (plugin-k8saudit/k8s_audit_rules.yaml, read in place) load unchanged
and fire on Falco 0.31.1's audit traces: each 0.31.1 test that detects with the stock rules alone
detects the same rule with today's (or the rule it was renamed to), among whatever else matches."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tiercel.commands.agent import run_agent
from tiercel.commands.options import RunOptions
from tiercel.rules import load_rules

PLUGIN_RULES = "k8s-audit/plugin-k8saudit/k8s_audit_rules.yaml"
SUITE = "k8s-audit/falco-0.31.1/test"
# 0.31.1's name -> today's: the RBAC rules were split by object
RENAMED = {"K8s Role/Clusterrole Created": "K8s ClusterRole Created",
           "K8s Role/Clusterrole Deleted": "K8s ClusterRole Deleted",
           "K8s Role/Clusterrolebinding Created": "K8s ClusterRoleBinding Created",
           "K8s Role/Clusterrolebinding Deleted": "K8s ClusterRoleBinding Deleted"}


class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _detecting(oracles: Path) -> list[Any]:
    """The 0.31.1 tests that detect with the stock rules only: (trace, the rules they expect)."""
    tests = yaml.load((oracles / SUITE / "falco_k8s_audit_tests.yaml").read_text(),
                      Loader=_MuxLoader)["trace_files"]
    return [pytest.param(t["trace_file"], [k for d in t["detect_counts"] for k in d], id=name)
            for name, t in tests.items()
            if t["detect"] and t.get("detect_counts") and not any("k8s_audit/" in r for r in t["rules_file"])]


def test_plugin_rules_load_unchanged(oracles: Path) -> None:
    ruleset, result = load_rules([oracles / PLUGIN_RULES])
    assert result.ok, result.render_text()
    assert not result.warnings, result.render_text()
    assert len(ruleset.enabled_rules()) > 40
    assert {r.source for r in ruleset.rules} == {"k8s_audit"}
    assert ruleset.sources() == {"k8s_audit"}
    assert any("k8saudit" in n for n in result.notices)


@pytest.mark.oracle_cases("trace,expected", _detecting)
def test_plugin_rules_fire_on_the_traces(oracles: Path, trace: str, expected: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    opts = RunOptions(rules=[oracles / PLUGIN_RULES], trace=oracles / SUITE / trace, json=True,
                      match_all=True)
    assert run_agent(opts, out, err) == 0, err.getvalue()
    fired = {orjson.loads(line)["rule"] for line in out.getvalue().splitlines() if line.startswith("{")}
    assert {RENAMED.get(r, r) for r in expected} <= fired
