"""The kernel filter's decision in Python, to prove its tables sound on captures and streams.

`passes` is the probe's decision for one record (probe: kf_decide mirrors it) on what the probe knows
of it (`KernelView`); `view_of` builds that view from an event and the state just before it. The
soundness tests (tiercel.testing.soundness) replay captures and streams with and without it: the same
alerts both ways is what "sound" means.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from tiercel.events.model import Event, Process
from tiercel.events.syscalls import SyscallTable
from tiercel.kfilter.derive import enum_param, flags_param, path_param
from tiercel.probe.filtertables import (
    ACC_ALL,
    COMM_LEN,
    FAMILY_INET6,
    PATH_MAX_K,
    STATE_OPEN_FLAGS,
    FilterTables,
    sock_values,
    tracked,
)

_TABLE = SyscallTable()


@dataclass(frozen=True, slots=True)
class KernelView:
    """What the probe knows of one syscall record when it decides."""

    name: str
    ret: int
    exec_comm: bytes | None = None  # None: the process exec'd before the agent started
    path: bytes | None = None       # the path argument as the process passed it
    flags: int = 0
    fd_known: bool = False          # the state holds an entry for the fd number returned
    arg_fd_known: bool = False      # ... for the fd argument (close)
    value: int | None = None        # the enumerated argument, where the call has one
    port: int | None = None         # its socket's server port, as the kernel has it (None: untold)
    kind: int | None = None         # ... its kind (probe/filtertables.sock_values)
    local: bool | None = None       # ... its server address is a loopback or unspecified one
    host: bool = False              # the process exec'd outside any container (exec_comm.host)


def judgeable(path: bytes | None) -> bool:
    """Whether fd.name is the path argument itself: absolute, short, no `//`, `/.` or final `/`."""
    if path is None or not path.startswith(b"/") or len(path) >= PATH_MAX_K - 1:
        return False
    if b"//" in path or b"/." in path:
        return False
    return not (len(path) > 1 and path.endswith(b"/"))


def passes(tables: FilterTables, view: KernelView) -> bool:
    """The probe's decision for one record (the probe's kf_decide)."""
    f = tables.syscalls.get(view.name)
    if f is None or f.open:
        return True
    if f.fd_result and view.fd_known:
        return True                 # the state's entry for that number must be replaced
    if f.fd_close and view.arg_fd_known:
        return True                 # ... or removed
    if f.flags_arg is not None and view.flags & STATE_OPEN_FLAGS:
        return True
    path_ok = f.path_slot is not None and judgeable(view.path)
    acc = view.flags & 3
    for s in f.slots:
        if not (s.ret_ok if view.ret >= 0 else s.ret_fail):
            continue
        if s.comms is not None and view.exec_comm is not None and view.exec_comm[:COMM_LEN] not in s.comms:
            continue
        if s.paths is not None and path_ok and view.path is not None and not s.paths.matches(view.path):
            continue
        if s.needles is not None and path_ok and view.path is not None and not any(
                n in view.path for n in s.needles):
            continue
        if s.values is not None and f.enum_arg is not None and view.value not in s.values:
            continue
        if s.ports is not None and view.port is not None and view.port not in s.ports:
            continue
        if s.kinds is not None and view.kind is not None and view.kind not in s.kinds:
            continue
        if view.local and not (s.local6 if view.kind is not None and view.kind >> 8 == FAMILY_INET6
                               else s.local):
            continue
        if not s.host and view.host:
            continue
        if f.flags_arg is not None and s.acc_ok != ACC_ALL and not (
                s.acc_ok >> acc & 1 or view.flags & s.bits_any):
            continue
        return True
    return False


def view_of(ev: Event, proc: Process | None, fd_kinds: str = "any") -> KernelView:
    """`fd_kinds`: which of the state's fd entries the probe tracks (FilterTables.fd_kinds)."""
    path_arg, flags_arg, value_arg = _probe_params(ev.type)
    raw = ev.args.get(path_arg)
    path = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else None
    flags = ev.args.get(flags_arg)
    comm = proc.comm.encode("utf-8", "surrogateescape") if proc is not None else None
    res = ev.res if ev.res is not None else 0
    fds = proc.fds if proc is not None else {}
    fd = fds.get(res) if res >= 0 else None
    known = fd is not None and tracked(fd, fd_kinds)
    arg = ev.args.get("fd")
    arg_fd = fds.get(arg) if isinstance(arg, int) else None
    arg_known = arg_fd is not None and tracked(arg_fd, fd_kinds)
    value = ev.args.get(value_arg)
    port, kind, local = sock_values(ev.kfd)
    return KernelView(ev.type, res, comm, path, flags if isinstance(flags, int) else 0, known, arg_known,
                      value & (1 << 64) - 1 if isinstance(value, int) else None, port, kind, local,
                      proc is not None and not proc.container_id)


@functools.cache
def _probe_params(evttype: str) -> tuple[str, str, str]:
    """The arguments the probe's path, flags and value-set tests read (kfilter.derive); "": none."""
    sc = _TABLE.by_name.get(evttype)
    if sc is None:
        return "", "", ""
    params = dict(sc.params)
    return (path_param(params) or "", flags_param(evttype, params) or "",
            enum_param(evttype, params) or "")


def kept(ev: Event, proc: Process | None, tables: FilterTables | None) -> bool:
    return tables is None or passes(tables, view_of(ev, proc, tables.fd_kinds))
