"""`tiercel run -o json_output=true | tiercel generate --all --check`, for real, with the default rules.

The pipeline must end by itself: generate closes its stdin when done, and `tiercel run` notices
that its stdout's reader has gone although it is writing nothing, and stops with exit code 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tiercel.generator.base import REGISTRY
from tiercel.generator.check import ALERTED, NOT_LOADED

pytestmark = pytest.mark.live
TIERCEL = [sys.executable, "-m", "tiercel.cli"]
ROOT = Path(__file__).resolve().parents[2]
REPORT = re.compile(r"^(\S+)\s+(alerted|NO ALERT|rule not loaded|cannot run here)\s")
GONE = "stdout's reader has gone: stopping"


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _pipeline(tmp_path: Path, *agent_opts: str, rules: tuple[str, ...] = ()) -> tuple[dict[str, str], str]:
    """Run the pipeline to its end (both sides given `rules`); the per-action statuses and
    generate's report."""
    agent_err = (tmp_path / "agent.err").open("w+")
    agent = subprocess.Popen([*TIERCEL, "run", "-o", "json_output=true", *agent_opts, *rules],
                             stdout=subprocess.PIPE, stderr=agent_err, text=True)
    assert agent.stdout is not None
    gen = subprocess.Popen([*TIERCEL, "generate", "--all", "--check", *rules], stdin=agent.stdout,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    agent.stdout.close()   # generate is the only reader: when it goes, the agent must see it
    try:
        out, err = gen.communicate(timeout=300)
        agent.wait(timeout=60)
    finally:
        _kill(gen)
        _kill(agent)
    agent_err.seek(0)
    agent_log = agent_err.read()
    assert gen.returncode == 0, out + err
    assert agent.returncode == 0, agent_log
    assert GONE in agent_log
    assert out.splitlines()[-1].startswith("summary: ")
    return {m[1]: m[2] for m in map(REPORT.match, out.splitlines()) if m}, out


def test_the_pipeline_checks_every_action_and_ends_by_itself(tmp_path: Path) -> None:
    status, out = _pipeline(tmp_path)
    assert set(status) == set(REGISTRY), out
    assert "NO ALERT" not in status.values(), out
    for a in REGISTRY.values():
        if a.maturity == "incubating":
            assert status[a.name] == NOT_LOADED, a.name
        elif a.available() is None:
            assert status[a.name] == ALERTED, (a.name, out)


def test_the_kernel_filter_changes_no_alert(tmp_path: Path) -> None:
    """The same self-test with the kernel filter off (every record reaches user space), then on,
    with the incubating rules too: the same actions alert."""
    rules = tuple(opt for r in ("rules", "rules/incubating") for opt in ("-r", str(ROOT / r)))
    off, out_off = _pipeline(tmp_path, "-o", "kernel_filter=false", rules=rules)
    on, out_on = _pipeline(tmp_path, "-o", "kernel_filter=true", rules=rules)
    assert on == off, (out_off, out_on)
    assert sum(v == ALERTED for v in on.values()) >= 40, out_on


def test_run_stops_with_0_when_its_stdout_reader_goes_while_it_writes_nothing() -> None:
    r, w = os.pipe()
    agent = subprocess.Popen([*TIERCEL, "run", "-o", "json_output=true"], stdout=w,
                             stderr=subprocess.PIPE, text=True)
    os.close(w)
    lines: list[str] = []
    running = threading.Event()

    def read_stderr() -> None:
        assert agent.stderr is not None
        for line in agent.stderr:
            lines.append(line)
            if "tiercel: running" in line:
                running.set()
    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert running.wait(120), "".join(lines)
        os.close(r)
        agent.wait(timeout=60)
    finally:
        _kill(agent)
    reader.join(10)
    assert agent.returncode == 0, "".join(lines)
    assert any(GONE in x for x in lines), "".join(lines)
