"""Soak: --minutes (30) of mixed load with the agent live; its memory, losses, deliveries and state tables.

The agent is `tiercel run --stats` with the default rules and JSON alerts to four outputs: stdout
(/dev/null), a file, an HTTP receiver and a syslog (UDP) receiver that this bench runs on loopback; its
web server on a free port serves /metrics. The load, each kind in its own thread, all at once:

    generator    `tiercel generate --all` every --generate-every s (10): suspicious actions, alerts
    open storm   bench/storm_load.c opening /etc/hostname for --storm-on s every --storm-every s (5 / 30)
    churn        bench/proc_churn.c: --procs live processes (10,000; fewer when pid_max, threads-max,
                 RLIMIT_NPROC or the pids cgroup leave less room: said at the start) held --hold s (20),
                 then killed and reaped; every --churn-every s (180)
    containers   `docker run --rm --network none tiercel-test/busybox:1 sh -c 'cat /etc/shadow; sleep 1'`
                 every --container-every s (15)

Every --sample s (10) it reads the agent's VmRSS (/proc/PID/status) and /metrics; once a minute it
prints elapsed, RSS, records lost in the kernel, alerts produced, delivered / dropped per output and the
state tables (tiercel_state_processes, _threads, _fds, _containers) beside the host's processes and
threads. The baseline is taken before the load, once the process table has stopped changing. At the end
the load stops; once the process table has been still for --settle s (polled) and the queues are
empty, the tables are read again; the agent is stopped (its outputs flushed) and its final counts
checked: per output, delivered + dropped = produced (less any throttled by outputs.rate), beside what
the receivers got. Then the figures as a markdown table. The RSS slope is a least-squares fit over
the samples from --warmup minutes (5) on, in MB per hour, and again over the second half alone.

Run as root: `.venv/bin/python bench/soak.py [--minutes 30] [--json FILE]`. Docker (ci/test-deps.sh
starts it and builds the image) is needed for the container churn, which is skipped, and said, without
it. Every process and container started here is stopped on the way out, Ctrl-C included. Exit 0
unless the bench itself failed: benches print, tests assert.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from agentrun import TIERCEL, AgentProcess, note, rss_mb, wait_for, wait_stable
from storm_compare import STORM_COMM
from storm_compare import build as build_storm

from tiercel.state import procfs
from tiercel.testing.receivers import DatagramReceiver, HttpReceiver

HERE = Path(__file__).resolve().parent
IMAGE = "tiercel-test/busybox:1"
CONTAINER_CMD = ["sh", "-c", "cat /etc/shadow; sleep 1"]
OUTPUTS = ("stdout", "file", "http", "syslog")
TABLES = ("processes", "threads", "fds", "containers")


# ---- load ---------------------------------------------------------------------------------------------

class Load(threading.Thread):
    """One kind of load: `once(self)` every `period` s after `delay` (a run longer than the period is
    followed at once). A failed run is counted and its message kept; the thread goes on."""

    def __init__(self, name: str, period: float, delay: float, once: Callable[[Load], None]) -> None:
        super().__init__(daemon=True, name=name)
        self.period, self.delay, self.once = period, delay, once
        self.runs = self.failures = 0
        self.last_error = ""
        self.halt = threading.Event()
        self.live: set[subprocess.Popen[Any]] = set()
        self.figures: dict[str, float] = {}

    def run(self) -> None:
        if self.halt.wait(self.delay):
            return
        while not self.halt.is_set():
            t0 = time.monotonic()
            try:
                self.once(self)
                self.runs += 1
            except Exception as e:  # counted, never fatal: the other loads go on
                self.failures += 1
                self.last_error = str(e)[:300]
            self.halt.wait(max(0.0, self.period - (time.monotonic() - t0)))

    def add(self, key: str, value: float) -> None:
        self.figures[key] = self.figures.get(key, 0) + value

    def popen(self, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        proc = subprocess.Popen(argv, **kw)
        self.live.add(proc)
        return proc

    def run_cmd(self, argv: list[str], timeout: float) -> str:
        """argv to its end; its stdout. RuntimeError with stderr's tail on a non-zero exit."""
        proc = self.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            self.live.discard(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} exited {proc.returncode}: {err.strip()[-200:]}")
        return str(out)

    def stop(self, grace: float) -> None:
        """Let the current run end within `grace` s, then stop what it started (SIGTERM: the generator
        undoes its actions; SIGKILL 10 s later)."""
        self.halt.set()
        if self.ident is None:
            return
        self.join(grace)
        for proc in list(self.live):
            if proc.poll() is None:
                note(f"{self.name}: stopping pid {proc.pid}")
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.join(30)


def generator(load: Load) -> None:
    load.run_cmd([str(TIERCEL), "generate", "--all"], timeout=300)


def storm(exe: Path, seconds: float) -> Callable[[Load], None]:
    def once(load: Load) -> None:
        count, elapsed, _failed = load.run_cmd([str(exe), "open", "/etc/hostname", str(seconds)],
                                               timeout=seconds + 60).split()
        load.add("opens", int(count))
        load.add("seconds", float(elapsed))
    return once


def churn(exe: Path, n: int, hold: float, agent: AgentProcess) -> Callable[[Load], None]:
    def once(load: Load) -> None:
        proc = load.popen([str(exe), str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            forked, fork_s = proc.stdout.readline().split()
            load.figures["forked_max"] = max(load.figures.get("forked_max", 0), int(forked))
            load.add("fork_s", float(fork_s))
            end = time.monotonic() + hold
            while not load.halt.is_set() and time.monotonic() < end:  # the table's peak while held
                peak = agent.metrics().get("tiercel_state_processes", 0)
                load.figures["table_peak"] = max(load.figures.get("table_peak", 0), peak)
                load.halt.wait(2)
            proc.stdin.close()
            reaped, reap_s = proc.stdout.readline().split()
            load.add("reap_s", float(reap_s))
            if int(reaped) != int(forked):
                raise RuntimeError(f"reaped {reaped} of {forked}")
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()   # releases them, if an error came first
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            load.live.discard(proc)
    return once


class Containers:
    """`docker run --rm` of the test image, the container table's size polled while it runs; names kept
    so that any left behind are removed."""

    def __init__(self, agent: AgentProcess) -> None:
        self.agent = agent
        self.started: list[str] = []
        self.done: set[str] = set()

    def once(self, load: Load) -> None:
        name = f"tiercel-soak-{os.getpid()}-{len(self.started)}"
        self.started.append(name)
        argv = ["docker", "run", "--rm", "--name", name, "--network", "none", IMAGE, *CONTAINER_CMD]
        proc = load.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                n = self.agent.metrics().get("tiercel_state_containers", 0)
                load.figures["table_peak"] = max(load.figures.get("table_peak", 0), n)
                time.sleep(0.25)
        finally:
            if proc.poll() is None:
                proc.kill()
            err = proc.communicate()[1]
            load.live.discard(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"docker run exited {proc.returncode}: {err.decode(errors='replace')[-200:]}")
        self.done.add(name)

    def cleanup(self) -> None:
        for name in self.started:
            if name not in self.done:
                subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def docker_ready() -> str | None:
    """None if `docker info` answers and the test image is there; else why not."""
    try:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
            return "`docker info` fails (is dockerd running? ci/test-deps.sh starts it)"
        if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True,
                          timeout=60).returncode != 0:
            return f"image {IMAGE} missing (ci/test-deps.sh builds it)"
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"docker: {e}"
    return None


def churn_size(wanted: int) -> tuple[int, str]:
    """How many live processes the churn may hold: what pid_max, threads-max, RLIMIT_NPROC and the pids
    cgroup leave, keeping a quarter of that room (at least 4,096) free for the rest of the host."""
    tasks = int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])
    limits = {"pid_max": int(Path("/proc/sys/kernel/pid_max").read_text()),
              "threads-max": int(Path("/proc/sys/kernel/threads-max").read_text())}
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    if nproc != resource.RLIM_INFINITY:
        limits["RLIMIT_NPROC"] = nproc
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrl, path = line.split(":", 2)
        base = Path("/sys/fs/cgroup/pids" if ctrl == "pids" else "/sys/fs/cgroup" if ctrl == "" else "/-")
        with contextlib.suppress(OSError, ValueError):
            cg = base / path.lstrip("/")
            free = int((cg / "pids.max").read_text()) - int((cg / "pids.current").read_text())
            limits["pids cgroup"] = free + tasks
    room = min(limits.values()) - tasks
    n = max(0, min(wanted, room - max(4096, room // 4)))
    said = ", ".join(f"{k} {v:,}" for k, v in limits.items())
    verdict = "fits" if n == wanted else f"does not fit: lowered to {n:,}"
    return n, f"{said}; {tasks:,} tasks now: {wanted:,} live processes {verdict}"


# ---- samples -------------------------------------------------------------------------------------------

@dataclass
class Sample:
    t: float                 # seconds since the load started (negative: baseline)
    rss_mb: float
    hwm_mb: float
    lost: int
    records: int
    produced: int
    throttled: int
    delivered: dict[str, int]
    dropped: dict[str, int]
    queued: dict[str, int]
    tables: dict[str, int]
    host_procs: int
    host_threads: int
    host_fds: int = -1       # read at the baseline and after the load only (a walk of every fd)


def host_fds(agent_pid: int) -> int:
    """The fds of the host's processes as the state reads them from /proc at start (the kinds it
    keeps), the agent's own left out: what its fd table would hold if it were read anew."""
    return sum(len(procfs.read_fds(Path(f"/proc/{pid}"))) for pid in procfs.list_pids(Path("/proc"))
               if pid != agent_pid)


def host_counts() -> tuple[int, int]:
    procs = sum(1 for d in os.scandir("/proc") if d.name.isdigit())
    return procs, int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])


def per_output(m: dict[str, float], metric: str, result: str | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, v in m.items():
        found = re.fullmatch(metric + r'\{output="([^"]+)"(?:,result="([^"]+)")?\}', key)
        if found and (result is None or (found.group(2) or "").startswith(result)):
            out[found.group(1)] = out.get(found.group(1), 0) + int(v)
    return out


def sample(agent: AgentProcess, t: float) -> Sample:
    m = agent.metrics()
    hwm, rss = rss_mb(agent.pid)
    procs, threads = host_counts()
    return Sample(t, rss or 0.0, hwm or 0.0, int(m.get("tiercel_kernel_records_lost_total", 0)),
                  int(m.get("tiercel_kernel_records_total", 0)), int(m.get("tiercel_alerts_total", 0)),
                  int(m.get("tiercel_alerts_throttled_total", 0)),
                  per_output(m, "tiercel_output_alerts_total", "delivered"),
                  per_output(m, "tiercel_output_alerts_total", "dropped"),
                  per_output(m, "tiercel_output_queued"),
                  {k: int(m.get(f"tiercel_state_{k}", -1)) for k in TABLES}, procs, threads)


def minute_header() -> str:
    outs = "  ".join(f"{o + ' dlv/drop':>15}" for o in OUTPUTS)
    return (f"{'min':>5} {'RSS MB':>7} {'lost':>8} {'alerts':>7}  {outs}  {'procs (host)':>15} "
            f"{'threads (host)':>15} {'fds':>7} {'ctrs':>5}")


def minute_line(s: Sample) -> str:
    outs = "  ".join(f"{s.delivered.get(o, 0):>9,}/{s.dropped.get(o, 0):<5,}" for o in OUTPUTS)
    tb = s.tables
    return (f"{s.t / 60:5.1f} {s.rss_mb:7.1f} {s.lost:8,} {s.produced:7,}  {outs}  "
            f"{tb['processes']:>6,} ({s.host_procs:>6,}) {tb['threads']:>6,} ({s.host_threads:>6,}) "
            f"{tb['fds']:>7,} {tb['containers']:>5,}")


def slope_mb_per_hour(samples: list[Sample], from_s: float) -> tuple[float | None, int]:
    pts = [(s.t, s.rss_mb) for s in samples if s.t >= from_s]
    if len(pts) < 3:
        return None, len(pts)
    mx, my = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return (sum((x - mx) * (y - my) for x, y in pts) / sxx * 3600 if sxx else None), len(pts)


# ---- the agent's own final counts ------------------------------------------------------------------------

@dataclass
class Final:
    exit_code: int | None = None
    produced: int | None = None
    throttled: int = 0
    outputs: dict[str, dict[str, int]] = field(default_factory=dict)  # offered delivered dropped queued
    lost_line: str = ""


def final_counts(lines: list[str], exit_code: int | None) -> Final:
    f = Final(exit_code)
    for line in lines:
        if m := re.search(r"tiercel: \d+ events, \d+ lost in the kernel, (\d+) alerts \((\d+) throttled\)",
                          line):
            f.produced, f.throttled = int(m[1]), int(m[2])
        elif m := re.search(r"tiercel: output (\S+): (\d+) offered, (\d+) delivered, (\d+) dropped .*"
                            r", (\d+) queued", line):
            f.outputs[m[1]] = dict(zip(("offered", "delivered", "dropped", "queued"),
                                       map(int, m.groups()[1:]), strict=True))
        elif re.search(r"tiercel: \d+ records, ", line):
            f.lost_line = line.strip()
    return f


# ---- the run ---------------------------------------------------------------------------------------------

@dataclass
class Run:
    args: dict[str, str]
    churn_note: str = ""
    docker_note: str | None = None
    startup_s: float = 0.0
    baseline: Sample | None = None
    after: Sample | None = None
    settle_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    loads: dict[str, dict[str, Any]] = field(default_factory=dict)
    final: Final = field(default_factory=Final)
    received: dict[str, int] = field(default_factory=dict)
    agent_died: str | None = None
    agent_tail: list[str] = field(default_factory=list)
    interrupted: bool = False


def agent_args(tmp: Path, http: HttpReceiver, syslog: DatagramReceiver) -> list[str]:
    o = {"json_output": "true",
         "file_output.enabled": "true", "file_output.filename": str(tmp / "alerts.json"),
         "http_output.enabled": "true", "http_output.url": http.url,
         "syslog_output.enabled": "true", "syslog_output.protocol": "udp",
         "syslog_output.host": "127.0.0.1", "syslog_output.port": str(syslog.address[1])}
    return ["--stats", *(a for k, v in o.items() for a in ("-o", f"{k}={v}"))]


def make_loads(args: argparse.Namespace, bins: Path, n_procs: int, agent: AgentProcess,
               containers: Containers | None) -> list[Load]:
    loads = [Load("generator", args.generate_every, 0, generator),
             Load("open storm", args.storm_every, 5, storm(bins / STORM_COMM, args.storm_on))]
    if n_procs:
        once = churn(bins / "proc_churn", n_procs, args.hold, agent)
        loads.append(Load("churn", args.churn_every, 20, once))
    if containers is not None:
        loads.append(Load("containers", args.container_every, 10, containers.once))
    return loads


def soak(args: argparse.Namespace, run: Run, tmp: Path) -> None:
    build_storm(tmp)
    subprocess.run(["gcc", "-O2", "-o", str(tmp / "proc_churn"), str(HERE / "proc_churn.c")], check=True)
    n_procs, run.churn_note = churn_size(args.procs)
    note(f"churn: {run.churn_note}")
    run.docker_note = docker_ready()
    if run.docker_note:
        note(f"container churn skipped: {run.docker_note}")
    # counted, not kept: a soak delivers more alerts than are worth keeping
    http, syslog = HttpReceiver(keep=False), DatagramReceiver(socket.AF_INET, ("127.0.0.1", 0), keep=False)
    agent = AgentProcess("tiercel", agent_args(tmp, http, syslog), stdout=subprocess.DEVNULL)
    containers = None if run.docker_note else Containers(agent)
    loads: list[Load] = []
    t0 = time.monotonic()
    try:
        run.startup_s = agent.start()
        note(f"agent pid {agent.pid} running after {run.startup_s:.1f} s; waiting for a still process table")
        wait_stable(lambda: sample(agent, 0).tables["processes"], quiet=5, cap=60, step=1)
        run.baseline = dataclasses.replace(sample(agent, 0), host_fds=host_fds(agent.pid))
        loads = make_loads(args, tmp, n_procs, agent, containers)
        t0 = time.monotonic()
        for load in loads:
            load.start()
        print(minute_header(), flush=True)
        print(minute_line(run.baseline), "  <- baseline, before the load", flush=True)
        observe(agent, run, t0, args)
    except KeyboardInterrupt:
        run.interrupted = True
        note("interrupted: stopping everything started here; the figures so far follow")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # the clean-up runs to its end
            signal.signal(sig, signal.SIG_IGN)
        for load in loads:
            load.stop(grace=120 if load.name == "generator" else 60)
            run.loads[load.name] = {"runs": load.runs, "failures": load.failures,
                                    "last_error": load.last_error, **load.figures}
        if containers is not None:
            containers.cleanup()
        if run.baseline is not None and not run.interrupted and run.agent_died is None:
            settle(agent, run, t0, args)
        code = agent.stop(timeout=90)
        run.final = final_counts(agent.lines, code)
        run.agent_tail = agent.lines[-30:]
        wait_stable(lambda: http.count + syslog.count, quiet=1, cap=10)  # the last ones counted
        run.received = {"http": http.count, "syslog": syslog.count,
                        "file": count_lines(tmp / "alerts.json")}
        http.close()
        syslog.close()


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        return 0


def observe(agent: AgentProcess, run: Run, t0: float, args: argparse.Namespace) -> None:
    """Sample every --sample s until --minutes are over; a line each minute."""
    end, next_minute, k = t0 + args.minutes * 60, t0 + 60, 1
    while time.monotonic() < end:
        time.sleep(max(0.0, min(t0 + k * args.sample, end) - time.monotonic()))
        k += 1
        proc = agent.proc
        if proc is None or proc.poll() is not None:
            run.agent_died = (f"the agent exited ({proc.returncode if proc else '?'}) at "
                              f"{(time.monotonic() - t0) / 60:.1f} min: " + " | ".join(agent.lines[-5:]))
            note(run.agent_died)
            return
        s = sample(agent, time.monotonic() - t0)
        run.samples.append(s)
        if time.monotonic() >= next_minute - 0.5:
            print(minute_line(s), flush=True)
            next_minute += 60


def settle(agent: AgentProcess, run: Run, t0: float, args: argparse.Namespace) -> None:
    """The load has stopped: wait for the process table to be still and the queues empty, then read."""
    t = time.monotonic()
    note(f"load stopped; waiting for the process table to be still for {args.settle:g} s")
    wait_stable(lambda: sample(agent, 0).tables["processes"], quiet=args.settle, cap=300, step=1)
    wait_for(lambda: not any(sample(agent, 0).queued.values()), 120, step=1)
    run.settle_s = time.monotonic() - t
    run.after = dataclasses.replace(sample(agent, time.monotonic() - t0), host_fds=host_fds(agent.pid))
    print(minute_line(run.after), f"  <- after the load, settled in {run.settle_s:.0f} s", flush=True)


# ---- the report ------------------------------------------------------------------------------------------

def checks(run: Run) -> list[tuple[str, str, bool]]:
    """Per output: (name, the sum written out, whether delivered + dropped = produced)."""
    f = run.final
    if f.produced is None:  # no final counts (the agent was killed): the last sample, queues included
        last = run.after or (run.samples[-1] if run.samples else None)
        if last is None:
            return []
        f = Final(None, last.produced, last.throttled,
                  {o: {"delivered": last.delivered.get(o, 0), "dropped": last.dropped.get(o, 0),
                       "queued": last.queued.get(o, 0)} for o in last.delivered})
    assert f.produced is not None
    out = []
    for name, o in f.outputs.items():
        due = f.produced - f.throttled
        queued = f" + {o['queued']:,} queued" if o.get("queued") else ""
        total = o["delivered"] + o["dropped"] + o.get("queued", 0)
        less = f" − {f.throttled:,} throttled" if f.throttled else ""
        out.append((name, f"{o['delivered']:,} delivered + {o['dropped']:,} dropped{queued} = {total:,}; "
                          f"produced {f.produced:,}{less}", total == due and not o.get("queued")))
    return out


def table_row(run: Run, name: str) -> str:
    b, a = run.baseline, run.after
    if b is None:
        return "—"
    polled = {"processes": "churn", "containers": "containers"}  # loads that poll the table as they run
    peak = max([s.tables[name] for s in run.samples]
               + [int(run.loads.get(polled.get(name, ""), {}).get("table_peak", 0))])
    host = {"processes": "host_procs", "threads": "host_threads", "fds": "host_fds"}.get(name)

    def at(s: Sample) -> str:
        return f"{s.tables[name]:,}" + (f" (host {getattr(s, host):,})" if host else "")
    after = f"{at(a)} after it (settled in {run.settle_s:.0f} s)" if a is not None else "— (not settled)"
    return f"{at(b)} at baseline → {peak:,} at most during the load → {after}"


def load_summary(run: Run, args: argparse.Namespace) -> str:
    parts = []
    for name, d in run.loads.items():
        failed = f", {d['failures']} failed" if d["failures"] else ""
        if name == "generator":
            parts.append(f"`generate --all` ×{d['runs']}{failed}")
        elif name == "open storm" and d.get("seconds"):
            parts.append(f"open storm {args.storm_on:g} s every {args.storm_every:g} s ×{d['runs']} "
                         f"({d['opens'] / d['seconds']:,.0f} opens/s){failed}")
        elif name == "churn":
            parts.append(f"churn ×{d['runs']} of {int(d.get('forked_max', 0)):,} live processes held "
                         f"{args.hold:g} s{failed}")
        elif name == "containers":
            parts.append(f"`docker run` ×{d['runs']}{failed}")
    if run.docker_note:
        parts.append(f"no containers: {run.docker_note}")
    return "; ".join(parts)


def report(run: Run, args: argparse.Namespace) -> str:
    rows: list[tuple[str, str]] = []
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1]) / 2**20  # type: ignore[index]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    rows.append(("machine", f"{os.cpu_count()} CPUs, {mem:.0f} GB, kernel {platform.release()}; "
                            f"tiercel {commit}, default rules"))
    minutes = run.samples[-1].t / 60 if run.samples else 0
    rows.append(("load", f"{minutes:.0f} min: {load_summary(run, args)}"))
    if run.agent_died:
        rows.append(("**agent died**", run.agent_died))
    last = run.after or (run.samples[-1] if run.samples else None)
    if run.baseline is not None and last is not None:
        hwm = max(s.hwm_mb for s in [*run.samples, last])
        end_load = run.samples[-1].rss_mb if run.samples else last.rss_mb
        rows.append(("agent RSS (VmRSS)", f"{run.baseline.rss_mb:.0f} MB at baseline, {end_load:.0f} MB "
                     f"when the load stopped, {last.rss_mb:.0f} MB after; peak (VmHWM) {hwm:.0f} MB"))
        warm = args.warmup if minutes > args.warmup else minutes / 2
        slope, n = slope_mb_per_hour(run.samples, warm * 60)
        rows.append((f"RSS slope from minute {warm:g}", "—" if slope is None else
                     f"{slope:+.1f} MB/hour (least squares, {n} samples every {args.sample:g} s)"))
        # the second half alone: whether the growth has stopped, not only how much warm-up there was
        half, (slope, n) = round(minutes / 2), slope_mb_per_hour(run.samples, round(minutes / 2) * 60)
        if half > warm:
            rows.append((f"RSS slope from minute {half:g}", "—" if slope is None else
                         f"{slope:+.1f} MB/hour ({n} samples)"))
        total = last.lost + last.records
        rows.append(("records lost in the kernel",
                     f"{last.lost:,} of {total:,} ({last.lost / max(total, 1):.2%})"))
    f = run.final
    if f.produced is not None:
        throttled = f" ({f.throttled:,} throttled)" if f.throttled else ""
        rows.append(("alerts produced", f"{f.produced:,}{throttled}"))
    for name, text, ok in checks(run):
        got = f"; the bench's receiver got {run.received[name]:,}" if name in run.received else ""
        rows.append((f"output {name}", f"{text}: {'ok' if ok else '**MISMATCH**'}{got}"))
    for name in TABLES:
        rows.append((f"{name} table", table_row(run, name)))
    width = max(len(k) for k, _ in rows)
    return "\n".join([f"| {'':<{width}} | |", f"|{'-' * (width + 2)}|---|",
                      *(f"| {k:<{width}} | {v} |" for k, v in rows)])


def check_lines(run: Run) -> list[str]:
    return [f"check output {name}: delivered + dropped = produced: {'ok' if ok else 'MISMATCH'} ({text})"
            for name, text, ok in checks(run)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="length of the load")
    ap.add_argument("--warmup", type=float, default=5.0, help="minutes left out of the RSS slope")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--settle", type=float, default=10.0,
                    help="after the load: seconds the process table must stay still")
    ap.add_argument("--generate-every", type=float, default=10.0)
    ap.add_argument("--storm-on", type=float, default=5.0)
    ap.add_argument("--storm-every", type=float, default=30.0)
    ap.add_argument("--procs", type=int, default=10_000, help="live processes in each churn round")
    ap.add_argument("--hold", type=float, default=20.0, help="seconds the churn holds them")
    ap.add_argument("--churn-every", type=float, default=180.0)
    ap.add_argument("--container-every", type=float, default=15.0)
    ap.add_argument("--json", type=Path, help="also write every sample and the figures here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("soak: run as root (the agent loads its probe)")
    signal.signal(signal.SIGTERM, interrupt)
    run = Run(args={k: str(v) for k, v in vars(args).items()})
    try:
        with tempfile.TemporaryDirectory(prefix="tiercel-soak-") as tmp:
            soak(args, run, Path(tmp))
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        note(f"the bench failed: {e}")
        raise SystemExit(1) from e
    print("\n".join(["", *check_lines(run), ""]))
    if run.agent_tail and not run.final.outputs:
        print("the agent's last lines:", *run.agent_tail, sep="\n  ")
    table = report(run, args)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({**asdict(run), "table": table}, indent=1) + "\n")
    raise SystemExit(130 if run.interrupted else 0)


def interrupt(_sig: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
