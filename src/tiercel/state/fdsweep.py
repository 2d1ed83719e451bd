"""Fds closed without the state hearing of it, dropped by looking at /proc/<pid>/fd now and then.

`close` is attached only when a rule needs it, so an fd entry otherwise stays until its number is
reused by a call the probe reports or its process exits: a long-lived daemon keeps one for every fd
number it ever used, and a number reused by a call the probe does not report (pipe, eventfd ...)
keeps the old file's name. Every EVERY_S the processes of the table are queued, and each poll looks
at up to BUDGET of them: an entry whose number is not open in the process now is dropped.

Only entries are removed, never added, so the ring buffer's lag cannot make the sweep wrong: a number
not open now was closed after the entry was made (its next user arrives as an event of its own), and
a number open now keeps its entry, which the pending event that reopened it will replace.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from tiercel.events.model import Fd, Process

EVERY_S = 30.0
BUDGET = 200                # processes looked at per poll (one listdir each): the loop is not held


class FdSweep:
    def __init__(self, host_proc: Path, every_s: float = EVERY_S, budget: int = BUDGET,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.host_proc, self.every_s, self.budget, self.clock = host_proc, every_s, budget, clock
        self._queue: deque[int] = deque()
        self._round_at = clock()
        self.dropped = 0            # entries dropped so far

    def step(self, procs: Mapping[int, Process]) -> list[tuple[int, dict[int, Fd]]]:
        """Look at the next processes of the round (a new round once EVERY_S has passed); returns,
        per process with entries dropped, its pid and those entries."""
        if not self._queue:
            if self.clock() - self._round_at < self.every_s:
                return []
            self._round_at = self.clock()
            self._queue.extend(pid for pid, p in procs.items() if p.fds)
        out = []
        for _ in range(min(self.budget, len(self._queue))):
            pid = self._queue.popleft()
            proc = procs.get(pid)
            if proc is None or not proc.fds:
                continue
            try:
                open_now = {int(n) for n in os.listdir(self.host_proc / str(pid) / "fd")}
            except (OSError, ValueError):
                continue            # gone (its exit event removes it) or unreadable: left alone
            gone = {n: fd for n, fd in proc.fds.items() if n not in open_now}
            for n in gone:
                del proc.fds[n]
            if gone:
                self.dropped += len(gone)
                out.append((pid, gone))
        return out
