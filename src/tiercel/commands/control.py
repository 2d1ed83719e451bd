"""The control thread of `tiercel run`: everything that happens beside the event loop.

Signals as Falco's: SIGHUP reloads, SIGUSR1 reopens the file and program outputs (log rotation); SIGUSR2
prints the statistics (also on /metrics). Signal handlers only set a flag and wake this thread, so no
reload or print ever runs inside the event loop's own stack (SIGINT and SIGTERM only ask the agent to
stop). Once a second it also checks the kernel's drop counters (`syscall_event_drops`) and, with
`watch_config_files`, whether the config or a rules file changed.

It drives the agent through `Controlled`, a handful of methods, and never touches its attributes.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Protocol

from tiercel.commands.app import on_stop_signals
from tiercel.config import Config
from tiercel.outputs.alert import Alert
from tiercel.rules import LoadResult, rule_files
from tiercel.telemetry.drops import DropMonitor
from tiercel.telemetry.stats import AgentStats, render_text

TICK = 1.0


class Controlled(Protocol):
    """What the control thread asks of the agent."""

    def current_config(self) -> Config: ...

    def reload(self) -> bool:
        """Config and rules again; False (and the running ones kept) on any error."""
        ...

    def snapshot(self) -> AgentStats: ...

    def request_stop(self, code: int) -> None:
        """End the run with this exit code; called from signal handlers too."""
        ...

    def emit_internal(self, alert: Alert) -> None: ...

    def reopen_outputs(self) -> None:
        """Files and programs opened again (after log rotation)."""
        ...

    def log(self, message: str) -> None: ...


class Control:
    def __init__(self, agent: Controlled, hostname: str) -> None:
        self.agent = agent
        self.wake = threading.Event()
        self.hup = self.usr1 = self.usr2 = self.done = False
        self.drops = DropMonitor(agent.current_config().syscall_event_drops, agent.emit_internal,
                                 agent.log, hostname)
        self.thread = threading.Thread(target=self._run, name="control", daemon=True)
        self.watched = self._watch_state()

    def install(self) -> None:
        def handler(sig: int, _frame: FrameType | None) -> None:
            if sig == signal.SIGHUP:
                self.hup = True
            elif sig == signal.SIGUSR1:
                self.usr1 = True
            else:
                self.usr2 = True
            self.wake.set()
        signal.signal(signal.SIGHUP, handler)
        signal.signal(signal.SIGUSR1, handler)
        signal.signal(signal.SIGUSR2, handler)
        on_stop_signals(lambda: self.agent.request_stop(0))

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
                self.agent.reopen_outputs()
                self.agent.log("tiercel: SIGUSR1: file and program outputs reopened")
            if self.usr2:
                self.usr2 = False
                self.agent.log(render_text(self.agent.snapshot()))
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + TICK
                self._tick()

    def _tick(self) -> None:
        stats = self.agent.snapshot()
        if not self.drops.check(stats.records, stats.lost, lost_by_kind=stats.lost_by_kind):
            self.agent.request_stop(1)
        if self.agent.current_config().watch_config_files and self._watch_state() != self.watched:
            self.agent.log("tiercel: a watched config or rules file changed; reloading")
            self._reload()

    def _reload(self) -> None:
        self.agent.reload()
        self.watched = self._watch_state()
        self.drops.conf = self.agent.current_config().syscall_event_drops

    def _watch_state(self) -> dict[str, tuple[int, int, int, int]]:
        """(device, inode, size, mtime) of the config file and every rules file: a rename-into-place
        changes the inode, an in-place edit the size or mtime."""
        cfg = self.agent.current_config()
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
