"""Metadata block layouts: process lists (all versions), fd lists, interface and user lists.

Strings in these blocks are `u16 length + bytes`, not NUL-terminated. Versioned entries that carry
their own length (PL V9, FDL V2, UL V2, IL V2) are skipped to their end, so fields a newer writer
appended are ignored.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiercel.scap.reader import Header

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


def parse_metadata(btype: int, body: bytes, header: Header) -> None:
    """Fill `header` from one metadata block; unknown blocks are ignored."""
    if btype in MI:
        _machine(body, header)
    elif btype in PL:
        c = Cursor(body)
        while c.left() >= 4:
            t = _thread(c, PL[btype])
            header.threads[t.tid] = t
    elif btype in FDL:
        c = Cursor(body)
        tid = c.num("Q")
        fds = header.fds.setdefault(tid, [])
        while c.left() >= 4:
            fds.append(_fd(c, FDL[btype]))
    elif btype in UL:
        _users(Cursor(body), UL[btype], header)
    elif btype in IL:
        _interfaces(Cursor(body), IL[btype], header)


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


def _users(c: Cursor, version: int, header: Header) -> None:
    while c.left() >= 4:
        start = c.pos
        entry_end = c.end
        if version == 2:
            entry_end = start + c.num("I")
        kind = c.num("B")
        if kind == 0:
            uid, _gid = c.num("I"), c.num("I")
            header.users[uid] = c.str()
            c.str()
            c.str()                       # home, shell
        else:
            gid = c.num("I")
            header.groups[gid] = c.str()
        if version == 2:
            c.pos = entry_end


_IF_SIZES = {1: 20, 2: 56, 3: 12, 4: 48}   # fixed part after type and name length


def _interfaces(c: Cursor, version: int, header: Header) -> None:
    while c.left() >= 4:
        entry_end = c.end
        if version == 2:
            n = c.num("I")
            entry_end = c.pos + n         # IL V2's entry length leaves out its own 4 bytes
        kind, namelen = c.num("H"), c.num("H")
        c.raw(_IF_SIZES.get(kind, 0))
        header.interfaces.append(text(c.raw(namelen)))
        if version == 2:
            c.pos = entry_end
