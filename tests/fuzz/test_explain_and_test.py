"""`tiercel explain --events` and `tiercel test` on inputs that once ended in tracebacks or hangs
(issue 27 rows 6, 7, 10): each ends in one clear line per problem, exit 1 or 2, output bounded;
a damaged capture still shows what was explained before the damage."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fuzz.conftest import CORPUS, bounded
from tiercel.cli import app

ROOT = Path(__file__).parents[2]
RULES = ROOT / "rules" / "tiercel_rules.yaml"
CAPTURE = Path("/work/shared/oracles/libs-captures/curl_google.scap")   # read in place
RULE = "Read sensitive file untrusted"


def _run(*args: str) -> tuple[int, str]:
    with bounded(seconds=20, megabytes=200):
        result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    out = result.output
    assert "Traceback" not in out and len(out) < 100_000, out[-2000:]
    return result.exit_code, out


@pytest.mark.parametrize("path", sorted((CORPUS / "explain").glob("*.json")), ids=lambda p: p.stem)
def test_explain_events_corpus(path: Path) -> None:
    code, out = _run("explain", RULE, "-r", str(RULES), "--events", str(path), "--all-events")
    if path.stem.startswith("num_"):
        assert code == 2 and "evt.num must be a whole number" in out
    else:
        assert code == 0


@pytest.mark.parametrize("name", ["missing", "directory", "fifo", "dev_zero", "long_name"])
def test_explain_events_unreadable(tmp_path: Path, name: str) -> None:
    os.mkfifo(tmp_path / "fifo")
    path = {"missing": str(tmp_path / "nope"), "directory": str(tmp_path), "fifo": str(tmp_path / "fifo"),
            "dev_zero": "/dev/zero", "long_name": "/tmp/" + "x" * 300}[name]
    code, out = _run("explain", RULE, "-r", str(RULES), "--events", path)
    assert code == 2 and out.count("\n") == 1 and "cannot read the events file" in out


@pytest.mark.skipif(not CAPTURE.exists(), reason="the oracle captures are not here")
def test_explain_truncated_capture_shows_what_it_gathered(tmp_path: Path) -> None:
    trunc = tmp_path / "trunc.scap"
    trunc.write_bytes(CAPTURE.read_bytes()[:15000])
    code, out = _run("explain", RULE, "-r", str(RULES), "-e", str(trunc), "--event", "749")
    assert code == 2 and "evt.num=749" in out and "ends early" in out.splitlines()[-1]


@pytest.mark.skipif(not CAPTURE.exists(), reason="the oracle captures are not here")
def test_rule_tests_corpus(tmp_path: Path) -> None:
    shutil.copy(RULES, tmp_path / "rules.yaml")
    tests = tmp_path / "tests"
    shutil.copytree(CORPUS / "rule_tests", tests)
    os.mkfifo(tests / "fifo")
    (tests / "trunc.scap").write_bytes(CAPTURE.read_bytes()[:15000])
    (tests / "junk.scap").write_bytes(bytes(range(256)) * 4)
    code, out = _run("test", str(tmp_path))
    lines = out.splitlines()
    assert code == 1 and lines[-1] == "tiercel test: 5 tests, 6 failures", out
    assert len(lines) == 7 and all("test '" in line or "evt.type is one" in line for line in lines[:-1])
    assert "\x1b" not in out and "\r" not in out and "\\x1b" in out


@pytest.mark.parametrize("name", ["/tmp/" + "x" * 300, "/dev/zero"])
def test_rule_tests_unreadable_paths(name: str) -> None:
    code, out = _run("test", name)
    assert code == 1 and "Traceback" not in out
