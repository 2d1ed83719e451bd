"""`tiercel run` with Falco's own rules alerts on a live `cat /etc/shadow` with one JSON line."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.live
UPSTREAM = Path(__file__).resolve().parents[3] / "shared" / "oracles" / "rules" / "falco_rules.yaml"


def read_line(stream: object, deadline: float) -> str:
    """One line from a pipe, waiting at most until deadline (monotonic seconds)."""
    buf = b""
    fd = stream.fileno()  # type: ignore[attr-defined]
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"no complete line; got {buf!r}")
        chunk = os.read(fd, 1)
        if not chunk:
            raise EOFError(buf)
        buf += chunk
    return buf.decode()


def wait_for(stream: object, needle: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while needle not in read_line(stream, deadline):
        pass


def test_cat_etc_shadow_alerts() -> None:
    agent = subprocess.Popen(
        [sys.executable, "-m", "tiercel.cli", "run", "-r", str(UPSTREAM), "--stats"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(agent.stderr, "tiercel: running")
        cat = subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        assert cat.returncode == 0
        alert = json.loads(read_line(agent.stdout, time.monotonic() + 30))
    finally:
        agent.send_signal(signal.SIGINT)
        _, err = agent.communicate(timeout=60)
    assert alert["rule"] == "Read sensitive file untrusted"
    assert alert["priority"] == "Warning" and alert["source"] == "syscall"
    fields = alert["output_fields"]
    assert fields["fd.name"] == "/etc/shadow" and fields["proc.name"] == "cat"
    assert fields["proc.cmdline"] == "cat /etc/shadow" and fields["user.name"] == "root"
    assert fields["evt.type"] == "openat"
    assert "Sensitive file opened for reading by non-trusted program" in alert["output"]
    assert set(alert) == {"hostname", "output", "output_fields", "priority", "rule", "source", "tags",
                          "time"}
    text = err.decode()
    assert "Events detected: " in text and "Read sensitive file untrusted: " in text
    assert agent.returncode == 0
