"""Kernel drops -> Falco's drop alert; /healthz and /metrics; append_output and static_fields."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tiercel.config import AppendMatch, AppendOutput, SyscallEventDrops, Webserver
from tiercel.outputs.alert import Alert, to_json
from tiercel.outputs.append import Extras
from tiercel.outputs.dispatcher import OutputStats
from tiercel.telemetry.drops import RULE, DropMonitor
from tiercel.telemetry.stats import AgentStats
from tiercel.telemetry.webserver import WebServer


def monitor(**conf: Any) -> tuple[DropMonitor, list[Alert], list[str]]:
    alerts: list[Alert] = []
    logs: list[str] = []
    return DropMonitor(SyscallEventDrops(**conf), alerts.append, logs.append, "h"), alerts, logs


def test_drop_alert_is_falcos() -> None:
    m, alerts, logs = monitor(rate=1000, max_burst=10)
    assert m.check(0, 0)                      # first call: the baseline
    assert m.check(800, 200, now_ns=1_700_000_000_000_000_000)
    (a,) = alerts
    doc = json.loads(to_json(a))
    assert doc["rule"] == RULE and doc["priority"] == "Debug" and doc["source"] == "internal"
    assert doc["output"].endswith(f"Debug {RULE}. 200 system calls dropped in last second.")
    assert doc["output_fields"] == {"ebpf_enabled": "1", "n_drops": "200",
                                    "n_drops_buffer_total": "200", "n_evts": "1000"}
    assert logs == [f"tiercel: {RULE}. 200 system calls dropped in last second."]


def test_drop_alert_says_which_kinds() -> None:
    """A lost rule record is an attack that may have gone unseen; a lost fd record is state: the
    alert tells them apart, for the last second only (the /metrics labels)."""
    m, alerts, _ = monitor(rate=1000, max_burst=10)
    m.check(0, 0, lost_by_kind={"rule": 1, "fd": 10, "clone": 0})
    m.check(800, 200, lost_by_kind={"rule": 1, "fd": 205, "clone": 5})
    (a,) = alerts
    assert a.output_fields["n_drops_buffer_fd"] == "195"
    assert a.output_fields["n_drops_buffer_clone_fork"] == "5"
    assert "n_drops_buffer_rule" not in a.output_fields      # none in the last second
    assert a.output.endswith("200 system calls dropped in last second (fd 195, clone_fork 5).")


def test_drops_below_threshold_and_rate_limited() -> None:
    m, alerts, _ = monitor(threshold=0.1, actions=["alert"], rate=0.0001, max_burst=1)
    m.check(0, 0)
    m.check(1000, 50)                         # 50/1050 < 10%: nothing
    assert alerts == []
    m.check(1100, 500)                        # 450/550: alert
    m.check(1200, 1000)                       # again, but the bucket is empty
    assert len(alerts) == 1 and m.occurrences == 2 and m.actions_taken == 1


def test_exit_action_and_simulated_drops() -> None:
    m, alerts, logs = monitor(actions=["exit"], simulate_drops=True, rate=1000, max_burst=5)
    m.check(0, 0)
    assert m.check(10, 0) is False and alerts == [] and "Exiting" in logs[0]


def test_webserver_healthz_and_metrics() -> None:
    stats = AgentStats(events=7, lost=2, produced=5,
                       outputs={"stdout": OutputStats(offered=5, delivered=4, dropped_full=1)})
    stats.by_rule['Rule "x"\n'] = 5
    web = WebServer(Webserver(enabled=True, listen_port=0), lambda: stats)
    web.start()
    try:
        base = f"http://127.0.0.1:{web.port}"
        with urllib.request.urlopen(f"{base}/healthz") as r:
            assert json.loads(r.read()) == {"status": "ok"}
        with urllib.request.urlopen(f"{base}/metrics") as r:
            text = r.read().decode()
    finally:
        web.stop()
    assert "tiercel_events_total 7\n" in text and "tiercel_kernel_records_lost_total 2\n" in text
    assert 'tiercel_output_alerts_total{output="stdout",result="delivered"} 4\n' in text
    assert 'tiercel_output_alerts_total{output="stdout",result="dropped_full"} 1\n' in text
    assert 'tiercel_rule_alerts_total{rule="Rule \\"x\\"\\n"} 5\n' in text


class _Rule:
    def __init__(self, name: str, tags: tuple[str, ...], source: str = "syscall") -> None:
        self.name, self.tags, self.source = name, tags, source


def test_append_output_and_static_fields() -> None:
    from tiercel.events.model import Event
    extras = Extras([AppendOutput(match=AppendMatch(tag="shell"), extra_output="(evt=%evt.type)",
                                  extra_fields=["evt.type", {"team": "blue"}])], {"cluster": "prod"})
    base = Alert(time=1, rule="r", priority="Notice", source="syscall", output="msg",
                 output_fields={"proc.name": "sh"})
    ev = Event(num=1, ts=1, type="execve", dir="<", tid=1, pid=1)
    shell = extras.apply(base, _Rule("a", ("shell",)), ev)
    other = extras.apply(base, _Rule("b", ("net",)), ev)
    assert shell.output == "msg (evt=execve)"
    assert shell.output_fields == {"cluster": "prod", "evt.type": "execve", "proc.name": "sh",
                                   "team": "blue"}
    assert other.output == "msg" and other.output_fields == {"cluster": "prod", "proc.name": "sh"}


def test_error_counts_in_stats_and_metrics() -> None:
    from tiercel.telemetry.stats import render_prometheus, render_text

    stats = AgentStats(decode_errors=3, event_errors=2, rule_errors=1)
    text = render_prometheus(stats)
    assert "tiercel_decode_errors_total 3\n" in text and "tiercel_event_errors_total 2\n" in text
    assert "tiercel_rule_errors_total 1\n" in text
    assert ("tiercel: errors: 3 undecodable records, 2 failed events, 1 failed rule evaluations"
            in render_text(stats))
