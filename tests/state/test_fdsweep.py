"""The fd sweep drops entries whose numbers are no longer open, read from the real /proc."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tiercel.events.model import Fd, Process
from tiercel.state.fdsweep import FdSweep

CHILD = """
import os, sys
kept = os.open(sys.argv[1], os.O_RDONLY)
closed = os.open(sys.argv[1], os.O_RDONLY)
os.close(closed)            # as a process whose close the probe did not report
print(kept, closed, flush=True)
sys.stdin.read()
"""


def test_closed_numbers_go_open_ones_stay(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "f")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        kept, closed = map(int, child.stdout.readline().split())
        proc = Process(pid=child.pid, ppid=0, fds={kept: Fd(kept, "f", str(tmp_path / "f")),
                                                   closed: Fd(closed, "f", str(tmp_path / "f"))})
        sweep = FdSweep(Path("/proc"), every_s=0.0)
        dropped = sweep.step({proc.pid: proc})
        assert [(pid, sorted(gone)) for pid, gone in dropped] == [(proc.pid, [closed])]
        assert sorted(proc.fds) == [kept] and sweep.dropped == 1
    finally:
        child.communicate("")


def test_a_process_gone_is_left_to_its_exit_event() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()                # reaped: /proc/<pid> no longer exists
    gone = Process(pid=child.pid, ppid=0, fds={7: Fd(7, "f", "/x")})
    assert FdSweep(Path("/proc"), every_s=0.0).step({gone.pid: gone}) == []
    assert list(gone.fds) == [7]


def test_rounds_are_spaced_and_spread_over_polls() -> None:
    now = [100.0]
    procs = {pid: Process(pid=pid, ppid=0, fds={999_999: Fd(999_999, "f", "/x")})
             for pid in (os.getpid(), os.getppid(), 1)}
    sweep = FdSweep(Path("/proc"), every_s=30.0, budget=2, clock=lambda: now[0])
    assert sweep.step(procs) == []              # not due yet
    now[0] += 30.0
    first = sweep.step(procs)                   # due: two processes this poll ...
    second = sweep.step(procs)                  # ... the third the next one
    assert len(first) == 2 and len(second) == 1
    assert all(not p.fds for p in procs.values())
    for p in procs.values():
        p.fds[999_999] = Fd(999_999, "f", "/x")
    assert sweep.step(procs) == []              # the next round waits its 30 s
