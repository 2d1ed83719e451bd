"""Live throughput: an open/close loop in C at full speed, with and without the agent capturing.

Prints the loop's speed alone and under capture (and their ratio), the records the agent received
per second and the records lost. Run as root: `make bench` or `.venv/bin/python bench/live_throughput.py`.
The agent side here is the whole live pipeline up to enriched events (decode + state), with a
sink that only counts.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tiercel.events.model import Event
from tiercel.sources.base import CaptureOptions
from tiercel.sources.live import LiveSource

HERE = Path(__file__).parent


def build(tmp: Path) -> Path:
    exe = tmp / "openloop"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(HERE / "openloop.c")], check=True)
    return exe


def loop_rate(exe: Path, seconds: float) -> float:
    out = subprocess.run([str(exe), str(seconds)], check=True, capture_output=True, text=True)
    return float(out.stdout)


def captured_rate(exe: Path, seconds: float, syscalls: set[str]) -> tuple[float, int, int, float]:
    count = 0

    def sink(_ev: Event) -> None:
        nonlocal count
        count += 1

    source = LiveSource(CaptureOptions(syscalls=syscalls), sink)
    source.start()
    result: list[float] = []
    worker = threading.Thread(target=lambda: result.append(loop_rate(exe, seconds)))
    t0 = time.monotonic()
    worker.start()
    while worker.is_alive():
        source.reader.poll(50)
    source.reader.drain()
    elapsed = time.monotonic() - t0
    records = source.counters.records
    source.stop()
    return result[0], records, source.counters.lost, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exe = build(Path(tmp))
        alone = loop_rate(exe, args.seconds)
        print(f"open+close loop alone:           {alone:12,.0f} iterations/s")
        for label, syscalls in (("openat only (as `tiercel run` attaches)", {"openat"}),
                                ("openat+close attached", {"openat", "close"}),
                                ("every syscall tiercel knows", None)):
            names = syscalls or set()
            if syscalls is None:
                from tiercel.events.syscalls import SYSCALLS_X86_64
                names = {s.name for s in SYSCALLS_X86_64}
            rate, records, lost, elapsed = captured_rate(exe, args.seconds, names)
            print(f"[{label}]")
            print(f"  loop under capture:            {rate:12,.0f} iterations/s  ratio {rate / alone:.2f}")
            print(f"  records received:              {records / elapsed:12,.0f} records/s "
                  f"({records:,} in {elapsed:.1f} s)")
            print(f"  records lost in the kernel:    {lost:12,} ({lost / max(records + lost, 1):.1%})")


if __name__ == "__main__":
    main()
