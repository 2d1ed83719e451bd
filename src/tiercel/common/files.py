"""Files a user names (rule files, config files, captures, event files, test files): the one safe
reader.

A FIFO, a device (/dev/zero), a directory or a socket is refused before anything is read from it,
never a hang or an endless read: the path is opened without blocking, so naming a FIFO cannot stall
the agent, and fstat says what it is. A name the system cannot take (a NUL byte, a component over
255 bytes, a loop of links) is the same kind of one-line refusal, never a traceback.

    open_regular(path)         a non-blocking fd of a regular file, and its stat
    read_regular(path, limit)  its bytes, at most `limit` of them
    path_kind(path)            "file", "directory" or None (missing), for lists of paths
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Literal


class NotRegularFile(Exception):
    """The path is something other than a regular file, or a name no file can have; the message
    says what ("a FIFO, not a regular file")."""


class Unreadable(Exception):
    """A file that cannot be read: `why` alone, without the path ("a FIFO, not a regular file",
    "File name too long", "larger than 16 MiB (20000000 bytes)")."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def open_regular(path: Path | str) -> tuple[int, os.stat_result]:
    """A read-only fd of `path`, still non-blocking, and its stat. OSError as the system gives it;
    NotRegularFile, the fd closed, when `path` is not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except ValueError:  # Python's own refusal of a NUL byte, before the system sees the name
        raise NotRegularFile("the name holds a NUL byte") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"{_kind(st.st_mode)}, not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_regular(path: Path | str, limit: int) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes; else Unreadable."""
    try:
        fd, st = open_regular(path)
    except NotRegularFile as e:
        raise Unreadable(str(e)) from None
    except OSError as e:
        raise Unreadable(why(e)) from None
    try:
        if st.st_size > limit:
            raise Unreadable(f"larger than {_size(limit)} ({st.st_size} bytes)")
        data = _read_up_to(fd, limit + 1)
    except OSError as e:
        raise Unreadable(why(e)) from None
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while we read it
        raise Unreadable(f"larger than {_size(limit)}")
    return data


def path_kind(path: Path | str) -> Literal["file", "directory"] | None:
    """What `path` names, links followed: "directory", "file" (anything else: reading it says
    what it is), or None when nothing is there; Unreadable for a name that cannot be looked up."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except ValueError:
        raise Unreadable("the name holds a NUL byte") from None
    except OSError as e:
        if e.errno == errno.ENOTDIR:
            return None
        raise Unreadable(why(e)) from None
    return "directory" if stat.S_ISDIR(st.st_mode) else "file"


def why(e: OSError) -> str:
    """The system's reason, without the path (which can be megabytes long)."""
    return e.strerror or type(e).__name__


def _read_up_to(fd: int, n: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n} bytes"


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
