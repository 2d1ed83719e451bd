"""`generate --check` offline: fake actions and a fake agent writing JSON alert lines into a pipe."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tiercel.generator.base import Action, Context
from tiercel.generator.check import (
    ALERTED,
    CANNOT,
    NO_ALERT,
    NOT_LOADED,
    pick_canary,
    run_check,
)
from tiercel.generator.feed import AlertFeed
from tiercel.generator.runner import GeneratorError

CANARY_RULE = "Read sensitive file untrusted"


class FakeAgent:
    """Alerts into a pipe; attached once the canary has run `attach_after` times. With `late`, the
    first alert it sends is that of the canary run before, and the run's own comes after it (as
    when a run's alert missed its wait)."""

    def __init__(self, attach_after: int = 1, late: bool = False) -> None:
        self.r, self.w = os.pipe()
        self.attach_after, self.late = attach_after, late
        self.canary_runs = 0
        self.pid = 1000
        self.ran: list[str] = []

    def line(self, text: str) -> None:
        os.write(self.w, text.encode() + b"\n")

    def alert(self, rule: str, pid: int) -> None:
        self.line(json.dumps({"rule": rule, "output_fields": {"proc.pid": pid}}))

    def action(self, name: str, rule: str, alerts: bool = True, where: str = "host",
               available: Callable[[], str | None] = lambda: None,
               fails: bool = False) -> Action:
        def run(_ctx: Context) -> dict[str, Any]:
            self.ran.append(name)
            if fails:
                raise RuntimeError("docker: no such image")
            self.pid += 1
            if alerts and self.canary_runs >= self.attach_after:
                self.alert(rule, self.pid)
            return {"proc.pid": self.pid}
        return Action(name, rule, run, where=where, available=available)

    def canary(self) -> Action:
        def run(_ctx: Context) -> dict[str, Any]:
            self.canary_runs += 1
            self.pid += 1
            if self.canary_runs == self.attach_after and self.late:
                self.alert(CANARY_RULE, self.pid - 1)   # the run before, delivered late
            if self.canary_runs >= self.attach_after:
                self.alert(CANARY_RULE, self.pid)
            return {"proc.pid": self.pid, "proc.name": "cat"}
        return Action("read-sensitive-file", CANARY_RULE, run)


@pytest.fixture
def agent() -> Iterator[FakeAgent]:
    a = FakeAgent(attach_after=3)
    yield a
    os.close(a.w)


def check(agent: FakeAgent, actions: list[Action], loaded: set[str],
          **kw: Any) -> tuple[int, list[str]]:
    feed = AlertFeed(agent.r)
    out = io.StringIO()
    try:
        code = run_check(actions, loaded, feed, out=out, canaries=[agent.canary()], timeout=0.3,
                         ready_timeout=kw.pop("ready_timeout", 10.0), interval=0.05, **kw)
    finally:
        feed.close()
    return code, out.getvalue().splitlines()


def status_of(lines: list[str], name: str) -> str:
    line = next(x for x in lines if x.startswith(name + " "))
    return next(s for s in (ALERTED, NO_ALERT, NOT_LOADED, CANNOT) if f" {s} " in line)


def test_every_kind_of_report_and_exit_0_without_a_miss(agent: FakeAgent) -> None:
    actions = [agent.action("fires", "R1"),
               agent.action("incubating", "R2"),
               agent.action("needs-docker", "R3", available=lambda: "no Docker engine"),
               agent.action("broken", "R4", fails=True)]
    code, lines = check(agent, actions, {CANARY_RULE, "R1", "R3", "R4"})
    assert code == 0
    assert [status_of(lines, a.name) for a in actions] == [ALERTED, NOT_LOADED, CANNOT, CANNOT]
    assert "(no Docker engine)" in lines[2] and "RuntimeError: docker: no such image" in lines[3]
    assert "incubating" not in agent.ran           # a rule not loaded: the action is not performed
    assert agent.canary_runs == 4                  # 3 until attached, 1 to pass the canary's alerts
    assert lines[-1] == "summary: 1 alerted, 0 NO ALERT, 1 rule not loaded, 2 cannot run here"


def test_a_silent_loaded_rule_is_a_miss_exit_1(agent: FakeAgent) -> None:
    code, lines = check(agent, [agent.action("fires", "R1"), agent.action("quiet", "R2", alerts=False)],
                        {CANARY_RULE, "R1", "R2"})
    assert code == 1
    assert status_of(lines, "quiet") == NO_ALERT
    assert lines[-1].startswith("summary: 1 alerted, 1 NO ALERT")


def test_a_late_canary_alert_is_not_taken_for_an_action_of_the_same_rule() -> None:
    agent = FakeAgent(attach_after=2, late=True)
    try:
        code, lines = check(agent, [agent.action("same-rule-quiet", CANARY_RULE, alerts=False)],
                            {CANARY_RULE})
    finally:
        os.close(agent.w)
    assert (code, status_of(lines, "same-rule-quiet")) == (1, NO_ALERT)


def test_alerts_of_other_rules_are_not_taken(agent: FakeAgent) -> None:
    noisy = agent.action("noisy", "Other rule")          # alerts, but of another rule than its own
    quiet = Action("quiet", "R1", lambda ctx: noisy.run(ctx))
    code, lines = check(agent, [quiet], {CANARY_RULE, "R1"})
    assert (code, status_of(lines, "quiet")) == (1, NO_ALERT)


def test_nothing_loaded_nothing_performed_no_canary(agent: FakeAgent) -> None:
    code, lines = check(agent, [agent.action("a", "R1"), agent.action("b", "R2")], {CANARY_RULE})
    assert (code, agent.canary_runs, agent.ran) == (0, 0, [])
    assert lines[-1] == "summary: 0 alerted, 0 NO ALERT, 2 rule not loaded, 0 cannot run here"


def test_an_agent_that_never_alerts() -> None:
    agent = FakeAgent(attach_after=10**6)
    try:
        with pytest.raises(GeneratorError, match=r"the agent did not alert within 0.3 s: .*json_output"):
            check(agent, [agent.action("a", "R1")], {CANARY_RULE, "R1"}, ready_timeout=0.3)
    finally:
        os.close(agent.w)
    assert agent.ran == []


def test_text_lines_instead_of_json_alerts() -> None:
    agent = FakeAgent(attach_after=10**6)
    agent.line("12:00:00.000000000: Warning Sensitive file opened for reading")
    try:
        with pytest.raises(GeneratorError, match=r"1 line\(s\) but no JSON alert .*Warning Sensitive"):
            check(agent, [agent.action("a", "R1")], {CANARY_RULE, "R1"}, ready_timeout=0.3)
    finally:
        os.close(agent.w)


def test_stdin_ended_before_the_first_alert() -> None:
    agent = FakeAgent(attach_after=10**6)
    os.close(agent.w)
    with pytest.raises(GeneratorError, match="stdin ended before the agent's first alert"):
        check(agent, [agent.action("a", "R1")], {CANARY_RULE, "R1"}, ready_timeout=30)


def test_no_host_action_of_a_loaded_rule_to_tell_readiness(agent: FakeAgent) -> None:
    with pytest.raises(GeneratorError, match="nothing tells when the agent is ready"):
        check(agent, [agent.action("a", "R1")], {"R1"})


def test_canary_prefers_the_sensitive_file_read_among_available_host_actions() -> None:
    def mk(name: str, rule: str, where: str = "host", reason: str | None = None) -> Action:
        return Action(name, rule, lambda ctx: {}, where=where, available=lambda: reason)
    acts = [mk("write-below-etc", "W"), mk("in-container", "C", where="container"),
            mk("read-sensitive-file", CANARY_RULE), mk("kmod", "K", reason="no modules")]
    assert pick_canary({"W", "C", CANARY_RULE, "K"}, acts) is acts[2]
    assert pick_canary({"W", "C", "K"}, acts) is acts[0]
    assert pick_canary({"C", "K"}, acts) is None


def test_closing_the_feed_releases_the_pipe() -> None:
    r, w = os.pipe()
    feed = AlertFeed(r)
    feed.close()
    with pytest.raises(BrokenPipeError):   # the writer (tiercel run) sees its reader gone
        os.write(w, b"{}\n")
    os.close(w)
