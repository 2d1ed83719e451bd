"""The stdout reader watch: told when the last reader of the pipe closes, never for a file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tiercel.outputs.reader_gone import ReaderWatch


def test_told_when_the_reader_closes_without_any_write() -> None:
    r, w = os.pipe()
    gone = threading.Event()
    watch = ReaderWatch.for_pipe(w, gone.set)
    assert watch is not None
    watch.start()
    assert not gone.is_set()
    os.close(r)
    assert gone.wait(10)
    watch.stop()
    os.close(w)


def test_stop_while_the_reader_is_there_tells_nothing() -> None:
    r, w = os.pipe()
    gone = threading.Event()
    watch = ReaderWatch.for_pipe(w, gone.set)
    assert watch is not None
    watch.start()
    watch.stop()
    watch.stop()   # twice: harmless
    os.close(r)
    assert not gone.is_set()
    os.close(w)


def test_no_watch_for_a_file(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "alerts", os.O_WRONLY | os.O_CREAT)
    try:
        assert ReaderWatch.for_pipe(fd, lambda: None) is None
    finally:
        os.close(fd)
