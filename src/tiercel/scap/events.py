"""Decode an event's parameters by the event table, into the values `Event.args` holds.

Values follow the live decoder (events/decode.py): integers for numbers and flags, in the kernel's
encoding (open, clone, setns/unshare flags, ptrace requests and fcntl commands are converted from
the capture's Falco encoding), str for paths and strings, bytes for buffers, `list[str]` for
execve/clone argv, (family, address, port) / (family, path) tuples for socket addresses and (client
ip, client port, server ip, server port) for IP socket tuples. An empty parameter decodes to None.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from functools import cache
from typing import Any

from tiercel.events import flags as F
from tiercel.scap.blocks import nul_list
from tiercel.scap.blocks import text as _text
from tiercel.scap.table import EVENTS, PPM_SC

PPM_AF_UNIX, PPM_AF_INET, PPM_AF_INET6 = 1, 2, 10
GENERIC_E, GENERIC_X = 0, 1

_SIGNED = frozenset({1, 2, 3, 4, 11, 14, 15, 47, 48})
_UNSIGNED = frozenset({5, 6, 7, 8, 18, 19, 20, 21, 22, 23, 24, 28, 29, 30, 31, 32, 34, 42, 44, 45, 46})
_STRINGS = frozenset({9, 17, 43})
_PATHS = frozenset({17, 43})   # PT_FSPATH, PT_FSRELPATH: a kernel path has at most PATH_MAX bytes
PATH_MAX = 4096
PT_BYTEBUF, PT_SOCKADDR, PT_SOCKTUPLE, PT_FDLIST, PT_BOOL = 10, 12, 13, 16, 25
PT_IPV4ADDR, PT_DYN, PT_DOUBLE, PT_IPV6ADDR, PT_IPADDR = 26, 27, 33, 38, 40
# Parameters holding NUL-separated lists
_LIST_PARAMS = frozenset({"args", "env", "cgroups"})

# (event name, parameter) -> capture (Falco) encoding -> kernel encoding
_TO_LINUX: dict[tuple[str, str], Callable[[int], int]] = {
    **{(e, "flags"): F.open_flags_to_linux for e in ("open", "openat", "openat2")},
    **{(e, "flags"): F.clone_flags_to_linux for e in ("clone", "clone3", "fork", "vfork", "unshare")},
    ("setns", "nstype"): F.clone_flags_to_linux,
    ("ptrace", "request"): F.ptrace_request_to_linux,
    ("fcntl", "cmd"): F.fcntl_cmd_to_linux,
}


def _ip(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def sockaddr(raw: bytes) -> tuple[Any, ...] | None:
    fam = raw[0]
    if fam == PPM_AF_INET and len(raw) >= 7:
        return ("inet", _ip(raw[1:5]), struct.unpack_from("<H", raw, 5)[0])
    if fam == PPM_AF_INET6 and len(raw) >= 19:
        return ("inet6", _ip(raw[1:17]), struct.unpack_from("<H", raw, 17)[0])
    if fam == PPM_AF_UNIX:
        return ("unix", _text(raw[1:]))
    return None


def socktuple(raw: bytes) -> tuple[Any, ...] | None:
    """(sip, sport, dip, dport) for IP, ("unix", path) for unix sockets."""
    fam = raw[0]
    if fam == PPM_AF_INET and len(raw) >= 13:
        return (_ip(raw[1:5]), struct.unpack_from("<H", raw, 5)[0],
                _ip(raw[7:11]), struct.unpack_from("<H", raw, 11)[0])
    if fam == PPM_AF_INET6 and len(raw) >= 37:
        return (_ip(raw[1:17]), struct.unpack_from("<H", raw, 17)[0],
                _ip(raw[19:35]), struct.unpack_from("<H", raw, 35)[0])
    if fam == PPM_AF_UNIX and len(raw) >= 17:
        return ("unix", _text(raw[17:]))
    return None


def _dyn(raw: bytes) -> Any:
    """A dynamic parameter: an index byte choosing the type, then the value (ptrace addr/data are
    u64 or a signal number; bpf's res_or_fd an errno or fd): decoded by its length."""
    body = raw[1:]
    if len(body) in (1, 2, 4, 8):
        return int.from_bytes(body, "little", signed=len(body) == 8 and raw[0] != 0)
    return body


def decode_value(type_id: int, name: str, raw: bytes) -> Any:
    if not raw:
        return None
    if type_id in _SIGNED:
        return int.from_bytes(raw, "little", signed=True)
    if type_id in _UNSIGNED:
        return int.from_bytes(raw, "little")
    if type_id in _STRINGS:
        if type_id in _PATHS and len(raw) > PATH_MAX:  # a forged capture: no kernel path is longer
            raw = raw[:PATH_MAX]
        return nul_list(raw) if name in _LIST_PARAMS else _text(raw)
    if type_id == PT_BYTEBUF:
        return nul_list(raw) if name in _LIST_PARAMS else bytes(raw)
    if type_id == PT_SOCKADDR:
        return sockaddr(raw)
    if type_id == PT_SOCKTUPLE:
        return socktuple(raw)
    if type_id == PT_BOOL:
        return bool(int.from_bytes(raw, "little"))
    if type_id in (PT_IPV4ADDR, PT_IPV6ADDR, PT_IPADDR) and len(raw) in (4, 16):
        return _ip(raw)
    if type_id == PT_DYN:
        return _dyn(raw)
    if type_id == PT_DOUBLE and len(raw) == 8:
        return struct.unpack("<d", raw)[0]
    if type_id == PT_FDLIST and len(raw) >= 2:
        n = struct.unpack_from("<H", raw)[0]
        return [struct.unpack_from("<qH", raw, 2 + 10 * i) for i in range(n) if 12 + 10 * i <= len(raw)]
    return bytes(raw)


@cache
def schema(code: int) -> tuple[str, tuple[tuple[str, int], ...]]:
    """(event name, ((param name, type id), ...)) for an event code."""
    name, params, _ = EVENTS[code]
    pairs = tuple((p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in params.split())
    return name, pairs


def event_name(code: int, params: list[bytes]) -> str:
    """Falco's evt.type: the table name, or the syscall's own name for generic events."""
    if code in (GENERIC_E, GENERIC_X):
        if params and len(params[0]) == 2:
            sc = struct.unpack("<H", params[0])[0]
            if 0 < sc < len(PPM_SC):
                return str(PPM_SC[sc])
        return "<unknown>"
    return schema(code)[0]


def decode(code: int, params: list[bytes], kernel: bool = True) -> dict[str, Any]:
    """The event's parameters by name, in table order; `kernel` converts flags to the kernel's
    encoding (what Event.args holds); without it, values stay as the capture stores them."""
    name, pairs = schema(code)
    out: dict[str, Any] = {}
    for (pname, type_id), raw in zip(pairs, params, strict=False):
        value = decode_value(type_id, pname, raw)
        if kernel and value is not None:
            conv = _TO_LINUX.get((name, pname))
            if conv is not None:
                value = conv(value)
        out[pname] = value
    return out


def is_exit(code: int) -> bool:
    return code % 2 == 1
