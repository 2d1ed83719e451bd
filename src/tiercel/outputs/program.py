"""program output: alerts written to the stdin of a spawned program (`jq`, `mail`, a forwarder).

The configured command line is the operator's (run by `/bin/sh -c`, as Falco does, so pipelines
work); alert text only ever travels on the program's stdin, never on a command line.

`keep_alive: true`: one long-lived process, restarted with back-off when it exits. An alert counts
as delivered once the program has *read* it: after each write the output waits until the pipe is
drained or the program has gone, and asks the kernel (FIONREAD) how much was left unread; those
lines are sent again to the next process. `keep_alive: false` (Falco's default): one process per
alert, its stdin closed after the alert.
"""

from __future__ import annotations

import fcntl
import struct
import subprocess
import termios
import time
from collections.abc import Sequence

from tiercel.outputs.base import Format, Item, OutputError, write_lines

BACKOFF_MAX = 2.0
STABLE = 1.0        # a process that lived this long resets the back-off
CLOSE_WAIT = 2.0


class ProgramOutput:
    name = "program"
    max_retries = 10

    def __init__(self, command: str, fmt: Format, keep_alive: bool,
                 backoff_max: float = BACKOFF_MAX) -> None:
        self.backoff_max = backoff_max
        self.command = command
        self.fmt = fmt
        self.keep_alive = keep_alive
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.backoff = 0.0
        self.restarts = 0

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self.backoff:
            time.sleep(self.backoff)
        try:
            proc = subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.PIPE,
                                    start_new_session=True)  # a terminal's ^C must not kill it first
        except OSError as e:
            raise OutputError(f"program: cannot start: {e.strerror}") from e
        self.started = time.monotonic()
        return proc

    def _ended(self, proc: subprocess.Popen[bytes]) -> None:
        """The process is gone: close our end and set the back-off for the next one."""
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait()
        lived = time.monotonic() - self.started
        self.backoff = 0.0 if lived >= STABLE else min(self.backoff_max, max(0.01, self.backoff * 2))
        self.restarts += 1
        if proc is self.proc:
            self.proc = None

    def send(self, batch: Sequence[Item]) -> int:
        if not self.keep_alive:
            return self._send_one_each(batch)
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self._ended(self.proc)
            self.proc = self._spawn()
        n = self._deliver(self.proc, [item.line(self.fmt) for item in batch])
        if n == 0:
            raise OutputError("program: exited before reading an alert")
        return n

    def _deliver(self, proc: subprocess.Popen[bytes], lines: list[bytes]) -> int:
        """Write, wait for the program to read or go, and return the lines it read whole."""
        assert proc.stdin is not None
        fd = proc.stdin.fileno()
        _, written, _ = write_lines(fd, lines)
        delay = 0.0005
        while unread := _unread(fd):
            if proc.poll() is not None:
                unread = _unread(fd)  # measured again once it is gone: it may have read meanwhile
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        read, n = written - unread, 0
        for line in lines:
            read -= len(line) + 1
            if read < 0:
                break
            n += 1
        if proc.poll() is not None:
            self._ended(proc)
        return n

    def _send_one_each(self, batch: Sequence[Item]) -> int:
        for i, item in enumerate(batch):
            proc = self._spawn()
            n = self._deliver(proc, [item.line(self.fmt)])
            if proc.poll() is None:
                self._close_proc(proc)
            if n == 0:
                if i == 0:
                    raise OutputError("program: exited before reading the alert")
                return i
        return len(batch)

    def _close_proc(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(CLOSE_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()  # our own child, by its handle
            proc.wait()

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        if self.proc is not None:
            proc, self.proc = self.proc, None
            self._close_proc(proc)


def _unread(fd: int) -> int:
    """Bytes written to the pipe that its reader has not read yet."""
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except OSError:
        return 0
