"""The control thread drives the agent through a few methods (tiercel.commands.control.Controlled), never
its attributes: a fake agent is enough."""

from __future__ import annotations

from tiercel.config import Config, load_config
from tiercel.outputs.alert import Alert
from tiercel.telemetry.stats import AgentStats


class FakeAgent:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.stats = AgentStats()
        self.stops: list[int] = []
        self.logs: list[str] = []
        self.alerts: list[Alert] = []
        self.reloads = 0

    def current_config(self) -> Config:
        return self.cfg

    def reload(self) -> bool:
        self.reloads += 1
        return True

    def snapshot(self) -> AgentStats:
        return self.stats

    def request_stop(self, code: int) -> None:
        self.stops.append(code)

    def emit_internal(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def log(self, message: str) -> None:
        self.logs.append(message)


def test_drop_exit_action_requests_a_stop_with_code_1() -> None:
    from tiercel.commands.control import Control

    cfg = load_config(None, ["syscall_event_drops.actions=[exit]", "watch_config_files=false",
                             "syscall_event_drops.simulate_drops=true"])
    agent = FakeAgent(cfg)
    control = Control(agent, "h")
    control._tick()                     # the first check is the baseline
    assert agent.stops == []
    agent.stats = AgentStats(records=10)
    control._tick()
    assert agent.stops == [1] and "Exiting" in agent.logs[-1]


def test_reload_reads_the_config_again_through_the_agent() -> None:
    from tiercel.commands.control import Control

    agent = FakeAgent(load_config(None, ["watch_config_files=false"]))
    control = Control(agent, "h")
    agent.cfg = load_config(None, ["watch_config_files=false", "syscall_event_drops.threshold=0.5"])
    control._reload()
    assert agent.reloads == 1 and control.drops.conf.threshold == 0.5
