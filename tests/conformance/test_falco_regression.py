"""Falco 0.31.1's regression suite (falco_tests.yaml, falco_tests_exceptions.yaml) run through tiercel.

Each test replays its capture with its rule files and options through `run_agent` (what `tiercel
run -r ... -e ...` does) and checks what the harness checked: `Events detected: N` (detect), the per-
priority counts (detect_level), exact per-rule counts (detect_counts), the rules warned about
(rules_warning), JSON alert keys (json_output) and the exit status of failing rule files. Tests whose
keys map to nothing in tiercel yet are listed with a reason in falco_regression_skip.yaml, and so are
the tests that run but do not pass yet (they count as failed in the printed `N passed, N failed`).

Mappings where Falco's wording is not tiercel's (matched on meaning):
- `-V FILE` (validate_rules_file) -> `tiercel validate FILE`: only the exit status is compared here;
  the exact messages are compared in tests/rules/test_validate_errors.py.
- stderr_contains on a failing rules file (exit_status 1) -> tiercel exits 1 and reports the error.
- detect_level `WARNING`/`INFO` -> tiercel's summary line `WARNING: N`/`INFORMATIONAL: N`.
- rules_warning -> every named rule appears in a warning of the load result.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tiercel.agent import RulesProblem, RunOptions, run_agent
from tiercel.rules.loader import load_rules
from tiercel.rules.validate import validate_command

SUITE = Path("/work/shared/oracles/falco-regression/test")
SKIPS = yaml.safe_load((Path(__file__).parent / "falco_regression_skip.yaml").read_text())
RESULTS: dict[str, bool] = {}
_LEVELS = {"INFO": "informational"}  # the suite's short name for Falco's Informational


class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _tests() -> list[Any]:
    out = []
    for name in ("falco_tests.yaml", "falco_tests_exceptions.yaml"):
        tests = yaml.load((SUITE / name).read_text(), Loader=_MuxLoader)["trace_files"]
        out += [pytest.param(test, t, id=test) for test, t in tests.items()]
    return out


def _skip_reason(name: str, t: dict[str, Any]) -> str | None:
    if name in SKIPS["tests"]:
        return str(SKIPS["tests"][name])
    for key, reason in SKIPS["keys"].items():
        if key in t:
            return f"{key}: {reason}"
    return None


def _list(v: Any) -> list[str]:
    return [] if v is None else (v if isinstance(v, list) else [v])


def _summary(err: str) -> tuple[int, dict[str, int], dict[str, int]]:
    detected = int(re.search(r"Events detected: (\d+)", err).group(1))  # type: ignore[union-attr]
    levels = {m[0].lower(): int(m[1]) for m in re.findall(r"^   ([A-Z]+): (\d+)$", err, re.M)}
    rules_part = err.split("Triggered rules by rule name:", 1)[1]
    counts = {m[0]: int(m[1]) for m in re.findall(r"^   (.+): (\d+)$", rules_part, re.M)}
    return detected, levels, counts


def _run(t: dict[str, Any]) -> tuple[int, str, str]:
    opts = RunOptions(rules=[SUITE / f for f in _list(t.get("rules_file"))] or [],
                      disable=_list(t.get("disabled_rules")), disable_tags=_list(t.get("disable_tags")),
                      only_tags=_list(t.get("run_tags")), priority=t.get("priority"),
                      json=bool(t.get("json_output", False)), trace=SUITE / t["trace_file"])
    if not opts.rules:
        opts.rules = [SUITE.parent / "rules/falco_rules.yaml"]
    out, err = io.StringIO(), io.StringIO()
    try:
        code = run_agent(opts, out, err)
    except RulesProblem as e:
        code = e.exit_code
        err.write(str(e))
    return code, out.getvalue(), err.getvalue()


def _check_validate(t: dict[str, Any]) -> None:
    code = validate_command([SUITE / f for f in _list(t["validate_rules_file"])])
    assert code == t.get("exit_status", 0)


def _check_run(t: dict[str, Any]) -> None:
    code, out, err = _run(t)
    assert code == t.get("exit_status", 0), err
    if code != 0:
        return
    detected, levels, counts = _summary(err)
    if "detect" in t:
        assert (detected > 0) == t["detect"], err
    if t.get("detect"):
        for level in _list(t.get("detect_level")):
            assert levels.get(_LEVELS.get(level, level.lower()), 0) > 0, f"no {level} alert: {err}"
    for entry in _list(t.get("detect_counts")):
        for rule, n in entry.items():
            assert counts.get(rule, 0) == n, f"{rule}: {counts.get(rule, 0)} != {n}"
    if t.get("json_output"):
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        assert lines
        for ln in lines:
            assert {"time", "rule", "priority", "output"} <= set(orjson.loads(ln))
    for pattern in _list(t.get("stdout_contains")):
        assert re.search(pattern, out), pattern


def _check_warnings(t: dict[str, Any]) -> None:
    _, result = load_rules([SUITE / f for f in _list(t.get("rules_file"))]
                           or [SUITE.parent / "rules/falco_rules.yaml"])
    text = "\n".join(w.headline() for w in result.warnings)
    expected = t["rules_warning"] or []
    for rule in expected:
        assert f"'{rule}'" in text, f"no warning about {rule}: {text}"
    if not expected:
        assert not [w for w in result.warnings if "rule '" in w.headline()], text


@pytest.mark.parametrize(("name", "t"), _tests())
def test_falco_regression(name: str, t: dict[str, Any]) -> None:
    reason = _skip_reason(name, t)
    if reason:
        pytest.skip(reason)
    RESULTS[name] = False
    failing = SKIPS["failing"].get(name)
    try:
        _check(t)
    except AssertionError:
        if failing:
            pytest.xfail(failing)
        raise
    assert not failing, "passes now: take it off the failing list"
    RESULTS[name] = True


def _check(t: dict[str, Any]) -> None:
    if "validate_rules_file" in t:
        _check_validate(t)
    else:
        _check_run(t)
        if "rules_warning" in t:
            _check_warnings(t)


def test_falco_regression_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs after the suite (same module, defined last): prints the pass count."""
    passed = sum(RESULTS.values())
    with capsys.disabled():
        print(f"\nfalco regression: {passed} passed, {len(RESULTS) - passed} failed")
    unlisted = [n for n, ok in RESULTS.items() if not ok and n not in SKIPS["failing"]]
    assert RESULTS and not unlisted
