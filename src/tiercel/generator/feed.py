"""The agent's JSON alerts, one per line, read from a pipe by a thread (`generate --check`).

The thread polls the pipe beside a wake-up pipe instead of blocking in read(): `close` must be able
to stop it and release the pipe's read end at once, because releasing it is how `tiercel run`
learns that its reader has gone (a read blocked in the kernel would hold the end open until the
agent's next alert, which may never come).
"""

from __future__ import annotations

import json
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from typing import Any

Alert = dict[str, Any]
_END = object()   # queued once the writer has closed the pipe


class AlertFeed:
    """Alerts in arrival order; `wait` takes the first new one that satisfies a test, dropping the
    ones before it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.q: queue.Queue[object] = queue.Queue()
        self.ended = False          # the writer closed the pipe and every alert before was taken
        self.alerts = 0             # lines that were JSON alerts
        self.not_alerts = 0         # lines that were not (text output, log lines)
        self.first_not_alert = ""
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._read, name="alert feed", daemon=True)
        self._thread.start()

    @classmethod
    def from_stdin(cls) -> AlertFeed:
        """Stdin's pipe, taken over: fd 0 becomes /dev/null so that no child of an action keeps
        the pipe's read end open after `close`."""
        fd = os.dup(0)   # not inherited by children
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        return cls(fd)

    def _read(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        rest = b""
        while True:
            ready = dict(poller.poll())
            if self._wake_r in ready:
                return
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.q.put(_END)
                return
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                self._line(line.decode(errors="replace").strip())

    def _line(self, line: str) -> None:
        if not line:
            return
        try:
            alert = json.loads(line)
        except ValueError:
            alert = None
        if isinstance(alert, dict) and isinstance(alert.get("rule"), str):
            self.alerts += 1
            self.q.put(alert)
            return
        self.not_alerts += 1
        self.first_not_alert = self.first_not_alert or line[:80]

    def wait(self, wanted: Callable[[Alert], bool], timeout: float) -> Alert | None:
        """The first new alert that is `wanted`; None after `timeout` s, or at once at the end."""
        deadline = time.monotonic() + timeout
        while not self.ended and (left := deadline - time.monotonic()) > 0:
            try:
                item = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if item is _END:
                self.ended = True
            elif isinstance(item, dict) and wanted(item):
                return item
        return None

    def wait_rule(self, rule: str, timeout: float) -> Alert | None:
        return self.wait(lambda a: a.get("rule") == rule, timeout)

    def close(self) -> None:
        """Stop the thread and close the pipe: its writer sees its reader gone."""
        if self.fd < 0:
            return
        if self._thread.is_alive():
            os.write(self._wake_w, b"x")
            self._thread.join()
        for fd in (self.fd, self._wake_r, self._wake_w):
            os.close(fd)
        self.fd = -1
