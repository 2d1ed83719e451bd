"""`tiercel run -e FILE.json`: a file of Kubernetes audit events as an event source (Falco 0.31's form;
tiercel.sources.base.Source).

The file holds one JSON value per line (an Event or an EventList: the API server's log backend), read
as it goes, or one JSON value over several lines (an indented EventList, a JSON array), read whole.
Reading stops at the first line that is not one, with Falco's message (`Could not read k8s audit
event line #N ...`); the events before it count.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Set
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from tiercel.common.errors import TiercelError
from tiercel.common.files import NotRegularFile, open_regular
from tiercel.k8saudit.events import Limits, LineError, deliver, parse_lines, parse_text
from tiercel.sources.base import Counters, Sink

# A file that is one JSON value is read whole, up to this; lines are bounded by Limits.max_batch_size.
MAX_WHOLE_FILE = 64 << 20


def is_audit_file(path: Path) -> bool:
    """Whether `path` looks like JSON (its first non-blank byte is `{` or `[`), not a .scap capture."""
    try:
        fd, _st = open_regular(path)
    except (OSError, NotRegularFile):
        return False
    try:
        head = os.read(fd, 4096)
    finally:
        os.close(fd)
    return head.lstrip()[:1] in (b"{", b"[")



def open_audit_file(path: Path, what: str) -> BinaryIO:
    """A regular file of audit events, opened for reading; one clear line when it cannot be."""
    try:
        fd, _st = open_regular(path)
    except NotRegularFile as e:
        raise TiercelError(f"cannot read {what} {path}: {e}") from None
    except OSError as e:
        raise TiercelError(f"cannot read {what} {path}: {e.strerror}") from None
    return os.fdopen(fd, "rb")

class AuditFileSource:
    """Replays an audit-event file to the end (or until `interrupt()`); `run` ignores the duration.

    One event per line is read as it goes (a log of any size, each line bounded by the limits); a
    file that is one JSON value over several lines is read whole, up to MAX_WHOLE_FILE.
    """

    def __init__(self, path: Path, sink: Sink, log: Callable[[str], None],
                 limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.sink = sink
        self.log = log
        self.limits = limits or Limits()
        self._counters = Counters()
        self._stopping = False
        self._file: BinaryIO | None = None

    @property
    def counters(self) -> Counters:
        return Counters(records=self._counters.records, events=self._counters.events,
                        decode_errors=self._counters.decode_errors,
                        event_errors=self._counters.event_errors)

    @property
    def mode(self) -> str:
        return f"replaying Kubernetes audit events from {self.path.name}"

    def start(self) -> None:
        self._file = open_audit_file(self.path, "the audit event file")

    def run(self, duration: float | None) -> None:
        del duration    # a file is replayed to its end
        for item in self._batches():
            if self._stopping:
                break
            if isinstance(item, LineError):
                self._counters.decode_errors += 1
                self.log(item.message)
                break
            for doc in item:
                self._deliver(doc)

    def _batches(self) -> Iterator[list[dict[str, Any]] | LineError]:
        f = self._file
        if f is None:
            return iter(())
        limit = self.limits.max_batch_size
        first = f.readline(limit + 1)
        if first.strip()[:1] in (b"{", b"[") and not _whole_line(first):
            # not a value on its own line: the file is one value over several lines
            rest = f.read(MAX_WHOLE_FILE + 1 - len(first))
            if len(first) + len(rest) > MAX_WHOLE_FILE:
                raise TiercelError(f"cannot read the audit event file {self.path}: one JSON value "
                                   f"of more than {MAX_WHOLE_FILE >> 20} MiB")
            return parse_text((first + rest).decode("utf-8", "replace"), self.limits)
        return parse_lines(itertools.chain([first], iter(lambda: f.readline(limit + 1), b"")), self.limits)

    def _deliver(self, doc: dict[str, Any]) -> None:
        self._counters.records += 1
        deliver(doc, self._counters, self.sink)

    def interrupt(self) -> None:
        self._stopping = True

    def stop(self) -> None:
        self._stopping = True
        f, self._file = self._file, None
        if f is not None:
            f.close()

    def attach(self, syscalls: Set[str]) -> frozenset[str]:
        del syscalls
        return frozenset()


def _whole_line(line: bytes) -> bool:
    """Whether the line is a JSON value by itself."""
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True
