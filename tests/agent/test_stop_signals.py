"""SIGTERM and SIGINT are honoured whatever `run` waits on: a FIFO named as capture, rules or config
is an error at once (nothing is opened that could block), and a second stop signal ends a flush
that an output holds up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TIERCEL = [sys.executable, "-m", "tiercel.cli", "run"]
TRACE = "falco-regression/test/trace_files/cat_write.scap"
RULES = "falco-regression/test/rules/single_rule.yaml"   # open_from_cat: 8 alerts on cat_write


@pytest.mark.parametrize(("flag", "expected"), [
    ("-e", "tiercel: cannot read capture {fifo}: a FIFO, not a regular file"),
    ("-r", "{fifo}: Could not read rules file {fifo}: a FIFO, not a regular file"),
    ("-c", "tiercel: cannot read the configuration file {fifo}: a FIFO, not a regular file"),
], ids=["capture", "rules", "config"])
def test_a_fifo_is_an_error_not_a_hang(tmp_path: Path, flag: str, expected: str) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "r.yaml").write_text("- list: l\n  items: [a]\n")
    rules = ["-r", str(tmp_path / "r.yaml")] if flag != "-r" else []
    result = subprocess.run([*TIERCEL, flag, str(fifo), *rules], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 1
    assert expected.format(fifo=fifo) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_second_stop_signal_ends_a_held_up_flush(oracles: Path, sig: int) -> None:
    """A program output that never reads holds the flush for flush_timeout (60 s here); the first
    signal waits for it, as Falco does, the second ends it at once, every alert counted."""
    proc = subprocess.Popen(
        [*TIERCEL, "-e", str(oracles / TRACE), "-r", str(oracles / RULES),
         "-o", "stdout_output.enabled=false", "-o", "program_output.enabled=true",
         "-o", "program_output.keep_alive=true",
         "-o", "program_output.program=exec sleep 20 2>/dev/null",  # never reads; ends by itself
         "-o", "outputs_queue.flush_timeout=60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    waited = ""
    deadline = time.monotonic() + 60
    while "waiting up to 60 s for output program" not in waited:   # the replay is over: flushing
        assert time.monotonic() < deadline, waited
        waited += proc.stderr.readline()
    proc.send_signal(sig)
    time.sleep(0.5)
    assert proc.poll() is None           # the first one lets the flush go on
    start = time.monotonic()
    proc.send_signal(sig)
    proc.wait(10)
    assert time.monotonic() - start < 1.0
    rest = proc.stderr.read()
    assert proc.returncode == 0 and "output program: 8 of 8 alerts dropped" in rest
