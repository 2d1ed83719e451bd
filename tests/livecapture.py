"""Run the live pipeline inside the test process and collect the events of one workload.

No sleeps: the test polls the ring buffer until the condition it waits for holds (for example,
the workload's exit event has arrived), then drains what is left.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from tiercel.events.model import Event
from tiercel.sources.base import CaptureOptions
from tiercel.sources.live import LiveSource, in_tree


class LiveCapture:
    def __init__(self, syscalls: set[str] | None = None, keep: Callable[[Event], bool] | None = None) -> None:
        self.events: list[Event] = []
        self.keep = keep
        self.watch: set[int] = set()
        self.exited_tids: set[int] = set()
        self.source = LiveSource(CaptureOptions(syscalls=syscalls), self._sink)

    def _sink(self, ev: Event) -> None:
        if ev.type == "procexit":
            self.exited_tids.add(ev.tid)
        if self.keep is not None and not self.keep(ev):
            return
        if self.watch and not in_tree(ev, self.watch):
            return
        self.events.append(ev)

    def __enter__(self) -> LiveCapture:
        self.source.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.source.stop()

    def poll_until(self, done: Callable[[], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached while capturing")
            self.source.poll(50)
        self.source.reader.drain()

    def run(self, argv: Sequence[str | Path], timeout: float = 300.0,
            **kw: object) -> subprocess.Popen[bytes]:
        """Start argv, keep only its process tree's events, poll until its exit event arrived."""
        kw.setdefault("stdout", subprocess.PIPE)
        proc = subprocess.Popen([str(a) for a in argv], **kw)  # type: ignore[call-overload]
        self.watch.add(proc.pid)
        self.poll_until(lambda: proc.poll() is not None and self.exited(proc.pid), timeout)
        return proc

    def exited(self, pid: int) -> bool:
        return pid in self.exited_tids


def build_c(source: Path, out: Path, *flags: str) -> Path:
    subprocess.run(["gcc", "-O1", "-Wall", *flags, "-o", str(out), str(source)], check=True)
    return out


def read_line(source: int | IO[bytes] | None, deadline: float) -> str:
    """One line from a pipe (an fd or a file object), waiting at most until deadline (monotonic)."""
    assert source is not None
    fd = source if isinstance(source, int) else source.fileno()
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"no complete line; got {buf!r}")
        chunk = os.read(fd, 1)
        if not chunk:
            raise EOFError(buf)
        buf += chunk
    return buf.decode()


def wait_for(source: int | IO[bytes] | None, needle: str, timeout: float = 120) -> None:
    """Read lines until one contains needle."""
    deadline = time.monotonic() + timeout
    while needle not in read_line(source, deadline):
        pass
