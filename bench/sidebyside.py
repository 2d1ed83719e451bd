"""What the side-by-side benches share (bench/storm_compare.py, bench/workloads.py): tools installed
with apt-get where missing, upstream's rule files, bpftrace as a monitor, and each monitored run's
ratio to the same load unmonitored just before and just after it.

    ensure_tool("bpftrace", "bpftrace")
    run = BpftraceRun("bpftrace-count", "tracepoint:syscalls:sys_exit_openat { @n = count(); } "
                      + BPF_READY)
    run.start()          # until bpftrace has attached every probe (RuntimeError if it does not)
    lost = run.stop()    # its `Lost N events` summed; run.tail holds the end of its output
    neighbour_ratios(cells, group=lambda c: c.storm, floor="bpftrace-count")
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Protocol, TypeVar

from agentrun import CHECKOUT, LineReader, note, stop_process, wait_for

# bpftrace prints "ready" once our getppid() fires: it reads the probe's output only after every
# probe is attached, so the line means all of them are in place. $1 is the bench's pid.
BPF_READY = 'tracepoint:syscalls:sys_enter_getppid /pid == $1/ { printf("ready\\n"); }'


def apt_install(package: str) -> None:
    """apt-get install `package` (apt-get update first when that fails); CalledProcessError if not."""
    note(f"installing {package} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)


def ensure_tool(binary: str, package: str) -> None:
    """apt-get install `package` when `binary` is not on PATH."""
    if shutil.which(binary):
        return
    note(f"{binary} not found")
    apt_install(package)
    if not shutil.which(binary):
        raise RuntimeError(f"{package} installed but {binary} is not on PATH")


def oracle_rules() -> list[Path]:
    """Upstream's stable and incubating rules (the oracles' copies; $TIERCEL_ORACLES moves them)."""
    root = Path(os.environ.get("TIERCEL_ORACLES", CHECKOUT.parent / "shared" / "oracles"))
    return [root / "rules" / "falco_rules.yaml", root / "rules" / "falco-incubating_rules.yaml"]


class BpftraceRun:
    """`bpftrace -e PROGRAM <our pid>`, the program ending with BPF_READY; its stdout counted in lines
    (`lines`), the last 4 KB kept (`tail`: where its maps are printed at exit), its stderr kept."""

    def __init__(self, name: str, program: str) -> None:
        self.name, self.program = name, program
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = threading.Event()
        self.lines, self.tail = 0, b""

    def start(self, timeout: float = 60) -> float:
        """Until bpftrace has attached every probe; the seconds it took."""
        t0 = time.monotonic()
        self.proc = proc = subprocess.Popen(["bpftrace", "-e", self.program, str(os.getpid())],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        self.out = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.out.start()
        self.err = LineReader(proc.stderr)
        if not wait_for(lambda: os.getppid() > 0 and (self.ready.is_set() or proc.poll() is not None),
                        timeout):
            raise RuntimeError(f"{self.name}: not ready after {timeout:.0f} s")
        if not self.ready.is_set():
            self.err.join(5)
            raise RuntimeError(f"{self.name} exited: " + " | ".join(self.err.lines[-10:]))
        return time.monotonic() - t0

    def _read(self, stream: IO[bytes]) -> None:
        while chunk := stream.read1(1 << 16):  # type: ignore[attr-defined]
            self.lines += chunk.count(b"\n")
            self.tail = (self.tail + chunk)[-4096:]
            if b"ready\n" in self.tail or b"ready\n" in chunk:
                self.ready.set()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> int:
        """Stop it (its maps are printed into `tail`); the events it said it lost."""
        if self.proc is None:
            return 0
        stop_process(self.proc)
        self.out.join(10)
        self.err.join(10)
        self.proc = None
        return sum(int(n) for line in self.err.lines for n in re.findall(r"Lost (\d+) events", line))


class Rated(Protocol):
    """A monitored or unmonitored run of one load: its rate, and the ratios filled in here."""

    monitor: str                 # "none" for the unmonitored runs
    rate: float | None
    ratio: float | None          # to unmonitored
    floor_ratio: float | None    # to the floor monitor in the same run
    unmonitored: list[float]     # the unmonitored rates the ratio is to


R = TypeVar("R", bound=Rated)


def neighbour_ratios(cells: Sequence[R], group: Callable[[R], str], floor: str) -> None:
    """Each monitored run's ratio to the mean of the unmonitored runs of the same load (`group`) just
    before and just after it (the load of a shared machine drifts), and to the floor's ratio."""
    for i, c in enumerate(cells):
        if c.monitor == "none" or not c.rate:
            continue
        before = next((b for b in reversed(cells[:i]) if b.monitor == "none" and group(b) == group(c)), None)
        after = next((b for b in cells[i + 1:] if b.monitor == "none" and group(b) == group(c)), None)
        base = [b.rate for b in (before, after) if b is not None and b.rate]
        if base:
            c.unmonitored, c.ratio = base, c.rate / (sum(base) / len(base))
    floors = {group(c): c.ratio for c in cells if c.monitor == floor and c.ratio}
    for c in cells:
        if c.ratio and group(c) in floors and c.monitor != "none":
            c.floor_ratio = c.ratio / floors[group(c)]


def fmt(v: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "—" if v is None else f"{v:{spec}}{suffix}"


def median_range(values: list[float]) -> str:
    """`median (min–max)`, or — when there is nothing."""
    if not values:
        return "—"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"
