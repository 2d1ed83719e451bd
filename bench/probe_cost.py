"""Where the probe's time goes in an open storm: nanoseconds per run of each of its programs.

The storm is bench/openloop.c (open+close of a file no rule names: every record stays in the kernel).
Rounds, one run, same machine state: unmonitored; the floor (a tracepoint program on sys_exit_openat
that only counts, as `bpftrace -e 'tracepoint:syscalls:sys_exit_openat { @ = count() }'`); the probe
with the default rules (stable + incubating) and the kernel filter. For the two monitored rounds the
kernel's BPF run-time statistics (kernel.bpf_stats_enabled, on only for a separate measuring round:
they cost two clock reads per run) give each program's runs and average nanoseconds, read from the
programs' /proc/self/fdinfo. Prints iterations/s with ratios, then the per-program table. Run as root:

    .venv/bin/python bench/probe_cost.py [--seconds 3] [--rounds 3] [--path /etc/hostname] [--execs N]

With --execs N the storm is N fork+execs of /bin/true instead (bench/storm_load.c), and the floor
still counts opens: the figure to read is then each program's runs and cost per exec.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from link_resolution_cost import filtered_source

ROOT = Path(__file__).resolve().parents[1]
STATS = Path("/proc/sys/kernel/bpf_stats_enabled")
FLOOR = b"""
BPF_PERCPU_ARRAY(n, u64, 1);
TRACEPOINT_PROBE(syscalls, sys_exit_openat) { int z = 0; u64 *c = n.lookup(&z); if (c) *c += 1; return 0; }
"""
PROGRAMS = (b"sys_exit", b"kf_path_exit", b"kf_emit_exit", b"sys_enter",
            b"tracepoint__sched__sched_process_fork", b"tracepoint__sched__sched_process_exec",
            b"tracepoint__sched__sched_process_exit")


def storm(binary: Path, seconds: float, path: str) -> float:
    out = subprocess.run([str(binary), str(seconds), path], check=True, capture_output=True, text=True)
    return float(out.stdout)


def exec_storm(binary: Path, execs: int) -> float:
    """fork+exec of /bin/true, one after another (bench/storm_load.c): execs per second."""
    out = subprocess.run([str(binary), "exec", str(execs)], check=True, capture_output=True, text=True)
    count, elapsed, _ = out.stdout.split()
    return int(count) / float(elapsed)


@contextlib.contextmanager
def bpf_stats() -> Iterator[None]:
    old = STATS.read_text().strip()
    STATS.write_text("1")
    try:
        yield
    finally:
        STATS.write_text(old)


def prog_stats(bpf: Any, names: tuple[bytes, ...]) -> dict[str, tuple[int, int]]:
    """name -> (run_cnt, run_time_ns) of the loaded programs among `names`."""
    out = {}
    for name in names:
        fn = bpf.funcs.get(name)
        if fn is None:
            continue
        info = dict(line.split(":", 1) for line in
                    Path(f"/proc/self/fdinfo/{fn.fd}").read_text().splitlines() if ":" in line)
        out[name.decode()] = (int(info.get("run_cnt", "0")), int(info.get("run_time_ns", "0")))
    return out


def measured(bpf: Any, names: tuple[bytes, ...], run: Callable[[], float]) -> dict[str, tuple[int, float]]:
    """name -> (runs, ns per run) over one storm with the statistics on."""
    with bpf_stats():
        before = prog_stats(bpf, names)
        run()
        after = prog_stats(bpf, names)
    out = {}
    for name, (cnt, ns) in after.items():
        c0, n0 = before.get(name, (0, 0))
        runs = cnt - c0
        out[name] = (runs, (ns - n0) / runs if runs else 0.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--path", default="/etc/hostname", help="the file the storm opens")
    ap.add_argument("--execs", type=int, default=0,
                    help="an exec storm of this many fork+execs of /bin/true instead of the open storm")
    ap.add_argument("--rules", type=Path, action="append", default=[],
                    help="a rules file or directory (repeatable; default: tiercel's rules)")
    args = ap.parse_args()
    import bcc

    work = Path(tempfile.mkdtemp(prefix="tiercel-probecost-"))
    binary = work / "openloop"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(ROOT / "bench" / "openloop.c")], check=True)
    loader = work / "storm_load"
    subprocess.run(["gcc", "-O2", "-o", str(loader), str(ROOT / "bench" / "storm_load.c")], check=True)

    def one() -> float:
        return exec_storm(loader, args.execs) if args.execs else storm(binary, args.seconds, args.path)

    rates: dict[str, list[float]] = {"unmonitored": [], "floor": [], "tiercel": []}
    floor = bcc.BPF(text=FLOOR)
    for _ in range(args.rounds):
        rates["floor"].append(one())
    floor_cost = measured(floor, (b"tracepoint__syscalls__sys_exit_openat",), one)
    floor.cleanup()

    with filtered_source(args.rules) as (source, _):
        assert source.probe is not None
        for _ in range(args.rounds):
            rates["tiercel"].append(one())
        cost = measured(source.probe.bpf, PROGRAMS, one)
    for _ in range(args.rounds):
        rates["unmonitored"].append(one())

    med = {k: statistics.median(v) for k, v in rates.items()}
    what = (f"{args.execs} fork+execs of /bin/true" if args.execs else
            f"open+close of {args.path}, {args.seconds:g} s")
    print(f"storm: {what} x {args.rounds} rounds, medians")
    for k, v in med.items():
        print(f"  {k:12} {v:12,.0f} iterations/s  {v / med['unmonitored']:.2f}x unmonitored  "
              f"{v / med['floor']:.2f}x floor")
    print("per program, statistics on (one more storm each):")
    for name, (runs, ns) in {"floor": next(iter(floor_cost.values())), **cost}.items():
        print(f"  {name.replace('tracepoint__sched__', ''):20} {runs:12,} runs  {ns:8.0f} ns/run")


if __name__ == "__main__":
    main()
