"""Accounting: what the agent saw and what became of every alert, as text (--stats, SIGUSR2) and in
Prometheus' text format (/metrics).

Per output, `offered = delivered + dropped + queued`; `produced = offered + throttled`. Of the
dropped, `unwritable` (alerts the output could not write at all) and `undelivered` (still queued when
a flush ran out of time) are part of `dropped_failed`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tiercel.outputs.dispatcher import OutputStats
from tiercel.telemetry.tables import StateSizes


@dataclass
class AgentStats:
    records: int = 0           # kernel records read
    events: int = 0            # events that reached the rules
    lost: int = 0              # kernel records the ring buffer had no room for
    decode_errors: int = 0     # records that could not be decoded
    event_errors: int = 0      # events whose state update or rule matching raised
    rule_errors: int = 0       # rule evaluations that raised (the ruleset's count)
    produced: int = 0          # alerts made by matching rules (and drop alerts)
    throttled: int = 0         # refused by outputs.rate / max_burst
    outputs: dict[str, OutputStats] = field(default_factory=dict)
    by_rule: Counter[str] = field(default_factory=Counter)
    reloads: int = 0
    reloads_failed: int = 0
    rules_loaded: int = 0
    filtered: int = 0          # records the kernel filter kept in the kernel (no rule could match)
    lost_by_kind: dict[str, int] = field(default_factory=dict)  # rule, state, clone, exit, fd
    alerts_waited: int = 0     # alerts held for their container's metadata (outputs/hold.py)
    alerts_incomplete: int = 0  # of those, sent without it (the runtime had not answered in time)
    # (rule, priority, source, tags) -> matches: Falco's falcosecurity_falco_rules_matches_total
    matches: Counter[tuple[str, str, str, tuple[str, ...]]] = field(default_factory=Counter)
    version: str = ""
    engine_version: str = ""
    hostname: str = ""
    state: StateSizes = field(default_factory=StateSizes)   # the state tables' sizes now


def render_text(s: AgentStats) -> str:
    lines = [f"tiercel: {s.events} events, {s.lost} lost in the kernel, {s.produced} alerts "
             f"({s.throttled} throttled), {s.reloads} reloads ({s.reloads_failed} failed)",
             f"tiercel: {s.alerts_waited} alerts waited for container metadata, "
             f"{s.alerts_incomplete} sent without it",
             f"tiercel: errors: {s.decode_errors} undecodable records, {s.event_errors} failed events, "
             f"{s.rule_errors} failed rule evaluations",
             f"tiercel: state: {s.state.processes} processes, {s.state.threads} threads, "
             f"{s.state.fds} fds, {s.state.containers} containers; {s.state.evicted} threads evicted "
             f"(table full), {s.state.argv_cut} argv cut"]
    for name, o in s.outputs.items():
        lines.append(f"tiercel: output {name}: {_output_counts(o)}")
    if len(s.outputs) > 1:
        total = OutputStats()
        for o in s.outputs.values():
            total.add(o)
        lines.append(f"tiercel: all outputs: {_output_counts(total)}")
    return "\n".join(lines)


def _output_counts(o: OutputStats) -> str:
    return (f"{o.offered} offered, {o.delivered} delivered, {o.dropped} dropped ({o.dropped_full} "
            f"queue full, {o.dropped_failed} failed: {o.unwritable} unwritable, {o.undelivered} "
            f"undelivered at stop), {o.retried} retried, {o.queued} queued")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(s: AgentStats) -> str:
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, int]]) -> None:
        out.append(f"# HELP tiercel_{name} {help_}")
        out.append(f"# TYPE tiercel_{name} {kind}")
        out.extend(f"tiercel_{name}{labels} {value}" for labels, value in samples)

    metric("kernel_records_total", "counter", "Records read from the kernel.", [("", s.records)])
    metric("events_total", "counter", "Events evaluated against the rules.", [("", s.events)])
    metric("kernel_records_lost_total", "counter", "Records the kernel could not send.", [("", s.lost)])
    metric("decode_errors_total", "counter", "Records that could not be decoded.", [("", s.decode_errors)])
    metric("event_errors_total", "counter", "Events whose processing raised (counted, not fatal).",
           [("", s.event_errors)])
    metric("rule_errors_total", "counter", "Rule evaluations that raised (counted, not fatal).",
           [("", s.rule_errors)])
    metric("alerts_total", "counter", "Alerts produced.", [("", s.produced)])
    metric("alerts_throttled_total", "counter", "Alerts refused by outputs.rate.", [("", s.throttled)])
    metric("rule_alerts_total", "counter", "Alerts by rule.",
           [(f'{{rule="{_label(r)}"}}', n) for r, n in sorted(s.by_rule.items())])
    results = ("delivered", "dropped_full", "dropped_failed")
    metric("output_alerts_total", "counter", "Alerts per output by result.",
           [(f'{{output="{_label(name)}",result="{r}"}}', getattr(o, r))
            for name, o in s.outputs.items() for r in results])
    metric("output_alerts_unwritable_total", "counter",
           "Of the failed alerts, those the output could not write at all (one line said per output).",
           [(f'{{output="{_label(name)}"}}', o.unwritable) for name, o in s.outputs.items()])
    metric("output_alerts_undelivered_total", "counter",
           "Of the failed alerts, those still queued when a flush ran out of time (stop, reload).",
           [(f'{{output="{_label(name)}"}}', o.undelivered) for name, o in s.outputs.items()])
    metric("output_retries_total", "counter", "Delivery attempts repeated after a failure.",
           [(f'{{output="{_label(name)}"}}', o.retried) for name, o in s.outputs.items()])
    metric("output_queued", "gauge", "Alerts waiting in each output's queue.",
           [(f'{{output="{_label(name)}"}}', o.queued) for name, o in s.outputs.items()])
    metric("alerts_metadata_waited_total", "counter",
           "Alerts held until their container's metadata arrived (or the wait ended).",
           [("", s.alerts_waited)])
    metric("alerts_metadata_incomplete_total", "counter",
           "Alerts sent without their container's metadata (the runtime had not answered in time).",
           [("", s.alerts_incomplete)])
    metric("kernel_records_filtered_total", "counter",
           "Records the kernel filter kept in the kernel (no loaded rule could match).", [("", s.filtered)])
    metric("rules_loaded", "gauge", "Enabled rules.", [("", s.rules_loaded)])
    metric("state_processes", "gauge", "Processes in the process table.", [("", s.state.processes)])
    metric("state_threads", "gauge", "Threads in the process table.", [("", s.state.threads)])
    metric("state_fds", "gauge", "File descriptors in the processes' fd tables.", [("", s.state.fds)])
    metric("state_containers", "gauge", "Containers the runtime registries hold.",
           [("", s.state.containers)])
    metric("state_threads_evicted_total", "counter",
           "Tasks evicted from a full process table (falco_libs.thread_table_size).",
           [("", s.state.evicted)])
    metric("state_argv_cut_total", "counter",
           "Processes whose argv was cut to 64 arguments / 4096 characters.", [("", s.state.argv_cut)])
    metric("reloads_total", "counter", "Reloads by result.",
           [('{result="ok"}', s.reloads - s.reloads_failed), ('{result="failed"}', s.reloads_failed)])
    return "\n".join(out) + "\n"
