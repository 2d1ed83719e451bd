"""The state tables' sizes, for /metrics (`tiercel_state_*`): processes, threads, fds, containers,
and what was evicted or cut to keep them within their bounds.

Measured from the web server's thread while the event loop changes the tables: each dict is copied in
one C call (atomic under the GIL) before it is walked. A source without state (not started) is all 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StateSizes:
    processes: int = 0     # the process table (tgid -> process)
    threads: int = 0       # tid -> process
    fds: int = 0           # fd entries, a table shared by CLONE_FILES counted once
    containers: int = 0    # containers the runtimes' registries hold
    evicted: int = 0       # tasks evicted to keep the process table within its size (so far)
    argv_cut: int = 0      # processes whose argv was cut to the probe's bounds (so far)


def measure(source: Any) -> StateSizes:
    """The sizes of `source`'s process table (its `enricher.table`) and container registry."""
    table = getattr(getattr(source, "enricher", None), "table", None)
    if table is None:
        return StateSizes(containers=_containers(getattr(source, "containers", None)))
    procs = list(table.procs.values())
    fd_tables = {id(t): len(t) for t in [p.fds for p in procs]}
    return StateSizes(processes=len(procs), threads=len(table.threads), fds=sum(fd_tables.values()),
                      containers=_containers(getattr(source, "containers", None)),
                      evicted=getattr(table, "evicted", 0), argv_cut=getattr(table, "argv_cut", 0))


def _containers(registry: Any) -> int:
    """Containers cached by a Registry's engines, or by a single engine."""
    if registry is None:
        return 0
    engines = getattr(registry, "engines", None)
    caches = [e.cache for e in engines] if engines is not None else [getattr(registry, "cache", {})]
    return sum(len(c) for c in caches)
