"""file output: alerts appended to `file_output.filename`, one a line.

`keep_alive: true` keeps the file open, and reopens it on SIGHUP or as soon as the name no longer
points at the open file (logrotate moved it away); `keep_alive: false` (Falco's default) opens and
closes it for every batch. A write that fails half-way (disk full) is cut back to the last whole
line, so the file never holds a fragment that a retry would turn into a forged line.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

from tiercel.outputs.base import Format, Item, OutputError, write_lines

MODE = 0o640


class FileOutput:
    name = "file"
    max_retries = 3

    def __init__(self, path: str, fmt: Format, keep_alive: bool) -> None:
        self.path = path
        self.fmt = fmt
        self.keep_alive = keep_alive
        self.fd: int | None = None
        self.reopen_wanted = False  # set from the signal side; acted on by the worker alone

    def _open(self) -> int:
        if self.reopen_wanted:
            self.reopen_wanted = False
            self.close()
        if self.fd is not None and self._still_ours():
            return self.fd
        self.close()
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, MODE)
        except OSError as e:
            raise OutputError(f"file: cannot open {self.path}: {e.strerror}") from e
        return self.fd

    def _still_ours(self) -> bool:
        assert self.fd is not None
        try:
            st, mine = os.stat(self.path), os.fstat(self.fd)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    def send(self, batch: Sequence[Item]) -> int:
        lines = [item.line(self.fmt) for item in batch]
        fd = self._open()
        try:
            start = _end_of(fd)
            n, written, why = write_lines(fd, lines)
            whole = sum(len(line) + 1 for line in lines[:n])
            if written > whole and start is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start + whole)  # drop the fragment of a line cut short
        finally:
            if not self.keep_alive:
                self.close()
        if n == 0:
            raise OutputError(f"file: cannot write to {self.path}: {why}")
        return n

    def reopen(self) -> None:
        self.reopen_wanted = True

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


def _end_of(fd: int) -> int | None:
    """Where appended lines begin; None for what cannot seek (a FIFO, a terminal, a device)."""
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    except OSError:
        return None
