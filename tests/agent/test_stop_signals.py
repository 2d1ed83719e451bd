"""SIGTERM and SIGINT are honoured whatever `run` waits on: a FIFO named as capture, rules or config
is an error at once (nothing is opened that could block); a stop signal gives the outputs
`outputs_queue.stop_flush_timeout` (1 s) to take what is queued, however they are held up, and a
second one ends that at once; what was not delivered is said."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
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


def _replay(oracles: Path, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*TIERCEL, "-e", str(oracles / TRACE), "-r", str(oracles / RULES),
         "-o", "stdout_output.enabled=false", "-o", "outputs_queue.flush_timeout=60", *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_flush(proc: subprocess.Popen[str], output: str) -> None:
    """The replay is over and the flush has been held up for a second."""
    assert proc.stderr is not None
    waited = ""
    deadline = time.monotonic() + 60
    while f"waiting up to 60 s for output {output}" not in waited:
        assert time.monotonic() < deadline and proc.poll() is None, waited
        waited += proc.stderr.readline()


# A program output that never reads: it holds its worker, and so the flush (flush_timeout 60 s here).
NEVER_READS = ["-o", "program_output.enabled=true", "-o", "program_output.keep_alive=true",
               "-o", "program_output.program=exec sleep 20 2>/dev/null"]  # ends by itself


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_one_stop_signal_ends_a_held_up_flush(oracles: Path, sig: int) -> None:
    """One signal gives the outputs stop_flush_timeout (1 s) more, then the agent exits; what was
    not delivered is counted and said."""
    proc = _replay(oracles, *NEVER_READS)
    _wait_for_flush(proc, "program")
    proc.send_signal(sig)
    proc.wait(10)       # generous: the bound is about a second
    assert proc.stderr is not None
    rest = proc.stderr.read()
    assert proc.returncode == 0
    assert "tiercel: output program: 8 alerts not delivered at shutdown" in rest
    assert "output program: 8 of 8 alerts dropped" in rest


def test_a_second_signal_ends_a_longer_stop_flush_at_once(oracles: Path) -> None:
    proc = _replay(oracles, *NEVER_READS, "-o", "outputs_queue.stop_flush_timeout=60")
    _wait_for_flush(proc, "program")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert proc.poll() is None           # stop_flush_timeout 60: the flush goes on
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    assert proc.stderr is not None
    assert proc.returncode == 0 and "8 alerts not delivered at shutdown" in proc.stderr.read()


def test_a_receiver_that_never_answers_holds_no_stop(oracles: Path) -> None:
    """HTTP to a loopback server that accepts, reads and never answers (timeout 300 s)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    conns: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conns.append(server.accept()[0])
    threading.Thread(target=accept, daemon=True).start()
    try:
        proc = _replay(oracles, "--stats", "-o", "http_output.enabled=true", "-o", "http_output.timeout=300",
                       "-o", f"http_output.url=http://127.0.0.1:{server.getsockname()[1]}/")
        _wait_for_flush(proc, "http")
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        assert proc.stderr is not None
        rest = proc.stderr.read()
        assert proc.returncode == 0 and "tiercel: output http: 8 alerts not delivered at shutdown" in rest
        assert ("tiercel: output http: 8 offered, 0 delivered, 8 dropped (0 queue full, 8 failed: "
                "0 unwritable, 8 undelivered at stop), 0 retried, 0 queued") in rest   # --stats
    finally:
        server.close()
        for c in conns:
            c.close()
