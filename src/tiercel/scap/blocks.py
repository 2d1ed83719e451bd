"""Metadata block layouts: process lists (all versions), fd lists, interface and user lists.

Strings in these blocks are `u16 length + bytes`, not NUL-terminated. Versioned entries that carry
their own length (PL V9, FDL V2, UL V2, IL V2) are skipped to their end, so fields a newer writer
appended are ignored.

The list blocks (processes, fds, users, interfaces) are read one entry at a time (`open_list`), so
the reader can feed a block of any size through a bounded window; each entry is parsed whole before
it is added to the Header, so an entry cut by the window's end is simply parsed again.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiercel.scap.header import Header

SHB = 0x0A0D0D0A
MI = (0x201, 0x8002ABCD)
# process list block type -> layout version
PL = {0x202: 1, 0x8000ABCD: 1, 0x207: 2, 0x8013ABCD: 2, 0x209: 3, 0x8014ABCD: 3, 0x210: 4,
      0x211: 5, 0x212: 6, 0x213: 7, 0x214: 8, 0x215: 9}
FDL = {0x203: 1, 0x8001ABCD: 1, 0x218: 2}
IL = {0x205: 1, 0x8011ABCD: 1, 0x219: 2}
UL = {0x206: 1, 0x8012ABCD: 1, 0x220: 2}
EV_V1, EV_V2, EV_V2_LARGE = 0x204, 0x216, 0x221
EVF_V1, EVF_V2, EVF_V2_LARGE = 0x208, 0x217, 0x222
EVENT_BLOCKS = frozenset({EV_V1, 0x8010ABCD, EV_V2, EV_V2_LARGE, EVF_V1, EVF_V2, EVF_V2_LARGE})
EVF_BLOCKS = frozenset({EVF_V1, EVF_V2, EVF_V2_LARGE})
V2_EVENT_BLOCKS = frozenset({EV_V2, EV_V2_LARGE, EVF_V2, EVF_V2_LARGE})

# fd list entry types
FD_FILE, FD_DIRECTORY, FD_IPV4_SOCK, FD_IPV6_SOCK, FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK = 1, 2, 3, 4, 5, 6
FD_FIFO, FD_UNIX_SOCK, FD_FILE_V2 = 7, 8, 16
_NAMED_FD_TYPES = frozenset({1, 2, 7, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21})


@dataclass(slots=True)
class ThreadInfo:
    tid: int
    pid: int
    ptid: int
    comm: str = ""
    exe: str = ""
    exepath: str = ""
    args: list[str] = field(default_factory=list)
    cwd: str = ""
    uid: int = 0
    gid: int = 0
    flags: int = 0
    cgroups: list[str] = field(default_factory=list)
    loginuid: int = -1
    tty: int = 0


@dataclass(slots=True)
class FdInfo:
    fd: int
    type: int
    name: str = ""
    ino: int = 0
    flags: int = 0            # open flags, Falco's encoding
    sip: str = ""
    dip: str = ""
    sport: int = 0
    dport: int = 0
    l4proto: int = 0
    dev: int = 0


class Cursor:
    """Sequential little-endian reads over one block body."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def left(self) -> int:
        return self.end - self.pos

    def num(self, fmt: str) -> int:
        v = struct.unpack_from("<" + fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        if self.pos > self.end:
            raise ValueError("entry overruns its length")
        return int(v)

    def raw(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise ValueError("entry overruns its length")
        v = self.data[self.pos:self.pos + n]
        self.pos += n
        return v

    def str(self) -> str:
        return text(self.raw(self.num("H")))


def text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")


def nul_list(raw: bytes) -> list[str]:
    items = [s.decode("utf-8", "backslashreplace") for s in raw.split(b"\0")]
    if items and items[-1] == "":
        items.pop()
    return items


LIST_BLOCKS = frozenset({*PL, *FDL, *IL, *UL})


def open_list(btype: int, c: Cursor, header: Header) -> Callable[[Cursor], bool]:
    """Read a list block's own prefix (an fd list's thread id) from `c` and return the parser of
    one of its entries, which adds what it reads to `header` (False: the header had no room)."""
    if btype in PL:
        version = PL[btype]
        return lambda c: header.add_thread(_thread(c, version))
    if btype in FDL:
        version, tid = FDL[btype], c.num("Q")
        header.fd_list(tid)
        return lambda c: header.add_fd(tid, _fd(c, version))
    if btype in UL:
        version = UL[btype]
        return lambda c: _user(c, version, header)
    version = IL[btype]
    return lambda c: header.add_interface(_interface(c, version))


def machine(body: bytes, header: Header) -> None:
    """The machine info block."""
    _machine(body, header)


def _machine(body: bytes, header: Header) -> None:
    c = Cursor(body)
    header.num_cpus = c.num("I")
    c.num("Q")
    c.num("Q")
    header.hostname = text(c.raw(128))
    if c.left() >= 8:
        header.boot_ts = c.num("Q")


def _thread(outer: Cursor, version: int) -> ThreadInfo:
    c, end = outer, outer.end
    if version == 9:
        start = outer.pos
        entry_len = outer.num("I")
        end = start + entry_len
        if entry_len < 4 or end > outer.end:
            raise ValueError(f"process entry length {entry_len}")
        c = Cursor(outer.data, outer.pos, end)
    t = ThreadInfo(tid=c.num("Q"), pid=c.num("Q"), ptid=c.num("Q"))
    if version >= 6:
        c.num("Q")                        # sid
    if version >= 8:
        c.num("Q")                        # vpgid
    t.comm, t.exe = c.str(), c.str()
    if version >= 7:
        t.exepath = c.str()
    t.args = nul_list(c.raw(c.num("H")))
    t.cwd = c.str()
    c.num("Q")                            # fdlimit
    t.flags, t.uid, t.gid = c.num("I"), c.num("I"), c.num("I")
    if version >= 2:
        c.raw(4 * 3 + 8 * 2)              # vmsize, vmrss, vmswap, pfmajor, pfminor
    if version >= 3:
        c.raw(c.num("H"))                 # env
    if version >= 4:
        c.num("q")
        c.num("q")                        # vtid, vpid
        t.cgroups = nul_list(c.raw(c.num("H")))
    if version >= 5:
        c.str()                           # root
    if version == 9:
        if c.left() > 29:
            c.num("Q")                    # pidns_init_start_ts
            t.tty = c.num("I")
        if c.left() >= 4:
            uid = c.num("I")
            t.loginuid = -1 if uid == 0xFFFFFFFF else uid
        outer.pos = end
    return t


def _fd(c: Cursor, version: int) -> FdInfo:
    start = c.pos
    end = c.end
    if version == 2:
        end = start + c.num("I")
        if end > c.end or end < start + 4:
            raise ValueError("fd entry length")
    fd = FdInfo(fd=c.num("q"), ino=c.num("Q"), type=c.num("B"))
    sub = Cursor(c.data, c.pos, end)
    _fd_payload(sub, fd, version)
    c.pos = end if version == 2 else sub.pos
    return fd


def _fd_payload(c: Cursor, fd: FdInfo, version: int) -> None:
    t = fd.type
    if t == FD_IPV4_SOCK:
        fd.sip, fd.dip = _ip4(c.raw(4)), _ip4(c.raw(4))
        fd.sport, fd.dport, fd.l4proto = c.num("H"), c.num("H"), c.num("B")
    elif t == FD_IPV4_SERVSOCK:
        fd.sip, fd.sport, fd.l4proto = _ip4(c.raw(4)), c.num("H"), c.num("B")
    elif t == FD_IPV6_SOCK:
        fd.sip, fd.dip = _ip6(c.raw(16)), _ip6(c.raw(16))
        fd.sport, fd.dport, fd.l4proto = c.num("H"), c.num("H"), c.num("B")
    elif t == FD_IPV6_SERVSOCK:
        fd.sip, fd.sport, fd.l4proto = _ip6(c.raw(16)), c.num("H"), c.num("B")
    elif t == FD_UNIX_SOCK:
        c.raw(16)                         # source and destination kernel pointers
        fd.name = c.str()
    elif t == FD_FILE_V2:
        fd.flags = c.num("I")
        fd.name = c.str()
        if version == 2 and c.left() >= 4:   # only a sized entry can tell that dev is there
            fd.dev = c.num("I")
    elif t in _NAMED_FD_TYPES:
        fd.name = c.str()


def _ip4(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw)


def _ip6(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def _user(c: Cursor, version: int, header: Header) -> bool:
    entry_end = c.end
    if version == 2:
        entry_end = c.pos + c.num("I")
        if entry_end > c.end:
            raise ValueError("user entry overruns its block")
    if c.num("B") == 0:
        uid, _gid = c.num("I"), c.num("I")
        name = c.str()
        c.str()
        c.str()                           # home, shell
        kept = header.add_user(uid, name)
    else:
        gid = c.num("I")
        kept = header.add_group(gid, c.str())
    if version == 2:
        c.pos = entry_end
    return kept


_IF_SIZES = {1: 20, 2: 56, 3: 12, 4: 48}   # fixed part after type and name length


def _interface(c: Cursor, version: int) -> str:
    entry_end = c.end
    if version == 2:
        n = c.num("I")
        entry_end = c.pos + n             # IL V2's entry length leaves out its own 4 bytes
        if entry_end > c.end:
            raise ValueError("interface entry overruns its block")
    kind, namelen = c.num("H"), c.num("H")
    c.raw(_IF_SIZES.get(kind, 0))
    name = text(c.raw(namelen))
    if version == 2:
        c.pos = entry_end
    return name
