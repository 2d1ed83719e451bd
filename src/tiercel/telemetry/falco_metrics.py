"""Falco's metric names on /metrics, so dashboards and alerts built on `falcosecurity_*` work.

Names and labels as Falco's Prometheus output (falco.org/docs/metrics, 0.38+); rendered with
prometheus_client's text exposition, from one AgentStats snapshot per request:

    falcosecurity_falco_version_info{version,engine_version}     1
    falcosecurity_evt_hostname_info{hostname}                    1
    falcosecurity_falco_rules_matches_total{rule_name,priority,source,tags}
    falcosecurity_scap_n_evts_total                              records read from the kernel
    falcosecurity_scap_n_drops_total                             records the kernel had no room for
    falcosecurity_scap_n_drops_buffer_total{drop}                the same by kind (Falco's kinds where
                                                                 one maps: clone_fork, proc_exit)
    falcosecurity_falco_outputs_queue_num_drops_total            alerts refused by a full output queue
    falcosecurity_falco_cpu_usage_ratio, memory_rss/vsz_bytes, duration_seconds_total, start_timestamp

`priority` is Falco's number (0 emergency .. 7 debug) and `tags` the rule's tags joined by ", ", as
Falco writes them. tiercel's own counters (`tiercel_*`, stats.py) are served beside these.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from tiercel.common.priority import NAMES
from tiercel.telemetry.stats import AgentStats

HELP = "https://falco.org/docs/metrics/"
# tiercel's kinds of lost records -> Falco's `drop` label where Falco has the same kind
DROP_KINDS = {"clone": "clone_fork", "exit": "proc_exit"}
START_NS = time.time_ns()


def _counter(name: str, value: float, labels: dict[str, str] | None = None) -> CounterMetricFamily:
    m = CounterMetricFamily(name, HELP, labels=list(labels or {}))
    m.add_metric(list((labels or {}).values()), value)
    return m


def _gauge(name: str, value: float, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
    m = GaugeMetricFamily(name, HELP, labels=list(labels or {}))
    m.add_metric(list((labels or {}).values()), value)
    return m


def _memory() -> tuple[int, int]:
    """(rss, vsz) of this process in bytes."""
    try:
        with open("/proc/self/statm") as f:
            vsz_pages, rss_pages = (int(x) for x in f.read().split()[:2])
    except (OSError, ValueError):
        return 0, 0
    page = os.sysconf("SC_PAGE_SIZE")
    return rss_pages * page, vsz_pages * page


class FalcoCollector(Collector):
    def __init__(self, stats: AgentStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        yield _gauge("falcosecurity_falco_version_info", 1, {"version": s.version,
                                                         "engine_version": s.engine_version})
        yield _gauge("falcosecurity_evt_hostname_info", 1, {"hostname": s.hostname})
        yield _gauge("falcosecurity_scap_engine_name_info", 1, {"engine_name": "tiercel-bcc"})
        matches = CounterMetricFamily("falcosecurity_falco_rules_matches", HELP,
                                      labels=["rule_name", "priority", "source", "tags"])
        for (rule, priority, source, tags), n in sorted(s.matches.items()):
            number = NAMES.index(priority) if priority in NAMES else len(NAMES) - 1
            matches.add_metric([rule, str(number), source, ", ".join(sorted(tags))], n)
        yield matches
        yield _counter("falcosecurity_scap_n_evts", s.records)
        yield _counter("falcosecurity_scap_n_drops", s.lost)
        by_kind = CounterMetricFamily("falcosecurity_scap_n_drops_buffer", HELP, labels=["drop"])
        for kind, n in sorted(s.lost_by_kind.items()):
            by_kind.add_metric([DROP_KINDS.get(kind, kind)], n)
        yield by_kind
        yield _counter("falcosecurity_falco_outputs_queue_num_drops",
                       sum(o.dropped_full for o in s.outputs.values()))
        yield from self._process()

    def _process(self) -> Iterator[Metric]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = max((time.time_ns() - START_NS) / 1e9, 1e-9)
        rss, vsz = _memory()
        yield _gauge("falcosecurity_falco_cpu_usage_ratio", (usage.ru_utime + usage.ru_stime) / elapsed)
        yield _gauge("falcosecurity_falco_memory_rss_bytes", rss)
        yield _gauge("falcosecurity_falco_memory_vsz_bytes", vsz)
        yield _counter("falcosecurity_falco_duration_seconds", int(elapsed))
        yield _gauge("falcosecurity_falco_start_timestamp_nanoseconds", START_NS)


def render(stats: AgentStats) -> bytes:
    from prometheus_client import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FalcoCollector(stats))
    return generate_latest(registry)
