"""`tiercel run -e FILE.json`: a file of Kubernetes audit events as an event source (Falco 0.31's form;
tiercel.sources.base.Source).

The file holds one JSON value per line (an Event or an EventList: the API server's log backend),
or one JSON value over several lines (an indented EventList, a JSON array). Reading stops at the
first line that is not one, with Falco's message (`Could not read k8s audit event line #N ...`);
the events before it count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Set
from pathlib import Path
from typing import Any

from tiercel.common.errors import TiercelError
from tiercel.common.files import NotRegularFile, open_regular
from tiercel.k8saudit.events import Limits, LineError, make_event, parse_lines
from tiercel.sources.base import Counters, Sink

# A file read whole (not line by line) is bounded by this; lines by Limits.max_batch_size.
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


class AuditFileSource:
    """Replays an audit-event file to the end (or until `interrupt()`); `run` ignores the duration."""

    def __init__(self, path: Path, sink: Sink, log: Callable[[str], None],
                 limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.sink = sink
        self.log = log
        self.limits = limits or Limits()
        self._counters = Counters()
        self._stopping = False
        self._text = ""

    @property
    def counters(self) -> Counters:
        return Counters(records=self._counters.records, events=self._counters.events,
                        decode_errors=self._counters.decode_errors,
                        event_errors=self._counters.event_errors)

    @property
    def mode(self) -> str:
        return f"replaying Kubernetes audit events from {self.path.name}"

    def start(self) -> None:
        try:
            fd, st = open_regular(self.path)
        except NotRegularFile as e:
            raise TiercelError(f"cannot read the audit event file {self.path}: {e}") from None
        except OSError as e:
            raise TiercelError(f"cannot read the audit event file {self.path}: {e.strerror}") from None
        try:
            if st.st_size > MAX_WHOLE_FILE:
                raise TiercelError(f"cannot read the audit event file {self.path}: larger than "
                                   f"{MAX_WHOLE_FILE >> 20} MiB ({st.st_size} bytes)")
            with os.fdopen(os.dup(fd), "rb") as f:
                self._text = f.read(MAX_WHOLE_FILE + 1).decode("utf-8", "replace")
        finally:
            os.close(fd)

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
        text, self._text = self._text, ""
        return parse_lines(text, self.limits)

    def _deliver(self, doc: dict[str, Any]) -> None:
        self._counters.records += 1
        self._counters.events += 1
        try:
            self.sink(make_event(doc, self._counters.events))
        except Exception:   # one bad event never stops the replay
            self._counters.event_errors += 1

    def interrupt(self) -> None:
        self._stopping = True

    def stop(self) -> None:
        self._stopping = True

    def attach(self, syscalls: Set[str]) -> frozenset[str]:
        del syscalls
        return frozenset()
