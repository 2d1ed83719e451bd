"""Broken rule files: the exact message and file:line:col of every error.

`golden/*.yaml` are broken rule files; `golden/expected.yaml` lists, per file, every error headline
(`file:line:col: context: message`) the loader must report, in order. Falco's own validation cases
(falco_tests.yaml, falco_tests_exceptions.yaml) are run from the oracle as a second table.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tiercel.rules.files.loader import load_rules, load_rules_text
from tiercel.rules.files.validate import validate_command

GOLDEN = Path(__file__).parent / "golden"
EXPECTED: dict[str, list[str]] = yaml.safe_load((GOLDEN / "expected.yaml").read_text())
FALCO_TEST = "falco-regression/test"  # under the oracle directory


@pytest.mark.parametrize("case", sorted(EXPECTED), ids=str)
def test_golden_errors(case: str) -> None:
    name = f"{case}.yaml"
    _, result = load_rules_text([(name, (GOLDEN / name).read_text())])
    assert [d.headline() for d in result.errors] == EXPECTED[case]


def test_every_golden_file_has_expectations() -> None:
    files = {p.stem for p in GOLDEN.glob("*.yaml")} - {"expected"}
    assert files == set(EXPECTED)


def test_caret_under_the_column() -> None:
    name = "unknown_macro.yaml"
    _, result = load_rules_text([(name, (GOLDEN / name).read_text())])
    lines = result.render_text().splitlines()
    assert lines[1] == "      condition: spawned_process and shell_procs"
    assert lines[2].index("^") == lines[1].index("shell_procs")


def test_validate_command_exit_status_and_report(tmp_path: Path) -> None:
    out = io.StringIO()
    assert validate_command([GOLDEN / "many_errors.yaml"], out=out) == 1
    text = out.getvalue()
    assert "many_errors.yaml:3:51: rule 'First broken' -> condition: expected a ')' token" in text
    assert "many_errors.yaml: 2 errors" in text
    good = tmp_path / "good.yaml"
    good.write_text("- rule: r\n  desc: d\n  condition: proc.name = cat\n  output: o\n  priority: INFO\n")
    out = io.StringIO()
    assert validate_command([good], out=out) == 0          # a warning (no evttype) does not fail
    assert "warning: rule 'r': Rule matches too many evt.type values" in out.getvalue()


def test_validate_json(tmp_path: Path) -> None:
    out = io.StringIO()
    assert validate_command([GOLDEN / "unknown_macro.yaml"], json_out=True, out=out) == 1
    doc = yaml.safe_load(out.getvalue())
    err = doc["errors"][0]
    assert (err["code"], err["line"], err["col"]) == ("LOAD_ERR_UNKNOWN_MACRO", 6, 34)


# -- Falco's validation cases ---------------------------------------------------------------------

class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def _falco_cases(oracles: Path) -> list[Any]:
    cases = []
    for name in ("falco_tests.yaml", "falco_tests_exceptions.yaml"):
        tests = yaml.load((oracles / FALCO_TEST / name).read_text(), Loader=_MuxLoader)["trace_files"]
        for test, t in tests.items():
            files = t.get("validate_rules_file") or t.get("rules_file")
            expected = t.get("stdout_is") or t.get("stdout_contains") or t.get("stderr_contains")
            if t.get("exit_status") != 1 or not isinstance(expected, str) or "conf_file" in t \
                    or "run_tags" in t:
                continue
            lines = [x for x in expected.splitlines()
                     if x and "errors:" not in x and not x.startswith(".*")]
            cases.append(pytest.param(files, lines[0], id=test))
    return cases


def _fragment(falco_message: str) -> str:
    """The part of Falco's message that tiercel must say too (the rest is Falco's wrapping)."""
    m = re.match(r'Compilation error when compiling "[^"]*": (.*)', falco_message)
    if m:
        falco_message = m[1]
    if re.match(r"\d+: syntax error, unexpected '\w+', (expecting .*)", falco_message):
        return re.match(r"\d+: syntax error, unexpected '\w+', (expecting .*)", falco_message)[1]
    m = re.match(r"Invalid output format '.*': '(.*)'", falco_message)
    if m:
        return m[1]
    m = re.search(r"error filter_check called with nonexistent field (\S+)", falco_message)
    if m:
        return f"'{m[1]}'"
    return falco_message


@pytest.mark.oracle_cases(("files", "falco_message"), _falco_cases)
def test_falco_validation_cases(files: list[str], falco_message: str, oracles: Path) -> None:
    _, result = load_rules([oracles / FALCO_TEST / f for f in files])
    fragment = _fragment(falco_message)
    assert result.errors, "expected an error"
    assert any(fragment in d.message for d in result.errors), [d.headline() for d in result.errors]
    # the files before the last one load cleanly (Falco prints "<file>: Ok" for them)
    last = str(oracles / FALCO_TEST / files[-1])
    assert all(d.span is None or d.span.file == last for d in result.errors)


def test_falco_syntax_error_position_in_appended_condition(oracles: Path) -> None:
    """`evt.type=execve foo`: the error points at `foo`, in the file that appended it."""
    files = ["rules/invalid_base_macro.yaml", "rules/invalid_append_macro.yaml"]
    _, result = load_rules([oracles / FALCO_TEST / f for f in files])
    span = result.errors[0].span
    assert span is not None
    line = (oracles / FALCO_TEST / files[1]).read_text().splitlines()[span.line - 1]
    assert line[span.col - 1:].startswith("foo")
