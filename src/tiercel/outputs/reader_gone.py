"""Notice that the reader of the pipe on stdout has gone, even while no alert is being written.

A writer learns it from EPIPE at its next write, and a quiet agent may not write for hours: behind
`tiercel run | tiercel generate --check` it would run on after the check ended. poll() reports
POLLERR on a pipe's (or FIFO's) write end as soon as its last reader closed it, without writing.
Only for pipes: a file or a terminal has no reader to lose.
"""

from __future__ import annotations

import os
import select
import stat
import threading
from collections.abc import Callable


class ReaderWatch:
    def __init__(self, fd: int, on_gone: Callable[[], None]) -> None:
        self.fd = fd
        self.on_gone = on_gone
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="stdout reader", daemon=True)

    @classmethod
    def for_pipe(cls, fd: int, on_gone: Callable[[], None]) -> ReaderWatch | None:
        """A watch of `fd` if it is a pipe or a FIFO, else None."""
        try:
            is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
        except OSError:
            return None
        return cls(fd, on_gone) if is_pipe else None

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, 0)   # no events asked: POLLERR and POLLHUP are always reported
        poller.register(self._wake_r, select.POLLIN)
        ready = dict(poller.poll())
        if self._wake_r not in ready and ready.get(self.fd, 0) & (select.POLLERR | select.POLLHUP):
            self.on_gone()

    def stop(self) -> None:
        if self._wake_w < 0:
            return
        if self._thread.is_alive():
            os.write(self._wake_w, b"x")
            self._thread.join()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._wake_r = self._wake_w = -1
