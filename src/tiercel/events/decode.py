"""Ring-buffer records (probe/events.h) -> Event, with Falco's event names and parameter names.

Decoding knows nothing of processes or fds: turning a dirfd-relative path into an absolute one, or
an fd number into a name, is the state stage's job.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Sequence
from typing import Any

from tiercel.events import wire
from tiercel.events.model import DIR_ENTER, DIR_EXIT, Event, KernelFd
from tiercel.events.syscalls import SyscallTable

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
CLONE_NAMES_DEFAULT = "clone"  # a task the kernel created without a syscall (kthreadd)

# Parameters that are file descriptors: the kernel passes an int, the register holds 64 bits.
_FD_PARAMS = frozenset({"fd", "dirfd", "olddirfd", "newdirfd", "linkdirfd", "olddir", "newdir",
                        "oldfd", "newfd"})


def text(raw: bytes) -> str:
    """Kernel bytes -> str. Bytes that are not UTF-8 become \\xNN escapes, so JSON can carry them
    and the original bytes stay visible."""
    return raw.decode("utf-8", "backslashreplace")


def sockaddr(raw: bytes) -> tuple[Any, ...] | None:
    """A struct sockaddr -> (family, address, port) for IP, (family, path) for unix."""
    if len(raw) < 2:
        return None
    family = struct.unpack_from("<H", raw)[0]
    if family == AF_INET and len(raw) >= 8:
        return ("inet", socket.inet_ntop(socket.AF_INET, raw[4:8]), struct.unpack_from(">H", raw, 2)[0])
    if family == AF_INET6 and len(raw) >= 24:
        return ("inet6", socket.inet_ntop(socket.AF_INET6, raw[8:24]),
                struct.unpack_from(">H", raw, 2)[0])
    if family == AF_UNIX:
        path = raw[2:]
        if path[:1] == b"\0":  # abstract namespace: shown with a leading @ like ss(8)
            return ("unix", "@" + text(path[1:].rstrip(b"\0")))
        return ("unix", text(path.split(b"\0", 1)[0]))
    return (str(family),)


def kernel_fd(f: Sequence[Any]) -> KernelFd:
    """A record's fd_info (its unpacked fields: fd, mode, family, type, proto, lport, rport, laddr,
    raddr, role) -> KernelFd. An address of all zeros is no address: unbound, or not connected."""
    num, mode, family, stype, proto, lport, rport, laddr, raddr, role = f
    if family in (AF_INET, AF_INET6):
        af, n = (socket.AF_INET, 4) if family == AF_INET else (socket.AF_INET6, 16)
        local = socket.inet_ntop(af, laddr[:n]) if any(laddr[:n]) or lport else ""
        remote = socket.inet_ntop(af, raddr[:n]) if any(raddr[:n]) or rport else ""
        return KernelFd(num, mode, family, stype, proto, local, lport, remote, rport, role)
    return KernelFd(num, mode, family, stype, proto, role=role)


_RES, _ARG, _ARGFD, _STR, _ADDR, _ARGV = range(6)
_SLOT_OFFS = (wire.SLOT0_OFF, wire.SLOT1_OFF, wire.SLOT2_OFF)


def plan(params: tuple[tuple[str, str], ...]) -> list[tuple[str, int, int]]:
    """A syscall's parameter sources (events/syscalls.py) as (name, code, index) steps."""
    steps = []
    for name, src in params:
        if src == "res":
            steps.append((name, _RES, 0))
        elif src == "argv":
            steps.append((name, _ARGV, 1))
        elif src == "addr":
            steps.append((name, _ADDR, 0))
        elif src[0] == "a":
            steps.append((name, _ARGFD if name in _FD_PARAMS else _ARG, int(src[1])))
        elif src[0] == "s":
            steps.append((name, _STR, int(src[1])))
    return steps


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


class Decoder:
    """Turns records into Events; numbers them; converts monotonic timestamps to the epoch."""

    def __init__(self, table: SyscallTable, boot_offset_ns: int) -> None:
        self.table = table
        self.offset = boot_offset_ns
        self.num = 0
        self.errors = 0
        self._plans = {sc.nr: plan(sc.params) for sc in table.entries}
        self._comms: dict[bytes, str] = {}
        # The places (files, directories) the kernel filter knows by inode, by index (REC_F_RESOLVED):
        # set by the live source with the filter's tables.
        self.inode_paths: Sequence[str] = ()
        self._kinds: dict[int, Callable[[bytes], Event | None]] = {
            wire.REC_SYSCALL: self._syscall, wire.REC_CLONE: self._clone, wire.REC_EXIT: self._exit,
        }

    def decode(self, data: bytes) -> Event | None:
        """One record -> Event; None (and counted) when the record is malformed or unknown."""
        try:
            handler = self._kinds.get(data[0] | data[1] << 8)
            ev = handler(data) if handler else None
        except (struct.error, IndexError, KeyError, ValueError):
            ev = None
        if ev is None:
            self.errors += 1
        return ev

    def _event(self, h: tuple[Any, ...], type_: str, dir_: str) -> Event:
        self.num += 1
        _, _, cpu, ts, tid, pid, uid, gid, raw_comm = h[:9]
        comm = self._comms.get(raw_comm)
        if comm is None:  # a host runs few distinct comms: decode each once
            if len(self._comms) > 4096:
                self._comms.clear()
            comm = self._comms[raw_comm] = text(raw_comm.split(b"\0", 1)[0])
        return Event(num=self.num, ts=ts + self.offset, type=type_, dir=dir_, tid=tid, pid=pid,
                     cpu=cpu, uid=uid, gid=gid, comm=comm)

    def _syscall(self, data: bytes) -> Event:
        f = wire.SYSCALL.unpack_from(data)
        ret, raw_args, nr, lens = f[9], f[10:16], f[16], f[17:20]
        vpid = f[20]
        sc = self.table.by_nr[nr]
        ev = self._event(f, sc.name, DIR_EXIT)
        ev.res = ret
        ev.sysargs = raw_args
        ev.repeats_before = f[21]
        base = wire.SYSCALL_DATA_OFF
        args = ev.args
        if f[1] & wire.REC_F_FD:
            ev.kfd = kernel_fd(f[22:32])
        if f[1] & wire.REC_F_RESOLVED:
            at = base + wire.SLOT1_OFF
            ev.realpath = self._resolved(raw_args[5], data[at:at + lens[1]])
        for name, code, idx in self._plans[nr]:
            if code == _RES:
                args[name] = ret
            elif code == _ARG:
                args[name] = _signed(raw_args[idx])
            elif code == _ARGFD:
                args[name] = _int32(raw_args[idx])
            elif code == _STR:
                start = base + _SLOT_OFFS[idx]
                end = data.find(b"\0", start, start + lens[idx])
                args[name] = text(data[start:end if end >= 0 else start + lens[idx]])
            elif code == _ADDR:
                args[name] = sockaddr(data[base:base + lens[0]]) if lens[0] else None
            elif code == _ARGV:
                at = base + wire.SLOT1_OFF
                argv = [text(a) for a in data[at:at + lens[1]].split(b"\0")]
                ev.vpid = vpid
                ev.tty = raw_args[5] if ret == 0 else None
                if f[1] & wire.REC_F_CGROUP_READ:  # exec: the cgroup name follows argv in slot 1
                    at += lens[1]
                    ev.cgroup = text(data[at:at + lens[2]].split(b"\0", 1)[0])
                if argv and argv[-1] == "":
                    argv.pop()
                args["exe"] = argv[0] if argv else ""
                args[name] = argv[1:]
                if f[1] & wire.REC_F_ARGV_TRUNCATED:
                    args["args_truncated"] = True
        return ev

    def _resolved(self, where: int, names: bytes) -> str | None:
        """The opened file's path from the place the probe found it at (an index into inode_paths)
        and the names below that place, leaf first."""
        index, level = where >> 8, where & 0xFF
        if index >= len(self.inode_paths):
            return None
        below = [text(n) for n in names.split(b"\0")[:level]]
        if len(below) != level or not all(below):
            return None
        return "/".join([self.inode_paths[index].rstrip("/") or "", *reversed(below)]) or "/"

    def _clone(self, data: bytes) -> Event:
        f = wire.CLONE.unpack_from(data)
        child_tid, child_pid, flags, nr = f[9:13]
        sc = self.table.by_nr.get(nr)
        ev = self._event(f, sc.name if sc else CLONE_NAMES_DEFAULT, DIR_EXIT)
        ev.res = child_tid
        ev.args = {"res": child_tid, "flags": flags, "child_pid": child_pid}
        return ev

    def _exit(self, data: bytes) -> Event:
        f = wire.EXIT.unpack_from(data)
        ev = self._event(f, "procexit", DIR_ENTER)
        ev.args = {"status": f[9]}
        ev.repeats_before = f[10]
        return ev
