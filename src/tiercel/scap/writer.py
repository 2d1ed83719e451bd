"""Write Events to a .scap capture that `sysdig -r`, Falco and `tiercel run -e` read.

Layout (SHB 1.2 with sized entries, as current libscap writes): section header, machine info,
process list (V9) and fd lists (V2) of every process the events involve — as each was when first
seen — user list, then an enter and an exit event block (V2) per syscall. The lists must precede
the events, so events go to a temporary file first and are appended at close().
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
from pathlib import Path
from typing import IO

from tiercel.events.flags import open_flags_from_linux
from tiercel.events.model import Event, Fd, Process
from tiercel.scap import blocks as B
from tiercel.scap import encode as X

_PROC_EXIT_TYPES = frozenset({"procexit"})
_TYPE_OF = {"f": B.FD_FILE_V2, "d": B.FD_DIRECTORY, "p": B.FD_FIFO, "u": B.FD_UNIX_SOCK, "e": 9,
            "s": 11, "l": 12, "i": 13, "t": 14, "n": 15, "b": 17, "r": 19, "m": 20}
_L4 = {"tcp": 2, "udp": 3, "icmp": 4, "raw": 5}
# sysdig 0.29 refuses a file whose fd list has a type above FILE_V2 (16): bpf, io_uring and memfd
# fds are listed as "unsupported" (10), with their names.
_SYSDIG_029_FD_MAX = 16


def block(btype: int, body: bytes) -> bytes:
    pad = b"\0" * (-len(body) % 4)
    total = 12 + len(body) + len(pad)
    return struct.pack("<II", btype, total) + body + pad + struct.pack("<I", total)


def _s(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogateescape")[:1023]
    return struct.pack("<H", len(raw)) + raw


def _event_block(ts: int, tid: int, cpu: int, code: int, params: list[bytes]) -> bytes:
    lens = struct.pack(f"<{len(params)}H", *(len(p) for p in params))
    length = 26 + len(lens) + sum(len(p) for p in params)
    body = struct.pack("<HQQIHI", cpu, ts, tid & (1 << 64) - 1, length, code, len(params))
    return block(B.EV_V2, body + lens + b"".join(params))


class _Snapshot:
    """A process as it was when the writer first met it."""

    def __init__(self, p: Process, tids: list[int], before: Process | None = None) -> None:
        # `before`: whose program the process ran before the event that first showed it (an exec)
        was = before or p
        self.proc = Process(pid=p.pid, ppid=p.ppid, comm=was.comm, exe=was.exe, exepath=was.exepath,
                            args=list(was.args), cwd=p.cwd, uid=p.uid, gid=p.gid, loginuid=p.loginuid,
                            tty=p.tty, parent=p.parent, container_id=was.container_id,
                            container=was.container)
        self.tids = tids
        self.fds = [Fd(f.num, f.typechar, f.name, f.openflags, f.l4proto, f.cip, f.cport, f.sip,
                       f.sport, f.is_server, f.ino, f.dev) for f in p.fds.values()]


class ScapWriter:
    def __init__(self, path: Path, hostname: str | None = None) -> None:
        self.path = Path(path)
        self.hostname = hostname or socket.gethostname()
        fd, tmp = tempfile.mkstemp(prefix=".tiercel-events-", dir=self.path.parent or ".")
        self._tmp = Path(tmp)
        self._events: IO[bytes] = os.fdopen(fd, "wb")
        self._procs: dict[int, _Snapshot] = {}
        self._born: set[int] = set()     # processes whose creation is in the capture
        self._users: dict[int, str] = {}
        self._groups: dict[int, str] = {}
        self.count = 0

    def write(self, ev: Event) -> None:
        self._remember(ev)
        if ev.type in _PROC_EXIT_TYPES:
            status = ev.args.get("status", 0)
            self._emit(ev.ts, ev.tid, ev.cpu, X.procexit_code(), [X.encode_value(11, status)])
            return
        codes = X.codes_for(ev.type)
        if codes is None:  # a syscall without its own event: Falco's generic event
            sc = struct.pack("<H", X.generic_id(ev.type))
            self._emit(ev.ts, ev.tid, ev.cpu, 0, [sc, b"\0\0"])
            self._emit(ev.ts, ev.tid, ev.cpu, 1, [sc, b"\0\0"])
            return
        enter, exit_ = codes
        self._emit(ev.ts, ev.tid, ev.cpu, enter, X.params_for(ev, enter))
        self._emit(ev.ts, ev.tid, ev.cpu, exit_, X.params_for(ev, exit_))
        if ev.type in ("clone", "clone3", "fork", "vfork") and ev.res and ev.res > 0:
            self._born.add(ev.args.get("child_pid", ev.res))

    def _emit(self, ts: int, tid: int, cpu: int, code: int, params: list[bytes]) -> None:
        self._events.write(_event_block(ts, tid, cpu, code, params))
        self.count += 1

    def _remember(self, ev: Event) -> None:
        p = ev.proc
        # A process first seen at its exec ran, until then, a copy of its parent's program (fork,
        # then exec): the written enter event must show that program, as the original did.
        before = p.parent if p is not None and ev.type in ("execve", "execveat") and ev.res == 0 else None
        while p is not None and p.pid not in self._procs and p.pid not in self._born:
            tids = sorted(p.threads | {ev.tid} if p is ev.proc else p.threads) or [p.pid]
            self._procs[p.pid] = _Snapshot(p, tids, before if p is ev.proc else None)
            if p.user:
                self._users[p.uid] = p.user
            if p.group:
                self._groups[p.gid] = p.group
            p = p.parent

    def close(self) -> None:
        self._events.close()
        try:
            with open(self.path, "wb") as out:
                out.write(self._header())
                with open(self._tmp, "rb") as events:
                    shutil.copyfileobj(events, out)
        finally:
            self._tmp.unlink(missing_ok=True)

    def _header(self) -> bytes:
        shb = block(B.SHB, struct.pack("<IHHQ", 0x1A2B3C4D, 1, 2, (1 << 64) - 1))
        host = self.hostname.encode()[:127].ljust(128, b"\0")
        mi = block(B.MI[0], struct.pack("<IQQ", os.cpu_count() or 1, 0, 1 << 22) + host
                   + struct.pack("<QQQQ", 0, 0, 0, 0))
        pl = block(0x215, b"".join(_thread(s.proc, tid) for s in self._procs.values() for tid in s.tids))
        fdls = b"".join(block(0x218, struct.pack("<Q", s.proc.pid) + b"".join(_fd(f) for f in s.fds))
                        for s in self._procs.values() if s.fds)
        users = b"".join(_entry(struct.pack("<BII", 0, uid, 0) + _s(n) + _s("") + _s(""))
                         for uid, n in self._users.items())
        groups = b"".join(_entry(struct.pack("<BI", 1, gid) + _s(n)) for gid, n in self._groups.items())
        return shb + mi + pl + fdls + block(0x220, users + groups)


def _list(items: list[str]) -> bytes:
    raw = b"".join(i.encode("utf-8", "surrogateescape") + b"\0" for i in items)
    return struct.pack("<H", len(raw)) + raw


def _entry(body: bytes) -> bytes:
    return struct.pack("<I", len(body) + 4) + body


def _thread(p: Process, tid: int) -> bytes:
    parent = p.parent.pid if p.parent is not None else p.ppid
    args = b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in p.args)
    body = (struct.pack("<QQQqq", tid, p.pid, parent, -1, -1) + _s(p.comm) + _s(p.exe) + _s(p.exepath)
            + struct.pack("<H", len(args[:4095])) + args[:4095] + _s(p.cwd)
            + struct.pack("<QIII", 1024, 0, p.uid & 0xFFFFFFFF, p.gid & 0xFFFFFFFF)
            + struct.pack("<IIIQQ", 0, 0, 0, 0, 0) + _s("") + struct.pack("<qq", tid, p.pid)
            + _list(X.cgroups_of(p)) + _s("/") + struct.pack("<QI", 0, p.tty)
            + struct.pack("<I", p.loginuid & 0xFFFFFFFF)
            + struct.pack("<BQQQ", 0, 0, 0, 0))  # exe_writable, capabilities: the tail must be
    #                                              long enough that readers take tty from it
    return _entry(body)


def _fd(fd: Fd) -> bytes:
    head = struct.pack("<qQ", fd.num, fd.ino)
    if fd.typechar in ("4", "6"):
        ip = socket.AF_INET6 if fd.typechar == "6" else socket.AF_INET
        l4 = _L4.get(fd.l4proto, 0)
        if fd.cip and fd.sip:
            t = B.FD_IPV6_SOCK if fd.typechar == "6" else B.FD_IPV4_SOCK
            body = (bytes([t]) + socket.inet_pton(ip, fd.cip) + socket.inet_pton(ip, fd.sip)
                    + struct.pack("<HHB", fd.cport, fd.sport, l4))
        elif fd.sip:
            t = B.FD_IPV6_SERVSOCK if fd.typechar == "6" else B.FD_IPV4_SERVSOCK
            body = bytes([t]) + socket.inet_pton(ip, fd.sip) + struct.pack("<HB", fd.sport, l4)
        else:
            body = bytes([10]) + _s(fd.name)
    elif fd.typechar == "f":
        body = bytes([B.FD_FILE_V2]) + struct.pack("<I", open_flags_from_linux(fd.openflags)) + _s(
            fd.name) + struct.pack("<I", fd.dev & 0xFFFFFFFF)
    elif fd.typechar == "u":
        body = bytes([B.FD_UNIX_SOCK]) + struct.pack("<QQ", 0, 0) + _s(fd.name)
    else:
        t = _TYPE_OF.get(fd.typechar, 10)
        body = bytes([t if t <= _SYSDIG_029_FD_MAX else 10]) + _s(fd.name)
    return _entry(head + body)
