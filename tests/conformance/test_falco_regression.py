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
- rules_warning -> every named rule appears in a warning of the load result.
- rules_events (Falco's `-v` "Event types for rule R: a,b") -> the loaded Ruleset's `evttypes` of R
  (None = `all`); the 10 rules where Falco 0.31's Lua loader said `all` and libsinsp (Falco >= 0.32,
  tiercel) derives the exact set are compared with the modern set, from the same table as
  tests/rules/test_upstream_rules.py (MODERN_DERIVATION).
- conf_file (test/confs/*.yaml) -> a temporary tiercel config holding the Falco keys tiercel has;
  the keys it has not are listed in falco_regression_skip.yaml (`falco_config_keys_ignored`) with
  why, and an unlisted one fails the test. `/tmp/falco_outputs/` in the conf and in
  output_strictly_contains becomes the test's tmp_path, so file and program outputs write real files.
  Tests without conf_file run on tiercel's defaults (Falco's ../falco.yaml would also turn on syslog
  and its webserver, which no test checks).
- Like Falco's harness, every run gets `-o json_output=`, `-o json_include_output_property=`,
  `-o json_include_tags_property=` (the test's value, default false/true/true) and
  `-o time_format_iso_8601=` (time_iso_8601), plus `-o json_format=falco-0.31`: the suite's JSON
  oracle (output_files/*.json) is Falco 0.31's exact line, which has no `hostname`.
- output_strictly_contains -> every line of the oracle file appears, in order, in stdout or the file.
- stdout_/stderr_(not_)contains -> regex search, except the checks listed under `not_checked` in
  falco_regression_skip.yaml (each with why), and stderr_contains of a failing rules file (above).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.rules.test_upstream_rules import MODERN_DERIVATION
from tiercel.commands.agent import run_agent
from tiercel.commands.options import RunOptions
from tiercel.common.errors import TiercelError
from tiercel.config import Config
from tiercel.rules import load_rules, validate_command

SUITE = "falco-regression/test"  # under the oracle directory
SKIPS = yaml.safe_load((Path(__file__).parent / "falco_regression_skip.yaml").read_text())
RESULTS: dict[str, bool] = {}
FALCO_TMP = "/tmp/falco_outputs"
_TIERCEL_KEYS = set(Config.yaml_keys())


class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _tests(oracles: Path) -> list[Any]:
    out = []
    for name in ("falco_tests.yaml", "falco_tests_exceptions.yaml"):
        tests = yaml.load((oracles / SUITE / name).read_text(), Loader=_MuxLoader)["trace_files"]
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


def _tiercel_config(conf: Path, tmp: Path) -> Path:
    """The Falco conf's keys that tiercel has, as a tiercel config file under `tmp`."""
    falco = yaml.safe_load(conf.read_text()) or {}
    ignored = SKIPS["falco_config_keys_ignored"]
    unknown = set(falco) - _TIERCEL_KEYS - set(ignored)
    assert not unknown, f"{conf.name}: Falco keys neither mapped nor listed as ignored: {unknown}"
    kept = {k: v for k, v in falco.items() if k in _TIERCEL_KEYS}
    path = tmp / "tiercel.yaml"
    path.write_text(yaml.safe_dump(kept).replace(FALCO_TMP, str(tmp)))
    return path


def _overrides(t: dict[str, Any]) -> list[str]:
    def word(v: Any) -> str:
        return "true" if v else "false"
    return [f"json_include_output_property={word(t.get('json_include_output_property', True))}",
            f"json_include_tags_property={word(t.get('json_include_tags_property', True))}",
            f"time_format_iso_8601={word(t.get('time_iso_8601', False))}",
            "json_format=falco-0.31"]


def _run(suite: Path, t: dict[str, Any], tmp: Path) -> tuple[int, str, str]:
    opts = RunOptions(rules=[suite / f for f in _list(t.get("rules_file"))] or [],
                      disable=_list(t.get("disabled_rules")), disable_tags=_list(t.get("disable_tags")),
                      only_tags=_list(t.get("run_tags")), priority=t.get("priority"),
                      json=bool(t.get("json_output", False)), trace=suite / t["trace_file"],
                      config=_tiercel_config(suite / t["conf_file"], tmp) if "conf_file" in t else None,
                      overrides=_overrides(t))
    if not opts.rules:
        opts.rules = [suite.parent / "rules/falco_rules.yaml"]
    out, err = io.StringIO(), io.StringIO()
    try:
        code = run_agent(opts, out, err)
    except TiercelError as e:  # RulesProblem (exit 1), ConfigError (exit 2)
        code = e.exit_code
        err.write(str(e))
    return code, out.getvalue(), err.getvalue()


def _check_validate(suite: Path, t: dict[str, Any]) -> None:
    code = validate_command([suite / f for f in _list(t["validate_rules_file"])])
    assert code == t.get("exit_status", 0)


def _check_run(suite: Path, name: str, t: dict[str, Any], tmp: Path) -> None:
    code, out, err = _run(suite, t, tmp)
    assert code == t.get("exit_status", 0), err
    if code != 0 and "conf_file" not in t:
        return  # a failing rules file: its wording is compared in tests/rules/test_validate_errors.py
    _check_patterns(name, t, out, err)
    if code != 0:
        return
    detected, levels, counts = _summary(err)
    if "detect" in t:
        assert (detected > 0) == t["detect"], err
    if t.get("detect"):
        for level in _list(t.get("detect_level")):
            assert levels.get(level.lower(), 0) > 0, f"no {level} alert: {err}"
    for entry in _list(t.get("detect_counts")):
        for rule, n in entry.items():
            assert counts.get(rule, 0) == n, f"{rule}: {counts.get(rule, 0)} != {n}"
    if t.get("json_output"):
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        assert lines
        keys = {"time", "rule", "priority"}
        keys |= {"output"} if t.get("json_include_output_property", True) else set()
        keys |= {"tags"} if t.get("json_include_tags_property", True) else set()
        for ln in lines:
            assert keys <= set(orjson.loads(ln))
    for entry in _list(t.get("output_strictly_contains")):
        for where, oracle in entry.items():
            got = out if where == "stdout" else Path(where.replace(FALCO_TMP, str(tmp))).read_text()
            _assert_in_order((suite / oracle).read_text().splitlines(), got.splitlines(), where)


def _check_patterns(name: str, t: dict[str, Any], out: str, err: str) -> None:
    not_checked = SKIPS["not_checked"].get(name, {})
    for key, text in (("stdout", out), ("stderr", err)):
        for pattern in _list(t.get(f"{key}_contains")):
            if f"{key}_contains" not in not_checked:
                assert re.search(pattern, text), f"{key} lacks {pattern!r}: {text[-2000:]}"
        for pattern in _list(t.get(f"{key}_not_contains")):
            assert not re.search(pattern, text), f"{key} has {pattern!r}"


def _assert_in_order(expected: list[str], got: list[str], where: str) -> None:
    """Every expected line appears in `got`, in the same order (other lines may come between)."""
    it = iter(got)
    for line in expected:
        assert any(g == line for g in it), f"{where}: {line!r} missing or out of order in {got[:10]}"


def _check_rules_events(suite: Path, t: dict[str, Any]) -> None:
    ruleset, _ = load_rules([suite / f for f in _list(t.get("rules_file"))])
    got = {r.name: r.evttypes for r in ruleset.rules}
    for entry in t["rules_events"]:
        for rule, types in entry.items():
            want = MODERN_DERIVATION.get(rule, set(types))
            assert set(got[rule] or {"all"}) == want, f"{rule}: {got[rule]} != {want}"


def _check_warnings(suite: Path, t: dict[str, Any]) -> None:
    _, result = load_rules([suite / f for f in _list(t.get("rules_file"))]
                           or [suite.parent / "rules/falco_rules.yaml"])
    text = "\n".join(w.headline() for w in result.warnings)
    expected = t["rules_warning"] or []
    for rule in expected:
        assert f"'{rule}'" in text, f"no warning about {rule}: {text}"
    if not expected:
        assert not [w for w in result.warnings if "rule '" in w.headline()], text


@pytest.mark.oracle_cases(("name", "t"), _tests)
def test_falco_regression(name: str, t: dict[str, Any], tmp_path: Path, oracles: Path) -> None:
    reason = _skip_reason(name, t)
    if reason:
        pytest.skip(reason)
    RESULTS[name] = False
    failing = SKIPS["failing"].get(name)
    try:
        _check(oracles / SUITE, name, t, tmp_path)
    except AssertionError:
        if failing:
            pytest.xfail(failing)
        raise
    assert not failing, "passes now: take it off the failing list"
    RESULTS[name] = True


def _check(suite: Path, name: str, t: dict[str, Any], tmp: Path) -> None:
    if "validate_rules_file" in t:
        _check_validate(suite, t)
    else:
        _check_run(suite, name, t, tmp)
        if "rules_warning" in t:
            _check_warnings(suite, t)
        if "rules_events" in t:
            _check_rules_events(suite, t)


def test_falco_regression_summary(oracles: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs after the suite (same module, defined last): prints the pass count."""
    passed = sum(RESULTS.values())
    with capsys.disabled():
        print(f"\nfalco regression: {passed} passed, {len(RESULTS) - passed} failed")
    unlisted = [n for n, ok in RESULTS.items() if not ok and n not in SKIPS["failing"]]
    assert RESULTS and not unlisted
