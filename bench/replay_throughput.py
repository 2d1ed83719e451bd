"""Replay throughput: a capture of about one million events through the upstream stable rules.

    .venv/bin/python bench/replay_throughput.py [--syscalls N] [--rules FILE ...] [--capture FILE]

The capture is made first (or reused, with --capture FILE when it exists): the "host" stream of
tiercel.testing.streams, as in bench/rules_throughput.py (routine execve/openat/connect of a busy
host, 0.1% suspicious), N syscalls written by tiercel's own ScapWriter as enter + exit pairs, so
N = 500,000 gives a capture of 1,000,000 events, with its process and fd lists. Then it is
replayed twice, the way `tiercel run -e` does (reader -> convert -> state -> rules), on one core:

    read + decode + state     the sink only counts
    ... + rules               every event (enter and exit) through Ruleset.match

Prints the capture's size and event count, the alerts and events per second of each pass. A
benchmark, not a test: no asserts.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

from tiercel.events.model import Event
from tiercel.rules import load_rules
from tiercel.scap.reader import CaptureReader
from tiercel.scap.writer import ScapWriter
from tiercel.sources.base import CaptureOptions
from tiercel.sources.replay import ReplaySource
from tiercel.testing.oracles import find_oracles, missing_reason
from tiercel.testing.streams import build_processes, make_event

CHECKOUT = Path(__file__).resolve().parents[1]
STABLE_RULES = "rules/falco_rules.yaml"  # under the oracle directory


def make_capture(path: Path, syscalls: int) -> None:
    """The host stream of one process tree, written as it is made (not held in memory)."""
    rng = random.Random(7)
    procs = build_processes(rng, 400)
    writer = ScapWriter(path, hostname="bench")
    for i in range(syscalls):
        writer.write(make_event(rng, i + 1, 1_700_000_000_000_000_000 + i * 1000, procs))
    writer.close()


def replay(path: Path, sink: object) -> tuple[int, float]:
    src = ReplaySource(path, CaptureOptions(), sink)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    src.start()
    src.run()
    src.stop()
    return src.counters.events, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--syscalls", type=int, default=500_000, help="enter+exit pairs to write")
    ap.add_argument("--rules", type=Path, nargs="*", help="default: Falco's stable rules")
    ap.add_argument("--capture", type=Path, help="capture to replay (made here if missing)")
    opts = ap.parse_args()
    oracles = find_oracles(CHECKOUT)
    opts.rules = opts.rules or ([oracles / STABLE_RULES] if oracles is not None else None)
    if not opts.rules:
        print(f"replay_throughput: no rules: {missing_reason(CHECKOUT)}; name rule files with --rules",
              file=sys.stderr)
        return 2

    tmp = None
    path = opts.capture
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="tiercel-bench-")
        path = Path(tmp.name) / "replay.scap"
    if not path.exists():
        t0 = time.perf_counter()
        make_capture(path, opts.syscalls)
        print(f"capture: written in {time.perf_counter() - t0:.1f}s")
    with CaptureReader(path) as r:
        records = sum(1 for _ in r.events())
    print(f"capture: {path.name}, {path.stat().st_size / 2**20:.0f} MiB, {records:,} events")

    counted = 0

    def count(ev: Event) -> None:
        nonlocal counted
        counted += 1
    events, elapsed = replay(path, count)
    print(f"read + decode + state: {events:,} events in {elapsed:.2f}s = {events / elapsed:,.0f} events/s")

    ruleset, result = load_rules(opts.rules)
    if result.errors:
        print(result.render_text(), file=sys.stderr)
        return 1
    alerts = 0

    def match(ev: Event) -> None:
        nonlocal alerts
        if ruleset.match(ev):
            alerts += 1
    events, elapsed = replay(path, match)
    print(f"... + rules ({len(ruleset.enabled_rules())} enabled, "
          f"{', '.join(p.name for p in opts.rules)}): {events:,} events in {elapsed:.2f}s "
          f"= {events / elapsed:,.0f} events/s, {alerts} alerts")
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, kernel {platform.release()}, "
          f"Python {platform.python_version()}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
