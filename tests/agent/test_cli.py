"""The command line: a part that cannot be imported is reported with its real cause, in one line;
`capture --json/--no-json` chooses what goes to stdout, with or without -w."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tiercel.scap.reader import CaptureReader

TIERCEL = [sys.executable, "-m", "tiercel.cli"]


def test_import_error_is_reported_with_its_cause(tmp_path: Path) -> None:
    # yaml made unimportable: the rules engine cannot load
    code = ("import sys; sys.modules['yaml'] = None; from tiercel.cli import main; "
            f"sys.argv = ['tiercel', 'validate', {str(tmp_path / 'r.yaml')!r}]; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("tiercel: cannot load the rules engine: ") and "yaml" in line


@pytest.mark.live
def test_capture_text_lines(tmp_path: Path) -> None:
    result = subprocess.run([*TIERCEL, "capture", "--no-json", "--duration", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and not lines[0].startswith("{")
    num, _time, _cpu, *_ = lines[0].split()
    assert num.isdigit()


@pytest.mark.live
def test_capture_file_and_json_lines(tmp_path: Path) -> None:
    scap = tmp_path / "c.scap"
    result = subprocess.run([*TIERCEL, "capture", "-w", str(scap), "--json", "--duration", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events and {"evt.num", "evt.type", "proc.pid"} <= set(events[0])
    with CaptureReader(scap) as reader:
        assert any(True for _ in reader.events())


@pytest.mark.live
def test_capture_file_alone_prints_nothing(tmp_path: Path) -> None:
    scap = tmp_path / "c.scap"
    result = subprocess.run([*TIERCEL, "capture", "-w", str(scap), "--duration", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and scap.stat().st_size > 0
