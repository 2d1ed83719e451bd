"""Issue 27 rows 6 and 7: every file a user names goes through the one safe reader, and every odd
name or value on the command line ends in one clear line (or a normal run), never a traceback or a
hang: a path component over 255 bytes, a FIFO, /dev/zero, a NUL byte, a 5,000-digit index."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fuzz.conftest import bounded
from tiercel.cli import app

RULES = Path(__file__).parents[2] / "rules" / "tiercel_rules.yaml"
LONG = "/tmp/" + "x" * 300
HUGE_INDEX = "9" * 5000


@pytest.fixture
def fifo(tmp_path: Path) -> str:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


def _run(*args: str) -> tuple[int, str]:
    with bounded(seconds=20, megabytes=200):
        result = CliRunner().invoke(app, list(args))
    out = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in out and len(out) < 200_000, out[-2000:]
    return result.exit_code, out


CASES: dict[str, Callable[[str], list[str]]] = {
    "dry_run_long_rules": lambda f: ["run", "--dry-run", "-r", LONG],
    "V_long": lambda f: ["run", "-V", LONG],
    "L_long": lambda f: ["run", "-L", "-r", LONG],
    "support_long": lambda f: ["run", "--support", "-r", LONG],
    "validate_long": lambda f: ["validate", LONG],
    "config_long": lambda f: ["run", "--dry-run", "-c", LONG],
    "support_fifo": lambda f: ["run", "--support", "-r", f],
    "support_dev_zero": lambda f: ["run", "--support", "-r", "/dev/zero"],
    "L_fifo": lambda f: ["run", "-L", "-r", f],
    "V_fifo": lambda f: ["run", "-V", f],
    "o_huge_index": lambda f: ["run", "--dry-run", "-r", str(RULES),
                               "-o", f"append_output[{HUGE_INDEX}].match.tag=x"],
    "o_config_files_long": lambda f: ["run", "--dry-run", "-r", str(RULES), "-o", f"config_files={LONG}"],
    "o_config_files_fifo": lambda f: ["run", "--dry-run", "-r", str(RULES), "-o", f"config_files={f}"],
    "nul_filename": lambda f: ["run", "--dry-run", "-r", str(RULES),
                               "-o", 'file_output={enabled: true, filename: "a\\0b"}'],
    "nul_listen_address": lambda f: ["run", "--dry-run", "-r", str(RULES),
                                     "-o", 'webserver={enabled: true, listen_address: "a\\0b"}'],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_clear_line(case: str, fifo: str) -> None:
    code, out = _run(*CASES[case](fifo))
    if case.startswith("support"):   # --support still reports, the file said unreadable
        assert code == 0 and "unreadable: " in out
    else:
        assert code in (1, 2), out


def test_index_of_5000_digits_in_a_rule(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"- rule: r\n  desc: d\n  condition: evt.type=open and proc.aname[{HUGE_INDEX}]=sh\n"
                    "  output: o\n  priority: WARNING\n"
                    "- rule: s\n  desc: d\n  condition: proc.aname[\u00b2]=sh\n  output: o\n"
                    "  priority: WARNING\n")
    code, out = _run("validate", str(path))
    assert code == 1 and "an index of more than 9 digits" in out
    assert "needs a number as argument, not '\u00b2'" in out
