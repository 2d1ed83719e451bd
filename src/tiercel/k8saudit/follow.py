"""`open_params: file:///var/log/kube-apiserver/audit.log`: the API server's audit log followed as it
grows, as the k8saudit plugin's `file://` form does (tiercel.sources.base.Source).

Only whole lines are read (a line the API server is still writing waits for its newline); a line that
is not audit events is counted and skipped, the first one said (a live log goes on). At the end of
the file, the path is checked every `poll` seconds: a new file under the name (the log rotated) is
opened from its start, once the old one has been read to its end; a file that shrank (truncated in
place) is read again from its start.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Set
from pathlib import Path
from typing import BinaryIO

from tiercel.common.errors import TiercelError
from tiercel.k8saudit.events import Limits, LineError, deliver, parse_line
from tiercel.k8saudit.replay import open_audit_file
from tiercel.sources.base import Counters, Sink

POLL_S = 0.25


class AuditLogFollower:
    def __init__(self, path: Path, sink: Sink, log: Callable[[str], None], limits: Limits | None = None,
                 poll: float = POLL_S) -> None:
        self.path = Path(path)
        self.sink = sink
        self.log = log
        self.limits = limits or Limits()
        self.poll = poll
        self._counters = Counters()
        self._stop = threading.Event()
        self._file: BinaryIO | None = None
        self._line = 0
        self.rotations = 0

    @property
    def counters(self) -> Counters:
        c = self._counters
        return Counters(records=c.records, events=c.events, decode_errors=c.decode_errors,
                        event_errors=c.event_errors)

    @property
    def mode(self) -> str:
        return f"following Kubernetes audit events in {self.path}"

    def start(self) -> None:
        self._file = self._open()

    def _open(self) -> BinaryIO:
        f = open_audit_file(self.path, "the audit log")
        self._line = 0
        return f

    def run(self, duration: float | None) -> None:
        end = None if duration is None else time.monotonic() + duration
        pending = b""
        while not self._stop.is_set() and (end is None or time.monotonic() < end):
            f = self._file
            if f is None:
                return
            chunk = f.readline(self.limits.max_batch_size + 1 - len(pending))
            if chunk:
                pending += chunk
                if pending.endswith(b"\n") or len(pending) > self.limits.max_batch_size:
                    self._line += 1
                    self._take(pending)
                    pending = b""
                continue
            if self._reopened():
                pending = b""
                continue
            self._stop.wait(self.poll if end is None else max(0.0, min(self.poll, end - time.monotonic())))

    def _take(self, line: bytes) -> None:
        item = parse_line(self._line, line, self.limits)
        if isinstance(item, LineError):
            self._counters.decode_errors += 1
            if self._counters.decode_errors == 1:
                self.log(f"{item.message.removesuffix(', stopping')}, skipped (later ones are counted)")
            return
        for doc in item or ():
            self._counters.records += 1
            deliver(doc, self._counters, self.sink)

    def _reopened(self) -> bool:
        """At the end of the file: open the path again if it is another file now, or shrank."""
        f = self._file
        assert f is not None
        try:
            now = os.stat(self.path)
        except OSError:
            return False          # rotated away, the new one not there yet
        mine = os.fstat(f.fileno())
        if (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev):
            try:
                new = self._open()
            except TiercelError:
                return False
            f.close()
            self._file = new
            self.rotations += 1
            return True
        if now.st_size < f.tell():   # truncated in place
            f.seek(0)
            self._line = 0
            self.rotations += 1
            return True
        return False

    def interrupt(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        f, self._file = self._file, None
        if f is not None:
            f.close()

    def attach(self, syscalls: Set[str]) -> frozenset[str]:
        del syscalls
        return frozenset()
