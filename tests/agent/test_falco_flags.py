"""Falco's informational flags after `tiercel run`: each prints and exits without starting a source."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tiercel.cli import app

SUITE = Path("/work/shared/oracles/falco-regression/test")
RULES = SUITE / "rules/single_rule.yaml"
pytestmark = pytest.mark.skipif(not RULES.is_file(), reason="oracle files not present")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", *args])
    return result.exit_code, result.stdout


def test_L_text_and_json() -> None:
    code, out = run("-L", "-r", str(RULES))
    assert code == 0 and "open_from_cat  A process named cat does an open" in out
    code, out = run("-L", "-r", str(RULES), "-o", "json_output=true")
    info = orjson.loads(out)["rules"][0]["info"]
    assert (code, info["name"], info["priority"]) == (0, "open_from_cat", "Warning")


def test_l_unknown_rule_fails() -> None:
    assert run("-l", "nope", "-r", str(RULES))[0] == 1


@pytest.mark.parametrize("args", [["--list", "-N"], ["--list", "syscall", "--format", "json"],
                                  ["--list", "syscall", "--format", "markdown"], ["--list-events"]])
def test_listings(args: list[str]) -> None:
    code, out = run(*args)
    assert code == 0 and ("proc.name" in out or "syscall open" in out)
    if "json" in args:
        assert any(f["name"] == "proc.name" for f in orjson.loads(out))


def test_V_json_and_version_json_and_support() -> None:
    code, out = run("-V", str(RULES), "-o", "json_output=true")
    assert code == 0 and orjson.loads(out)["errors"] == []
    code, out = run("--version", "-o", "json_output=true")
    assert code == 0 and "tiercel_version" in orjson.loads(out)
    code, out = run("--support", "-r", str(RULES))
    doc = orjson.loads(out)
    assert code == 0 and doc["rules_files"][0]["sha256sum"] and "system_info" in doc


def test_dry_run_starts_nothing() -> None:
    assert run("--dry-run", "-r", str(RULES))[0] == 0


def test_M_pidfile_and_A_on_replay(tmp_path: Path) -> None:
    pid = tmp_path / "pid"
    result = CliRunner().invoke(app, ["run", "-A", "-M", "5", "-P", str(pid), "-r", str(RULES),
                                      "-o", "stdout_output.enabled=false",
                                      "-e", str(SUITE / "trace_files/cat_write.scap")])
    assert result.exit_code == 0 and "-A changes nothing" in result.stderr
    assert not pid.exists()  # removed at exit
