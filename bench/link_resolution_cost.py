"""What looking up an opened file by inode costs the open storm (kfilter: kf_resolve).

One live pipeline with the default rules (stable + incubating) and the kernel filter; the storm is
bench/openloop.c (open+close of /etc/hostname, which no rule names, so every record stays in the
kernel after the lookup). Rounds alternate: unmonitored, filter with resolution, filter without it
(the classes' `resolve` flag cleared in place: the same probe and tables otherwise). Prints each
round's iterations/s and the ratios of the medians. Run as root:

    .venv/bin/python bench/link_resolution_cost.py [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import statistics
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from tiercel.events.syscalls import STATE_SYSCALLS, SyscallTable
from tiercel.kfilter.derive import derive
from tiercel.probe.filtertables import OPEN_FAMILY, FilterTables
from tiercel.rules import load_rules
from tiercel.sources.base import CaptureOptions
from tiercel.sources.live import LiveSource

ROOT = Path(__file__).resolve().parents[1]


def storm(binary: Path, seconds: float) -> float:
    out = subprocess.run([str(binary), str(seconds)], check=True, capture_output=True, text=True)
    return float(out.stdout)


def set_resolve(source: LiveSource, on: bool, nrs: list[int]) -> None:
    assert source.probe is not None
    classes = source.probe.bpf[b"kf_classes"]
    for nr in nrs:
        leaf = classes[ctypes.c_uint32(nr)]
        leaf.resolve = int(on)
        classes[ctypes.c_uint32(nr)] = leaf


@contextlib.contextmanager
def filtered_source(rules: Sequence[Path] = ()) -> Iterator[tuple[LiveSource, FilterTables]]:
    """A live pipeline (state and open-family syscalls) with the kernel filter of `rules` (the
    default rules, stable + incubating, when none), its ring read by a thread of its own until the
    block ends."""
    table = SyscallTable()
    rs, _ = load_rules(list(rules) or [ROOT / "rules", ROOT / "rules" / "incubating"])
    assert rs.compiler is not None
    source = LiveSource(CaptureOptions(syscalls=set(STATE_SYSCALLS | OPEN_FAMILY)), lambda ev: None)
    source.start()
    tables = derive(rs, rs.compiler, table, source.attached)
    source.set_filter(tables)
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            source.poll(50)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        yield source, tables
    finally:
        stop.set()
        poller.join()
        source.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tiercel-resolve-"))
    binary = work / "openloop"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(ROOT / "bench" / "openloop.c")], check=True)
    figures: dict[str, list[float]] = {"unmonitored": [], "resolve on": [], "resolve off": []}
    with filtered_source() as (source, tables):
        nrs = [f.nr for n, f in tables.syscalls.items() if not f.open and n in OPEN_FAMILY]
        for r in range(args.rounds):
            set_resolve(source, True, nrs)
            figures["resolve on"].append(storm(binary, args.seconds))
            set_resolve(source, False, nrs)
            figures["resolve off"].append(storm(binary, args.seconds))
            print(f"round {r + 1}: on {figures['resolve on'][-1]:,.0f}/s, "
                  f"off {figures['resolve off'][-1]:,.0f}/s", flush=True)
    for _ in range(args.rounds):     # the probe detached: the same loop unmonitored
        figures["unmonitored"].append(storm(binary, args.seconds))
    med = {k: statistics.median(v) for k, v in figures.items()}
    for k, v in med.items():
        print(f"{k:12} median {v:12,.0f} iterations/s  ({v / med['unmonitored']:.2f}x unmonitored)")
    print(f"resolution costs the storm {1 - med['resolve on'] / med['resolve off']:.1%} "
          f"({med['resolve on']:,.0f} vs {med['resolve off']:,.0f} iterations/s)")


if __name__ == "__main__":
    main()
