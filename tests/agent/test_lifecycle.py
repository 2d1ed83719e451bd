"""Start-up steps and a teardown that always runs: every begun step is stopped, in reverse order,
each stop on its own; a failing stop is one line and the outputs are still flushed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tiercel.commands.agent import run_agent
from tiercel.commands.app import Step, run_steps
from tiercel.commands.control import Control
from tiercel.commands.options import RunOptions
from tiercel.sources.replay import ReplaySource

CAPTURE = "falco-regression/test/trace_files/cat_write.scap"  # under the oracle directory
RULE = """
- rule: cat opens
  desc: every open by cat
  condition: evt.type in (open, openat) and proc.name = cat
  output: "cat opened %fd.name"
  priority: WARNING
"""


def test_stops_run_in_reverse_each_on_its_own() -> None:
    done: list[str] = []
    log: list[str] = []

    def fail() -> None:
        done.append("b")
        raise RuntimeError("boom")

    steps = [Step("a", stop=lambda: done.append("a")), Step("b", stop=fail),
             Step("c", lambda: done.append("start c"), lambda: done.append("c"))]
    assert run_steps(steps, lambda: done.append("loop"), log.append) is False
    assert done == ["start c", "loop", "c", "b", "a"]
    assert log == ["tiercel: stopping b failed: RuntimeError: boom"]


def test_failed_start_stops_what_began_and_raises() -> None:
    done: list[str] = []

    def start_b() -> None:
        raise ValueError("no")

    steps = [Step("a", stop=lambda: done.append("a")), Step("b", start_b, lambda: done.append("b")),
             Step("c", stop=lambda: done.append("c"))]
    with pytest.raises(ValueError):
        run_steps(steps, lambda: done.append("loop"), print)
    assert done == ["b", "a"]  # b's stop copes with a half-done start; c never began


def _replay(oracles: Path, tmp_path: Path) -> tuple[int, list[dict[str, object]], str]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    out, err = io.StringIO(), io.StringIO()
    opts = RunOptions(rules=[rules], trace=oracles / CAPTURE, overrides=["json_output=true"])
    code = run_agent(opts, out, err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@pytest.mark.parametrize("failing", [(ReplaySource, "stop"), (Control, "stop")],
                         ids=["source.stop", "control.stop"])
def test_outputs_flushed_when_a_stop_raises(oracles: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            failing: tuple[type, str]) -> None:
    code, alerts, _ = _replay(oracles, tmp_path)
    assert code == 0 and len(alerts) == 8

    def boom(self: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(*failing, boom)
    code, alerts, err = _replay(oracles, tmp_path)
    assert len(alerts) == 8 and code == 1
    failed = [line for line in err.splitlines() if "boom" in line]
    assert len(failed) == 1 and failed[0].startswith("tiercel: stopping ")
    assert "Events detected: 8" in err  # the summary too


def test_rule_errors_reach_the_snapshot_across_reloads(tmp_path: Path) -> None:
    from tiercel.commands.agent import Agent

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    agent = Agent(RunOptions(rules=[rules]), io.StringIO(), io.StringIO())
    try:
        agent.matcher.ruleset.errors = 2       # the ruleset's own count of evaluations that raised
        assert agent.reload()
        agent.matcher.ruleset.errors = 1
        assert agent.snapshot().rule_errors == 3
    finally:
        agent.dispatcher.close(1)
