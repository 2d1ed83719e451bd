"""Side by side in one run: how much each monitor slows three storms, and what tiercel loses and catches.

Monitors (`--monitors a,b`; each monitored storm runs right after the same storm unmonitored, and every
storm runs unmonitored once more at the end):

    tiercel            `tiercel run` with its bundled rules
    tiercel-upstream   `tiercel run -r falco_rules.yaml -r falco-incubating_rules.yaml` (the oracles' copies)
    bpftrace-count     bpftrace counting opens in the kernel only (sys_exit_openat): the floor
    bpftrace-print     bpftrace printing each open (sys_exit_openat) to user space
    auditd             auditd with `-a always,exit -F arch=b64 -S openat -S execve`

Storms (bench/storm_load.c): `open` = open+close of /etc/hostname for --seconds (iterations/s); `exec` =
--execs fork+exec of /bin/true (execs/s); `relevant` = open+close of /etc/shadow for --seconds, which the
default rules alert on (opens/s). During every storm a helper named `storm_attacker` runs --attacks
`cat /etc/shadow`, spaced over the storm; an attack counts as alerted when an alert has proc.name cat,
fd.name /etc/shadow and proc.pname storm_attacker (and the cat's pid, where the output has proc.pid:
other sessions' tests on the same host read /etc/shadow with cat too).

Per cell: the storm's ratio to unmonitored (the mean of the unmonitored runs of the same storm just before
and just after it: the load of a shared machine drifts) and to the floor (bpftrace-count); for tiercel
the records lost in the kernel during the storm (`/metrics`, the web server is enabled on a free port), the
attacks alerted, start-up (launch to its `tiercel: running` line or /healthz), peak (VmHWM) and steady
(VmRSS after the storm) RSS, and for the relevant storm the alerts' repeat counts summed against the opens
performed (the repeat count is the first of REPEAT_FIELDS present, else 1). bpftrace's lost events come
from its `Lost N events` lines, auditd's from the `lost` of `auditctl -s`; the RSS columns are of the
monitor's process (tiercel, bpftrace, auditd).

Run as root: `.venv/bin/python bench/storm_compare.py [--seconds 5] [--execs 3000] [--monitors ...]
[--quick] [--json FILE]`. bpftrace and auditd are installed with apt-get where missing; the audit rules
are deleted afterwards (`auditctl -D`, then any rules found at the start are put back) and an auditd this
bench started is stopped. Ratios are noisy on a shared machine: compare within one run only.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from agentrun import AgentProcess, note, rss_mb, wait_for, wait_stable
from sidebyside import BPF_READY, BpftraceRun, ensure_tool, fmt, median_range, neighbour_ratios, oracle_rules

try:
    from orjson import loads
except ImportError:  # any Python 3.11 will do; the venv's has orjson
    from json import loads  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
SHADOW = "/etc/shadow"
ATTACKER = "storm_attacker"   # comm of the process that starts the cats (bench/storm_load.c)
STORM_COMM = "storm_load"     # comm of the storms
# Where a coalesced alert may carry how many identical events it stands for (none does yet).
REPEAT_FIELDS = ("tiercel.repeat", "tiercel.count", "evt.count", "evt.repeat")
AUDIT_RULE = ["-F", "arch=b64", "-S", "openat", "-S", "execve"]
BPF_PROGRAMS = {
    "bpftrace-count": "tracepoint:syscalls:sys_exit_openat { @opens = count(); } " + BPF_READY,
    "bpftrace-print": ('tracepoint:syscalls:sys_exit_openat { printf("%d %s %d\\n", pid, comm, args->ret); } '
                       + BPF_READY),
}
ALL_MONITORS = ("tiercel", "tiercel-upstream", "bpftrace-count", "bpftrace-print", "auditd")
FLOOR = "bpftrace-count"


# ---- results -------------------------------------------------------------------------------------------

@dataclass
class Cell:
    monitor: str
    storm: str
    count: int = 0                       # iterations / execs / opens performed
    elapsed_s: float = 0.0
    rate: float | None = None
    ratio: float | None = None           # to unmonitored
    floor_ratio: float | None = None     # to bpftrace-count in the same run
    unmonitored: list[float] = dataclasses.field(default_factory=list)  # the rates the ratio is to
    lost: int | None = None              # records/events lost during the storm
    seen: int | None = None              # records read (tiercel) or events counted (bpftrace)
    lost_total: int | None = None        # over the monitor's whole life (tiercel's exit summary)
    attacks: int = 0
    attacks_late: int = 0                # cats started after the storm had ended
    attack_alerts: int | None = None
    startup_s: float | None = None
    rss_peak_mb: float | None = None
    rss_steady_mb: float | None = None
    storm_alerts: int | None = None      # alert lines for the relevant storm's own opens
    storm_alert_sum: int | None = None   # the same, repeat counts summed
    output_dropped: int | None = None    # alerts tiercel's outputs dropped during the storm
    settle_s: float | None = None
    mode: str | None = None              # how tiercel says it runs (its start-up line)
    error: str | None = None


@dataclass
class Storm:
    name: str
    unit: str
    argv: list[str]
    expected_s: float                    # the attacks are spread over this


@dataclass
class StormRun:
    count: int
    elapsed_s: float
    attack_pids: list[int]
    attacks_late: int


# ---- workloads -----------------------------------------------------------------------------------------

def build(tmp: Path) -> Path:
    """storm_load and storm_attacker (the same program) in tmp."""
    for name in (STORM_COMM, ATTACKER):
        subprocess.run(["gcc", "-O2", "-o", str(tmp / name), str(HERE / "storm_load.c")], check=True)
    return tmp


def run_storm(bins: Path, storm: Storm, attacks: int) -> StormRun:
    interval = storm.expected_s / (attacks + 1)
    attacker = subprocess.Popen([str(bins / ATTACKER), "attack", str(attacks), f"{interval:.4f}", SHADOW],
                                stdout=subprocess.PIPE)
    pids: list[tuple[int, float]] = []
    reader = threading.Thread(target=lambda: pids.extend(
        (int(line), time.monotonic()) for line in attacker.stdout or ()), daemon=True)
    reader.start()
    out = subprocess.run(storm.argv, check=True, capture_output=True, text=True).stdout.split()
    ended = time.monotonic()
    attacker.wait()
    reader.join()
    count, elapsed, failed = int(out[0]), float(out[1]), int(out[2])
    if failed:
        note(f"{storm.name} storm: {failed} of {count} calls failed")
    late = sum(1 for _, t in pids if t > ended)
    return StormRun(count, elapsed, [p for p, _ in pids], late)


def storms(bins: Path, seconds: float, execs: int) -> list[Storm]:
    exe = bins / STORM_COMM
    calib = min(300, execs)
    out = subprocess.run([str(exe), "exec", str(calib)], check=True, capture_output=True, text=True)
    exec_rate = calib / float(out.stdout.split()[1])
    return [Storm("open", "iterations/s", [str(exe), "open", "/etc/hostname", str(seconds)], seconds),
            Storm("exec", "execs/s", [str(exe), "exec", str(execs)], execs / exec_rate),
            Storm("relevant", "opens/s", [str(exe), "open", SHADOW, str(seconds)], seconds)]


# ---- monitors ------------------------------------------------------------------------------------------

class Monitor(Protocol):
    name: str

    def setup(self) -> None: ...                     # once, before its first storm
    def start(self) -> float: ...                    # per storm; returns start-up seconds
    def pid(self) -> int | None: ...
    def mark(self) -> None: ...                      # just before the storm
    def settle(self, cell: Cell, run: StormRun) -> None: ...   # after it: wait, then count
    def stop(self, cell: Cell) -> None: ...
    def teardown(self) -> None: ...                  # once, always


class NoMonitor:
    name = "none"

    def setup(self) -> None: pass
    def start(self) -> float: return 0.0
    def pid(self) -> int | None: return None
    def mark(self) -> None: pass
    def settle(self, cell: Cell, run: StormRun) -> None: pass
    def stop(self, cell: Cell) -> None: pass
    def teardown(self) -> None: pass


class AlertReader(threading.Thread):
    """tiercel's stdout: every alert line counted; those about /etc/shadow kept, as the few fields used."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.total = 0
        self.shadow: list[tuple[str, str, int | None, int]] = []   # proc.name, pname, pid, repeat
        self.start()

    def run(self) -> None:
        needle = SHADOW.encode()
        for line in self.stream:
            self.total += 1
            if needle in line:
                with contextlib.suppress(ValueError):
                    self._keep(loads(line).get("output_fields") or {})

    def _keep(self, f: dict[str, Any]) -> None:
        if f.get("fd.name") != SHADOW:
            return
        repeat = next((int(f[k]) for k in REPEAT_FIELDS if isinstance(f.get(k), int | str)
                       and str(f[k]).isdigit()), 1)
        pid = f.get("proc.pid")
        self.shadow.append((str(f.get("proc.name")), str(f.get("proc.pname")),
                            pid if isinstance(pid, int) else None, repeat))


class Tiercel:
    """`tiercel run` as a black box: JSON alerts on stdout, messages on stderr, /metrics for counts."""

    def __init__(self, name: str, rules: list[Path]) -> None:
        self.name, self.rules = name, rules
        self.agent: AgentProcess | None = None
        self.before: dict[str, float] = {}

    def setup(self) -> None:
        for r in self.rules:
            if not r.is_file():
                raise RuntimeError(f"rule file not found: {r}")

    def start(self) -> float:
        t0 = time.monotonic()
        self.agent = AgentProcess(self.name, ["--stats", *(a for r in self.rules for a in ("-r", str(r)))])
        proc = self.agent.launch()
        assert proc.stdout is not None
        self.alerts = AlertReader(proc.stdout)
        self.agent.wait_ready(180)
        return time.monotonic() - t0

    def metrics(self) -> dict[str, float]:
        return self.agent.metrics() if self.agent is not None else {}

    def pid(self) -> int | None:
        return self.agent.pid if self.agent is not None else None

    def mark(self) -> None:
        self.before = self.metrics()

    def settle(self, cell: Cell, run: StormRun) -> None:
        # Done when the alerts about /etc/shadow stop coming (the backlog is read) for a second.
        cell.settle_s = wait_stable(lambda: len(self.alerts.shadow), quiet=1.0, cap=60.0)
        after = self.metrics()

        def delta(pred: Callable[[str], bool]) -> int:
            return int(sum(v for k, v in after.items() if pred(k))
                       - sum(v for k, v in self.before.items() if pred(k)))
        cell.lost = delta(lambda k: k == "tiercel_kernel_records_lost_total")
        cell.seen = delta(lambda k: k == "tiercel_kernel_records_total")
        cell.output_dropped = delta(lambda k: k.startswith("tiercel_output_alerts_total")
                                    and 'result="dropped' in k)
        self._count_alerts(cell, run)

    def _count_alerts(self, cell: Cell, run: StormRun) -> None:
        pids = set(run.attack_pids)
        shadow = list(self.alerts.shadow)
        cats = [pid for name, pname, pid, _ in shadow if name == "cat" and pname == ATTACKER]
        # one per cat when the output names the pid (tiercel's rules), else one per alert (upstream's)
        by_pid = {p for p in cats if p in pids}
        cell.attack_alerts = len(by_pid) + sum(1 for p in cats if p is None)
        if cell.storm == "relevant":
            mine = [rep for name, _, _, rep in shadow if name == STORM_COMM]
            cell.storm_alerts, cell.storm_alert_sum = len(mine), sum(mine)

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


class Bpftrace:
    """bpftrace with one of BPF_PROGRAMS (sidebyside.BpftraceRun)."""

    def __init__(self, name: str) -> None:
        self.name, self.program = name, BPF_PROGRAMS[name]
        self.run: BpftraceRun | None = None

    def setup(self) -> None:
        ensure_tool("bpftrace", "bpftrace")

    def start(self) -> float:
        self.run = BpftraceRun(self.name, self.program)
        return self.run.start()

    def pid(self) -> int | None:
        return self.run.pid if self.run is not None else None

    def mark(self) -> None:
        self.lines_before = self.run.lines if self.run is not None else 0

    def settle(self, cell: Cell, run: StormRun) -> None:
        bpf = self.run
        if self.name == "bpftrace-print" and bpf is not None:
            cell.settle_s = wait_stable(lambda: bpf.lines, quiet=0.5, cap=30.0)
            cell.seen = bpf.lines - self.lines_before

    def stop(self, cell: Cell) -> None:
        bpf, self.run = self.run, None
        if bpf is None:
            return
        cell.lost = bpf.stop()
        count = re.search(rb"@opens: (\d+)", bpf.tail)
        if count:
            cell.seen = int(count.group(1))

    def teardown(self) -> None:
        if self.run is not None:
            self.run.stop()


def auditctl(*args: str, check: bool = True) -> str:
    return subprocess.run(["auditctl", *args], check=check, capture_output=True, text=True).stdout


def audit_status() -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^(\w+) (\d+)", auditctl("-s"), re.M)}


class Auditd:
    """auditd and one rule on openat + execve; the rule is added for each storm and removed after it."""

    name = "auditd"

    def __init__(self) -> None:
        self.started: int | None = None      # the auditd this bench started
        self.saved_rules: list[str] = []
        self.enabled: int | None = None
        self.daemon: int | None = None

    def setup(self) -> None:
        running = audit_status().get("pid", 0) if shutil.which("auditctl") else 0
        ensure_tool("auditd", "auditd")
        status = audit_status()
        self.enabled = status.get("enabled")
        rules = auditctl("-l")
        self.saved_rules = [r for r in rules.splitlines() if r.startswith("-")]
        if status.get("pid", 0) == 0:
            note("starting auditd")
            subprocess.run(["auditd"], check=True)
            wait_for(lambda: audit_status().get("pid", 0) != 0, 30)
        self.daemon = audit_status().get("pid") or None
        if not running and self.daemon:
            self.started = self.daemon  # started here (or by the package's install)
        note(f"auditd pid {self.daemon}, backlog_limit {audit_status().get('backlog_limit')}")

    def start(self) -> float:
        t0 = time.monotonic()
        auditctl("-a", "always,exit", *AUDIT_RULE)
        return time.monotonic() - t0

    def pid(self) -> int | None:
        return self.daemon

    def mark(self) -> None:
        self.lost_before = audit_status().get("lost", 0)

    def settle(self, cell: Cell, run: StormRun) -> None:
        t0 = time.monotonic()  # the records still queued for auditd are delivered or lost
        wait_for(lambda: audit_status().get("backlog", 0) == 0, 10, step=0.05)
        cell.settle_s = time.monotonic() - t0
        cell.lost = audit_status().get("lost", 0) - self.lost_before

    def stop(self, cell: Cell) -> None:
        auditctl("-d", "always,exit", *AUDIT_RULE, check=False)

    def teardown(self) -> None:
        if not shutil.which("auditctl"):
            return
        auditctl("-D", check=False)
        for rule in self.saved_rules:
            auditctl(*shlex.split(rule), check=False)
        if self.started is not None:
            note(f"stopping auditd (pid {self.started})")
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.started, signal.SIGTERM)
            wait_for(lambda: not Path(f"/proc/{self.started}").exists(), 30)
        if self.enabled is not None and self.enabled != 2 and audit_status().get("enabled") != self.enabled:
            auditctl("-e", str(self.enabled), check=False)


def make_monitor(name: str) -> Monitor:
    if name == "tiercel":
        return Tiercel(name, [])
    if name == "tiercel-upstream":
        return Tiercel(name, oracle_rules())
    if name in BPF_PROGRAMS:
        return Bpftrace(name)
    if name == "auditd":
        return Auditd()
    raise SystemExit(f"unknown monitor {name!r}: one of none, {', '.join(ALL_MONITORS)}")


# ---- one cell, one run ---------------------------------------------------------------------------------

def run_cell(mon: Monitor, storm: Storm, bins: Path, attacks: int) -> Cell:
    note(f"{mon.name} / {storm.name} storm")
    cell = Cell(mon.name, storm.name)
    try:
        cell.startup_s = mon.start()
        mon.mark()
        run = run_storm(bins, storm, attacks)
        cell.count, cell.elapsed_s, cell.rate = run.count, run.elapsed_s, run.count / run.elapsed_s
        cell.attacks, cell.attacks_late = len(run.attack_pids), run.attacks_late
        mon.settle(cell, run)
        cell.rss_peak_mb, cell.rss_steady_mb = rss_mb(mon.pid())
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        cell.error = str(e)
        note(f"{mon.name} / {storm.name}: {e}")
    finally:
        mon.stop(cell)
    if cell.attacks_late and mon.name != "none":
        note(f"{mon.name} / {storm.name}: {cell.attacks_late} attacks started after the storm ended")
    return cell


def run_all(names: list[str], storm_list: list[Storm], bins: Path, attacks: int) -> list[Cell]:
    """Each monitored storm right after the same storm unmonitored (the machine's load drifts), and
    every storm unmonitored once more at the end: a monitored cell is compared with its neighbours."""
    cells: list[Cell] = []
    for mon in (make_monitor(n) for n in names):
        try:
            mon.setup()
            for storm in storm_list:
                base = run_cell(NoMonitor(), storm, bins, attacks)
                cells.append(base)
                if storm.name == "exec" and base.elapsed_s:  # the attacks fall within the storm
                    storm = dataclasses.replace(storm, expected_s=0.9 * base.elapsed_s)
                cells.append(run_cell(mon, storm, bins, attacks))
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            note(f"{mon.name}: set-up failed: {e}")
            cells += [Cell(mon.name, s.name, error=f"set-up failed: {e}") for s in storm_list]
        finally:
            mon.teardown()
    cells += [run_cell(NoMonitor(), storm, bins, attacks) for storm in storm_list]
    return cells


def add_ratios(cells: list[Cell]) -> None:
    """Ratio to the mean of the unmonitored runs of the same storm just before and just after."""
    neighbour_ratios(cells, lambda c: c.storm, FLOOR)


# ---- the table -----------------------------------------------------------------------------------------

def fmt_lost(c: Cell) -> str:
    if c.lost is None:
        return "—"
    if c.monitor.startswith("tiercel") and c.seen is not None:
        return f"{c.lost:,} ({c.lost / max(c.lost + c.seen, 1):.0%})"
    return f"{c.lost:,}"


def summary_table(cells: list[Cell], storm_names: list[str]) -> list[str]:
    monitors = list(dict.fromkeys(c.monitor for c in cells))
    head = ["monitor", *(f"{s} storm ×" for s in storm_names), "lost in the kernel (" +
            " / ".join(storm_names) + ")", "attacks alerted (" + " / ".join(storm_names) + ")"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in monitors:
        mine = {c.storm: c for c in cells if c.monitor == m}
        if m == "none":
            continue
        ratios = [fmt(mine[s].ratio) if s in mine and not mine[s].error else "error" for s in storm_names]
        lost = " / ".join(fmt_lost(mine[s]) if s in mine else "—" for s in storm_names)
        hits = " / ".join(f"{mine[s].attack_alerts}/{mine[s].attacks}" if s in mine
                          and mine[s].attack_alerts is not None else "—" for s in storm_names)
        rows.append(f"| {m} | " + " | ".join(ratios) + f" | {lost} | {hits} |")
    return rows


def detail_table(cells: list[Cell]) -> list[str]:
    head = ["monitor", "storm", "rate /s (unmonitored before / after)", "× unmonitored", "× floor",
            "lost in the kernel", "attacks alerted",
            "start-up s", "RSS peak / steady MB", "storm alerts: sum / lines / performed"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in cells:
        if c.monitor == "none":
            continue
        if c.error:
            error = c.error[:300].replace("|", "\\|")
            rows.append(f"| {c.monitor} | {c.storm} | error: {error} |" + " |" * (len(head) - 3))
            continue
        rss = "—" if c.rss_peak_mb is None else f"{c.rss_peak_mb:.0f} / {c.rss_steady_mb:.0f}"
        hits = "—" if c.attack_alerts is None else f"{c.attack_alerts}/{c.attacks}"
        relevant = ("—" if c.storm_alerts is None
                    else f"{c.storm_alert_sum:,} / {c.storm_alerts:,} / {c.count:,}")
        startup = fmt(c.startup_s)
        base = " / ".join(f"{r:,.0f}" for r in c.unmonitored)
        rows.append(f"| {c.monitor} | {c.storm} | {fmt(c.rate, ',.0f')} ({base}) | "
                    f"{fmt(c.ratio)} | {fmt(c.floor_ratio)} | {fmt_lost(c)} | {hits} | {startup} | {rss} | "
                    f"{relevant} |")
    return rows


def render(cells: list[Cell], storm_list: list[Storm], note_text: str) -> str:
    base = []
    for storm in storm_list:
        runs = [c.rate for c in cells if c.monitor == "none" and c.storm == storm.name and c.rate]
        if runs:
            base.append(f"{storm.name} {sum(runs) / len(runs):,.0f} {storm.unit} "
                        f"({min(runs):,.0f}–{max(runs):,.0f} over {len(runs)} runs)")
    modes = dict.fromkeys(f"{c.monitor}: {c.mode}" for c in cells if c.mode)
    lines = [f"Unmonitored: {'; '.join(base)}.", "", *summary_table(cells, [s.name for s in storm_list]),
             "", *detail_table(cells), "", *(f"- {m}" for m in modes), "", note_text]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of the open and relevant storms")
    ap.add_argument("--execs", type=int, default=3000, help="fork+execs in the exec storm")
    ap.add_argument("--attacks", type=int, default=20, help="`cat /etc/shadow` during each storm")
    ap.add_argument("--monitors", default=",".join(ALL_MONITORS),
                    help=f"comma-separated subset of {', '.join(ALL_MONITORS)} (none always runs)")
    ap.add_argument("--storms", default="open,exec,relevant", help="comma-separated subset")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 s storms, 300 execs, 5 attacks")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run everything this many times; the tables are the last round's, preceded by "
                         "each ratio's median and range over the rounds")
    ap.add_argument("--json", type=Path, help="also write the cells and the table here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("storm_compare: run as root (the agent, bpftrace and auditctl need it)")
    if args.quick:
        args.seconds, args.execs, args.attacks = 1.0, 300, 5
    names = [n for n in args.monitors.split(",") if n and n != "none"]
    for n in names:
        make_monitor(n)  # unknown names fail before anything runs
    load = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.TemporaryDirectory() as tmp:
        bins = build(Path(tmp))
        wanted = args.storms.split(",")
        storm_list = [s for s in storms(bins, args.seconds, args.execs) if s.name in wanted]
        started = time.strftime("%Y-%m-%d %H:%M")
        rounds = []
        for _ in range(max(args.rounds, 1)):
            rounds.append(run_all(names, storm_list, bins, args.attacks))
            add_ratios(rounds[-1])
    cells = rounds[-1]
    load_end = Path("/proc/loadavg").read_text().split()[:3]
    note_text = (f"{started}, {os.cpu_count()} CPUs, load average {' '.join(load)} before and "
                 f"{' '.join(load_end)} after; --seconds {args.seconds:g} --execs {args.execs} "
                 f"--attacks {args.attacks}.")
    table = render(cells, storm_list, note_text)
    if len(rounds) > 1:
        table = "\n".join(median_table(rounds, [s.name for s in storm_list])) + "\n\nLast round:\n\n" + table
    print(table)
    if args.json:
        args.json.write_text(json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()},
             "rounds": [[dataclasses.asdict(c) for c in r] for r in rounds], "table": table},
            indent=2) + "\n")


def median_table(rounds: list[list[Cell]], storm_names: list[str]) -> list[str]:
    """Per monitor and storm: the median ratio to unmonitored and to the floor over the rounds, with
    their ranges (one storm per round and monitor is noisy: the floor itself moves by a few %)."""
    monitors = list(dict.fromkeys(c.monitor for r in rounds for c in r if c.monitor != "none"))
    rows = [f"Medians over {len(rounds)} rounds (range):", "",
            "| monitor | storm | × unmonitored | × floor |", "|---|---|---|---|"]
    for m in monitors:
        for st in storm_names:
            mine = [c for r in rounds for c in r if c.monitor == m and c.storm == st and not c.error]
            rows.append(f"| {m} | {st} | {median_range([c.ratio for c in mine if c.ratio])} | "
                        f"{median_range([c.floor_ratio for c in mine if c.floor_ratio])} |")
    return rows


if __name__ == "__main__":
    main()
