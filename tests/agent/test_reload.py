"""Live `tiercel run -c CONFIG`: SIGHUP with a broken rules file keeps the old rules, with a good one
applies the new ones without stopping capture; SIGUSR2 prints the accounting; SIGTERM flushes the
file output and exits 0."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent.test_live_run import read_line, wait_for

pytestmark = pytest.mark.live

RULE = """
- rule: Shadow {name}
  desc: test rule
  condition: evt.type = openat and fd.name = /etc/shadow and proc.name = cat
  output: "shadow {name} read (cmd=%proc.cmdline)"
  priority: WARNING
"""


def next_alert(agent: subprocess.Popen[bytes]) -> dict[str, object]:
    subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
    return json.loads(read_line(agent.stdout, time.monotonic() + 30))  # type: ignore[no-any-return]


def test_sighup_reload_keeps_old_rules_on_error(tmp_path: Path) -> None:
    rules, events = tmp_path / "rules.yaml", tmp_path / "events.json"
    rules.write_text(RULE.format(name="A"))
    config = tmp_path / "tiercel.yaml"
    config.write_text(f"rules_files: [{rules}]\nwatch_config_files: false\n"
                      f"file_output:\n  enabled: true\n  keep_alive: true\n  filename: {events}\n")
    agent = subprocess.Popen([sys.executable, "-m", "tiercel.cli", "run", "-c", str(config),
                              "-o", "static_fields.cluster=test"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(agent.stderr, "tiercel: running 1 rules")
        first = next_alert(agent)
        rules.write_text(RULE.format(name="B").replace("condition:", "condition: (("))
        agent.send_signal(signal.SIGHUP)
        wait_for(agent.stderr, "reload failed")
        second = next_alert(agent)
        rules.write_text(RULE.format(name="B"))
        agent.send_signal(signal.SIGHUP)
        wait_for(agent.stderr, "tiercel: reloaded: running 1 rules")
        third = next_alert(agent)
        agent.send_signal(signal.SIGUSR2)
        wait_for(agent.stderr, "tiercel: output file: 3 offered, 3 delivered, 0 dropped")
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=60)
    assert [a["rule"] for a in (first, second, third)] == ["Shadow A", "Shadow A", "Shadow B"]
    assert first["output_fields"]["cluster"] == "test"  # type: ignore[index]
    assert agent.returncode == 0
    in_file = [json.loads(x)["rule"] for x in events.read_text().splitlines()]
    assert in_file == ["Shadow A", "Shadow A", "Shadow B"]
    assert "alerts dropped" not in err.decode()


def test_sigterm_with_stdout_nobody_reads(tmp_path: Path) -> None:
    """stdout is a pipe that is never read: capture goes on, SIGTERM still ends the agent with 0
    after the bounded flush, and the undelivered alerts are reported, not lost silently."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(name="A"))
    r, w = os.pipe()
    agent = subprocess.Popen([sys.executable, "-m", "tiercel.cli", "run", "-r", str(rules),
                              "-o", "outputs_queue.flush_timeout=1"], stdout=w, stderr=subprocess.PIPE)
    os.close(w)
    try:
        wait_for(agent.stderr, "tiercel: running 1 rules")
        subprocess.run(["sh", "-c", "for i in $(seq 600); do cat /etc/shadow; done"],
                       stdout=subprocess.DEVNULL, check=True)
        offered = 0
        while offered < 600:    # the last records may still be in the ring: asked again until taken
            agent.send_signal(signal.SIGUSR2)
            line = ""
            while "tiercel: output stdout:" not in line:
                line = read_line(agent.stderr, time.monotonic() + 60)
            offered = int(re.search(r"output stdout: (\d+) offered", line).group(1))  # type: ignore[union-attr]
        assert offered == 600
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=60)
        os.close(r)
    assert agent.returncode == 0
    dropped = re.search(r"tiercel: output stdout: (\d+) of 600 alerts dropped", err.decode())
    assert dropped and 0 < int(dropped.group(1)) < 600


def test_watched_rules_file_reloads(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(name="A"))
    agent = subprocess.Popen([sys.executable, "-m", "tiercel.cli", "run", "-r", str(rules)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(agent.stderr, "tiercel: running 1 rules")
        tmp = tmp_path / "new.yaml"
        tmp.write_text(RULE.format(name="C"))
        tmp.rename(rules)  # an editor's save: a new inode under the same name
        wait_for(agent.stderr, "tiercel: reloaded: running 1 rules")
        alert = next_alert(agent)
    finally:
        agent.send_signal(signal.SIGINT)
        agent.communicate(timeout=60)
    assert alert["rule"] == "Shadow C" and agent.returncode == 0
