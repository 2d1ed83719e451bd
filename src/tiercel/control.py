"""The control thread of `tiercel run`: everything that happens beside the event loop.

Signal handlers only set a flag and wake this thread, so no reload or print ever runs inside the
event loop's own stack. Once a second it also checks the kernel's drop counters
(`syscall_event_drops`) and, with `watch_config_files`, whether the config or a rules file changed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from tiercel.outputs.drops import DropMonitor
from tiercel.outputs.stats import render_text
from tiercel.rules import LoadResult, rule_files

if TYPE_CHECKING:
    from tiercel.agent import Agent

TICK = 1.0


class Control:
    def __init__(self, agent: Agent, source: Any) -> None:
        self.agent = agent
        self.source = source
        self.wake = threading.Event()
        self.hup = self.usr1 = self.done = False
        self.drops = DropMonitor(agent.cfg.syscall_event_drops, agent.emit_internal, agent.log,
                                 agent.matcher.hostname)
        self.thread = threading.Thread(target=self._run, name="control", daemon=True)
        self.watched = self._watch_state()

    def install(self) -> None:
        def handler(sig: int, _frame: FrameType | None) -> None:
            if sig == signal.SIGHUP:
                self.hup = True
            else:
                self.usr1 = True
            self.wake.set()
        signal.signal(signal.SIGHUP, handler)
        signal.signal(signal.SIGUSR1, handler)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done = True
        self.wake.set()
        if self.thread.is_alive():
            self.thread.join()

    def _run(self) -> None:
        next_tick = time.monotonic() + TICK
        while not self.done:
            self.wake.wait(max(0.0, next_tick - time.monotonic()))
            self.wake.clear()
            if self.hup:
                self.hup = False
                self._reload()
            if self.usr1:
                self.usr1 = False
                self.agent.log(render_text(self.agent.snapshot()))
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + TICK
                self._tick()

    def _tick(self) -> None:
        records, lost = self.agent.kernel_counts()
        if not self.drops.check(records, lost):
            self.agent.exit_code = 1
            self.source.stopping = True
        if self.agent.cfg.watch_config_files and self._watch_state() != self.watched:
            self.agent.log("tiercel: a watched config or rules file changed; reloading")
            self._reload()

    def _reload(self) -> None:
        self.agent.reload()
        self.watched = self._watch_state()
        self.drops.conf = self.agent.cfg.syscall_event_drops

    def _watch_state(self) -> dict[str, tuple[int, int, int, int]]:
        """(device, inode, size, mtime) of the config file and every rules file: a rename-into-place
        changes the inode, an in-place edit the size or mtime."""
        cfg = self.agent.cfg
        paths = [Path(cfg.path)] if cfg.path else []
        paths += rule_files(cfg.rules_files, LoadResult())
        state = {}
        for p in paths:
            try:
                st = os.stat(p)
            except OSError:
                continue
            state[str(p)] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        return state
