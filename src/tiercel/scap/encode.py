"""Encode Event arguments back into capture parameters (the inverse of scap/events.py).

Values go back to Falco's encoding (flags.falco_raw), strings get their trailing NUL, argv-style
lists are NUL-separated, addresses are packed as the driver packs them. A parameter the Event does
not have is written empty, which readers show as <NA>.
"""

from __future__ import annotations

import socket
import struct
from functools import cache
from typing import Any

from tiercel.events.flags import falco_raw
from tiercel.events.model import Event, Fd, Process
from tiercel.scap import events as E
from tiercel.scap.events import GENERIC_X
from tiercel.scap.table import EVENTS, PPM_SC

INT_SIZES = {1: 1, 2: 2, 3: 4, 4: 8, 5: 1, 6: 2, 7: 4, 8: 8, 11: 8, 14: 8, 15: 8, 18: 2, 19: 1,
             20: 8, 21: 8, 22: 2, 23: 1, 24: 1, 25: 4, 28: 1, 29: 2, 30: 4, 31: 4, 32: 4, 34: 4,
             42: 4, 44: 1, 45: 2, 46: 4, 47: 4, 48: 4}
_FAMILY = {"inet": 2, "inet6": 10, "unix": 1}


# sysdig 0.29 (Debian's) knows event codes below this; an event type that has a pair below it is
# written with that pair, so the capture reads there too. Newer-only types (dup2, dup3) keep their
# current codes, which sysdig 0.29 skips.
SYSDIG_029_MAX = 336


@cache
def codes_for(name: str) -> tuple[int, int] | None:
    """(enter, exit) codes to write an event named `name` with: the newest pair readable by
    sysdig 0.29, else the newest current pair."""
    compat = current = None
    for code in range(1, len(EVENTS), 2):
        ename, params, flags = EVENTS[code]
        if ename != name or code in (GENERIC_X,):
            continue
        if code < SYSDIG_029_MAX and params:
            compat = (code - 1, code)
        if "O" not in flags:
            current = (code - 1, code)
    return compat or current


@cache
def procexit_code() -> int:
    return max(c for c, e in enumerate(EVENTS) if e[0] == "procexit" and e[1])


def _ip_bytes(ip: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)


def _sockaddr(value: Any) -> bytes:
    if not isinstance(value, tuple) or not value:
        return b""
    fam = _FAMILY.get(value[0])
    if fam == 1:
        return b"\x01" + str(value[1]).encode() + b"\0"
    if fam in (2, 10) and len(value) == 3:
        return bytes([fam]) + _ip_bytes(value[1]) + struct.pack("<H", value[2])
    return b""


def socktuple_of(fd: Fd | None, accepted: bool = False) -> bytes:
    """The fd's connection as the driver packs a socket tuple: client end first. An accepted
    socket whose client end the live probe did not read gets the zero address and port, which
    the reader takes back as unknown (a real accept always has a peer)."""
    if fd is None or fd.typechar not in ("4", "6") or not fd.sip:
        return b""
    if not fd.cip and not accepted:
        return b""
    fam = 10 if fd.typechar == "6" else 2
    cip = fd.cip or ("::" if fam == 10 else "0.0.0.0")
    return (bytes([fam]) + _ip_bytes(cip) + struct.pack("<H", fd.cport)
            + _ip_bytes(fd.sip) + struct.pack("<H", fd.sport))


def encode_value(type_id: int, value: Any) -> bytes:
    size = INT_SIZES.get(type_id)
    if value is None:
        # older readers (sysdig 0.29) misread an empty number: write 0 for a number not known
        return bytes(size) if size is not None else b""
    if size is not None:
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int):
            return b""
        return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    if isinstance(value, list):
        return b"".join(str(v).encode("utf-8", "surrogateescape") + b"\0" for v in value)
    if type_id == E.PT_SOCKADDR:
        return _sockaddr(value)
    if type_id == E.PT_DYN:
        return b"\0" + (value & (1 << 64) - 1).to_bytes(8, "little") if isinstance(value, int) else b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape") + b"\0"
    return b""


# A cgroup path that names each runtime's container the way cgroup.from_path reads it back.
_CGROUP_PATHS = {"docker": "/system.slice/docker-{}.scope", "cri-o": "/crio-{}.scope",
                 "podman": "/libpod-{}.scope", "cri": "/kubepods/{}", "containerd": "/default/{}"}


def cgroups_of(proc: Process | None) -> list[str]:
    """The cgroups a capture carries for a process: the live probe knows the container (from the
    cgroup's name at exec), not every hierarchy's path; one cpuset path that names it."""
    c = proc.container if proc is not None else None
    if c is None or len(c.full_id) != 64 or c.type not in _CGROUP_PATHS:
        return ["cpuset=/"]
    return ["cpuset=" + _CGROUP_PATHS[c.type].format(c.full_id)]


def derived(ev: Event) -> dict[str, Any]:
    """Parameters a capture carries that the Event holds elsewhere (the task's identity)."""
    p = ev.proc
    out: dict[str, Any] = {"tid": ev.tid, "pid": ev.pid, "comm": ev.comm, "uid": ev.uid, "gid": ev.gid}
    if ev.type.startswith("dup"):
        out["fd"] = ev.args.get("oldfd")
    if p is not None:
        out.update(ptid=p.ppid, cwd=p.cwd, exe=p.exe, args=p.args, loginuid=p.loginuid, tty=p.tty,
                   cgroups=cgroups_of(p))
    return out


_ACCEPTS = frozenset({"accept", "accept4"})
# Numbers the live probe does not read, written empty (<NA>) rather than 0 where the replayed
# value shows in rule output; sysdig 0.29 reads an empty parameter in these places.
_EMPTY_WHEN_UNKNOWN = frozenset({("execve", "flags"), ("execveat", "flags")})


# Exit events whose code sysdig 0.29 knows with fewer parameters than the current table (it reads
# past the end of a longer one): written with those only; the others travel in the enter event,
# which readers merge into the exit (scap.convert).
SYSDIG_029_EXIT_PARAMS = {"fcntl": 1}


def params_for(ev: Event, code: int) -> list[bytes]:
    """The event's values for the parameters of `code`, in table order."""
    name, pairs = E.schema(code)
    if code % 2 == 1 and name in SYSDIG_029_EXIT_PARAMS:
        pairs = pairs[:SYSDIG_029_EXIT_PARAMS[name]]
    extra = derived(ev)
    out = []
    for pname, type_id in pairs:
        value = ev.args.get(pname, extra.get(pname))
        if type_id == E.PT_SOCKTUPLE:
            out.append(socktuple_of(ev.fd, accepted=name in _ACCEPTS))
            continue
        if value is None and (name, pname) in _EMPTY_WHEN_UNKNOWN:
            out.append(b"")
            continue
        if pname in ("res", "fd") and code % 2 == 1 and pairs[0][0] == pname and ev.res is not None:
            value = ev.res
        out.append(encode_value(type_id, falco_raw(name, pname, value)))
    return out


def generic_id(name: str) -> int:
    try:
        return PPM_SC.index(name)
    except ValueError:
        return 0
