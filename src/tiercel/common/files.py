"""Files a user names (rule files, config files, captures): opened only if they are regular files.

A FIFO, a device (/dev/zero), a directory or a socket is refused before anything is read from it,
never a hang or an endless read: the path is opened without blocking, so naming a FIFO cannot stall
the agent, and fstat says what it is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegularFile(Exception):
    """The path is something other than a regular file; the message says what ("a FIFO, not a
    regular file")."""


def open_regular(path: Path | str) -> tuple[int, os.stat_result]:
    """A read-only fd of `path`, still non-blocking, and its stat. OSError as the system gives it;
    NotRegularFile, the fd closed, when `path` is not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"{_kind(st.st_mode)}, not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"
