"""`tiercel run -e FILE`: a capture file as an event source (tiercel.sources.base.Source).

    capture blocks -> reader -> convert (enter merged into exit) -> state (Enricher) -> sink

The state starts from the capture's process, fd and user lists, never from this host's /proc.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Set
from pathlib import Path
from typing import IO

from tiercel.events.model import DIR_ENTER, Event
from tiercel.scap.convert import Converter, after_apply
from tiercel.scap.reader import CaptureReader, RawEvent, ScapError
from tiercel.scap.state import table_from_header
from tiercel.sources.base import CaptureOptions, Counters, Sink
from tiercel.state.enrich import Enricher

PROGRESS_MIN_BYTES = 16 << 20      # smaller files replay in about a second: no bar
PROGRESS_EVERY_S = 0.25


class ReplaySource:
    """Replays a capture to the end (or until `interrupt()`); `run` ignores the duration."""

    def __init__(self, path: Path, capture_opts: CaptureOptions, sink: Sink) -> None:
        self.path = Path(path)
        self.opts = capture_opts
        self.sink = sink
        self._counters = Counters()
        self._stopping = False
        self.reader: CaptureReader | None = None
        self.progress: IO[str] | None = None

    def start(self) -> None:
        self.reader = CaptureReader(self.path)
        table = table_from_header(self.reader.header, self.opts.thread_table_size)
        self.enricher = Enricher(table=table)
        self.converter = Converter(table)
        size = self.path.stat().st_size
        if sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES:
            self.progress = sys.stderr
        self._size = size

    @property
    def counters(self) -> Counters:
        """The counts, with what the capture held beyond the reader's bounds (said at the end)."""
        counts = dataclasses.replace(self._counters, not_kept=dict(self._counters.not_kept))
        if self.reader is not None:
            counts.not_kept = self.reader.not_kept()
        return counts

    @property
    def mode(self) -> str:
        return f"replaying {self.path.name}"

    def attach(self, syscalls: Set[str]) -> frozenset[str]:
        """A capture file has the events it has: nothing more to attach."""
        del syscalls
        return frozenset()

    def interrupt(self) -> None:
        self._stopping = True

    def run(self, duration: float | None = None) -> None:
        del duration  # a capture replays to its end
        assert self.reader is not None, "start() first"
        last = time.monotonic()
        for raw in self.reader.events():
            if self._stopping:
                break
            self._counters.records += 1
            try:
                self._one(raw)
            except MemoryError:  # never one more "failed event" under an exit status of 0
                raise ScapError(f"{self.path}: out of memory replaying record "
                                f"{self._counters.records}: the state it builds does not fit "
                                "this process's memory") from None
            if self.progress is not None and self._counters.records % 4096 == 0:
                now = time.monotonic()
                if now - last >= PROGRESS_EVERY_S:
                    last = now
                    self._show_progress()
        if self.progress is not None:
            self.progress.write("\r\033[K")

    def _one(self, raw: RawEvent) -> None:
        try:
            ev = self.converter.convert(raw)
        except (ValueError, IndexError, KeyError, TypeError):
            self._counters.decode_errors += 1
            return
        if ev is None or raw.flags & 1:  # flag bit 0: a state-only event (EVF blocks)
            return
        try:
            if ev.dir == DIR_ENTER and ev.type != "procexit":
                self._enter(ev)
            else:
                tup = ev.args.get("tuple")
                self.enricher.apply(ev)
                after_apply(ev, tup, self.enricher.table.threads)
            self._counters.events += 1
            self.sink(ev)
        except (ScapError, MemoryError):
            raise
        except Exception:  # one bad event is counted, never fatal (STYLE 9)
            self._counters.event_errors += 1

    def _enter(self, ev: Event) -> None:
        """An enter event changes no state; it sees its process and the fd it names."""
        proc = self.enricher.table.lookup(ev)
        ev.proc = proc
        num = ev.args.get("fd")
        if isinstance(num, int):
            ev.fd = proc.fds.get(num)

    def _show_progress(self) -> None:
        assert self.reader is not None and self.progress is not None
        pct = min(100, 100 * self.reader.consumed() // max(1, self._size))
        bar = "#" * (pct // 4)
        self.progress.write(f"\rreplaying {self.path.name} [{bar:<25}] {pct:3d}% "
                            f"{self._counters.records} events")
        self.progress.flush()

    def stop(self) -> None:
        if self.reader is not None:
            self._counters.not_kept = self.reader.not_kept()
            self.reader.close()
            self.reader = None
