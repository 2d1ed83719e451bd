"""The agent-wide statistics carry every output count the dispatcher keeps: alerts an output could
not write at all (`unwritable`) and alerts still queued when a flush ran out of time (`undelivered`),
per output, summed over the dispatchers reloads replaced, in the text (--stats, SIGUSR2, with a
total over the outputs) and on /metrics."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from tests.outputs.alerts import make_alert
from tiercel.commands.agent import Agent
from tiercel.commands.options import RunOptions
from tiercel.outputs.base import Item
from tiercel.outputs.dispatcher import Dispatcher, OutputStats
from tiercel.telemetry.stats import AgentStats, render_prometheus, render_text

RULE = """
- rule: r
  desc: d
  condition: evt.type = openat
  output: "open %fd.name"
  priority: WARNING
"""


class _Picky:
    """Cannot write alerts number 1 and 3 (a bug, not a delivery failure)."""

    name = "picky"
    max_retries = 0

    def send(self, batch: Sequence[Item]) -> int:
        if any(item.alert.output_fields["n"] in (1, 3) for item in batch):
            raise ValueError("no")
        return len(batch)

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def _picky_dispatcher(alerts: int) -> Dispatcher:
    d = Dispatcher([_Picky()], capacity=100, log=lambda line: None)
    for i in range(alerts):
        d.emit(make_alert(i))
    d.close(30)
    return d


def test_snapshot_merges_unwritable_over_reloads(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    agent = Agent(RunOptions(rules=[rules]), io.StringIO(), io.StringIO())
    try:
        agent.retired = [_picky_dispatcher(5), _picky_dispatcher(4)]   # outputs replaced twice
        picky = agent.snapshot().outputs["picky"]
        assert (picky.offered, picky.delivered, picky.dropped_failed, picky.unwritable) == (9, 5, 4, 4)
    finally:
        agent.dispatcher.close(1)


def _stats() -> AgentStats:
    return AgentStats(outputs={
        "http": OutputStats(offered=10, delivered=4, dropped_failed=6, unwritable=2, undelivered=3),
        "file": OutputStats(offered=10, delivered=9, dropped_full=1, unwritable=1)})


def test_text_per_output_and_in_all() -> None:
    text = render_text(_stats())
    assert ("tiercel: output http: 10 offered, 4 delivered, 6 dropped (0 queue full, 6 failed: "
            "2 unwritable, 3 undelivered at stop), 0 retried, 0 queued") in text
    assert ("tiercel: all outputs: 20 offered, 13 delivered, 7 dropped (1 queue full, 6 failed: "
            "3 unwritable, 3 undelivered at stop), 0 retried, 0 queued") in text


def test_metrics_per_output() -> None:
    text = render_prometheus(_stats())
    assert 'tiercel_output_alerts_unwritable_total{output="http"} 2\n' in text
    assert 'tiercel_output_alerts_unwritable_total{output="file"} 1\n' in text
    assert 'tiercel_output_alerts_undelivered_total{output="http"} 3\n' in text
