"""Falco 0.31.1's 66 Kubernetes audit regression tests (falco_k8s_audit_tests.yaml), run through tiercel.

Each test replays its JSON trace with its rule files through `run_agent` (what `tiercel run -r ...
-e TRACE.json` does) and checks what Falco's harness checked: whether anything was detected
(`detect`), the priority of what was (`detect_level`), the exact per-rule counts of the summary
(`detect_counts`), and `stderr_contains`. The rule files are read in place from the oracles
(../shared/oracles/k8s-audit/falco-0.31.1), and so are the traces.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tiercel.commands.agent import run_agent
from tiercel.commands.options import RunOptions

SUITE = "k8s-audit/falco-0.31.1/test"   # under the oracle directory


class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _tests(oracles: Path) -> list[Any]:
    tests = yaml.load((oracles / SUITE / "falco_k8s_audit_tests.yaml").read_text(), Loader=_MuxLoader)
    return [pytest.param(name, t, id=name) for name, t in tests["trace_files"].items()]


def replay(suite: Path, rules: list[str], trace: str) -> tuple[list[dict[str, Any]], str, int]:
    """The alerts (JSON), stderr and exit status of `tiercel run -r RULES... -e TRACE --json`."""
    out, err = io.StringIO(), io.StringIO()
    opts = RunOptions(rules=[suite / r for r in rules], trace=suite / trace, json=True,
                      overrides=["stdout_output.enabled=true"])
    code = run_agent(opts, out, err)
    alerts = [orjson.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return alerts, err.getvalue(), code


def summary_counts(stderr: str) -> dict[str, int]:
    """`Triggered rules by rule name:` of the summary, as {rule: count}."""
    _, _, tail = stderr.partition("Triggered rules by rule name:\n")
    return {m[1]: int(m[2]) for m in re.finditer(r"^   (.+): (\d+)$", tail, re.M)}


def severity_counts(stderr: str) -> dict[str, int]:
    """`Rule counts by severity:` of the summary (Falco's short names: INFO, WARNING ...)."""
    _, _, tail = stderr.partition("Rule counts by severity:\n")
    block = tail.partition("Triggered rules by rule name:")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^   (\S+): (\d+)$", block, re.M)}


@pytest.mark.oracle_cases("name,t", _tests)
def test_falco_k8s_audit(oracles: Path, name: str, t: dict[str, Any]) -> None:
    suite = oracles / SUITE
    alerts, stderr, code = replay(suite, t["rules_file"], t["trace_file"])
    assert code == 0, stderr
    assert all(a["source"] == "k8s_audit" for a in alerts)
    if not t["detect"]:
        assert alerts == [], f"{name}: expected no detection"
    else:
        assert alerts, f"{name}: expected a detection"
        levels = t.get("detect_level", [])
        levels = [levels] if isinstance(levels, str) else levels
        assert set(severity_counts(stderr)) <= {lvl.upper() for lvl in levels}
    counts = summary_counts(stderr)
    assert sum(counts.values()) == len(alerts)
    for entry in t.get("detect_counts", []):
        for rule, n in entry.items():
            assert counts.get(rule, 0) == n, f"{name}: {rule}: {counts.get(rule, 0)} != {n}"
    if "stderr_contains" in t:
        assert t["stderr_contains"] in stderr
