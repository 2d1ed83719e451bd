"""`tiercel run` with Falco's own rules alerts on a live `cat /etc/shadow` with one JSON line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.livecapture import read_line, wait_for

pytestmark = pytest.mark.live
UPSTREAM = "rules/falco_rules.yaml"  # under the oracle directory


def test_cat_etc_shadow_alerts(oracles: Path) -> None:
    agent = subprocess.Popen(
        [sys.executable, "-m", "tiercel.cli", "run", "-r", str(oracles / UPSTREAM), "--stats"],
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
