"""Apply each event to the state and attach what the rules read: Event.proc, Event.fd, abspaths.

One handler per event type, made from the syscall table's rows (events/syscalls.py: each row names its
handler in HANDLER_FACTORIES); an event type without a handler only gets its process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tiercel.container.registry import Containers
from tiercel.events.model import Event, Process
from tiercel.events.syscalls import SYSCALLS_X86_64, Fx, HandlerName, Syscall
from tiercel.state import fds, procfs
from tiercel.state.processes import ProcessTable

Handler = Callable[["Enricher", Process, Event], None]


def _path(ev: Event, proc: Process, name: str, dirfd_name: str | None = None) -> str:
    raw = ev.args.get(name)
    if not isinstance(raw, str):
        return ""
    dirfd = ev.args.get(dirfd_name, fds.AT_FDCWD) if dirfd_name else fds.AT_FDCWD
    return fds.resolve(proc, raw, dirfd)


def _open(sc: Syscall) -> Handler:
    name, dirfd = sc.paths[0].param, sc.paths[0].dirfd

    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        ev.abspath = _path(ev, proc, name, dirfd)
        # opened through a link to a place a rule names: the file is known by that place's name
        fds.on_open(proc, ev, ev.realpath or ev.abspath)
    return handle


def _paths(sc: Syscall) -> Handler:
    """evt.abspath (and evt.abspath.dst) from the row's path parameters."""
    first = sc.paths[0]
    if len(sc.paths) == 1:
        def one(self: Enricher, proc: Process, ev: Event) -> None:
            ev.abspath = _path(ev, proc, first.param, first.dirfd)
        return one
    second = sc.paths[1]

    def two(self: Enricher, proc: Process, ev: Event) -> None:
        # a symlink's target is stored text, not a path to resolve
        ev.abspath = ev.args.get(first.param) if first.verbatim else _path(ev, proc, first.param, first.dirfd)
        ev.abspath_dst = _path(ev, proc, second.param, second.dirfd)
    return two


def _exec(sc: Syscall) -> Handler:
    name, dirfd = sc.paths[0].param, sc.paths[0].dirfd

    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        ev.abspath = _path(ev, proc, name, dirfd)
        if ev.res == 0:
            self.table.on_exec(proc, ev, ev.abspath)
    return handle


def _clone(self: Enricher, proc: Process, ev: Event) -> None:
    if ev.res is not None and ev.res > 0:
        self.table.on_clone(ev, proc)


def _chdir(sc: Syscall) -> Handler:
    name = sc.paths[0].param

    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        path = _path(ev, proc, name)
        ev.abspath = path
        if ev.res == 0 and path:
            proc.cwd = path if path.endswith("/") else path + "/"
    return handle


def _fchdir(sc: Syscall) -> Handler:
    param = sc.fd_param or "fd"

    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        fds.by_number(proc, ev, param)
        if ev.res == 0 and ev.fd is not None and ev.fd.name.startswith("/"):
            proc.cwd = ev.fd.name if ev.fd.name.endswith("/") else ev.fd.name + "/"
    return handle


def _setid(self: Enricher, proc: Process, ev: Event) -> None:
    if ev.res == 0:
        self.table.on_setid(proc, ev)


def _accept(sc: Syscall) -> Handler:
    # the listening socket is only in the raw arguments: Falco's accept event has no parameter for it
    at = sc.uses_fd

    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        fds.on_accept(proc, ev, ev.sysargs[at] if len(ev.sysargs) > at else None)
    return handle


def _fd_arg(sc: Syscall) -> Handler:
    param = sc.fd_param or "fd"

    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        fds.by_number(proc, ev, param)
        if ev.fd is None:
            self._fd_from_proc(proc, ev, param)
    return handle


def _plain(fn: Callable[[Process, Event], None]) -> Callable[[Syscall], Handler]:
    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        fn(proc, ev)
    return lambda sc: handle


def _same(handler: Handler) -> Callable[[Syscall], Handler]:
    return lambda sc: handler


# The state's handler registry: a syscall row's `handler` names one; each makes the handler for that
# row (its path and fd parameters).
HANDLER_FACTORIES: dict[HandlerName, Callable[[Syscall], Handler]] = {
    "open": _open, "close": _plain(fds.on_close), "dup": _plain(fds.on_dup), "fcntl": _plain(fds.on_fcntl),
    "socket": _plain(fds.on_socket), "connect": _plain(fds.on_connect), "bind": _plain(fds.on_bind),
    "accept": _accept, "memfd": _plain(fds.on_memfd), "fd": _fd_arg, "exec": _exec, "clone": _same(_clone),
    "chdir": _chdir, "fchdir": _fchdir, "path": _paths, "setid": _same(_setid),
}
HANDLERS: dict[str, Handler] = {sc.name: HANDLER_FACTORIES[sc.handler](sc)
                                for sc in SYSCALLS_X86_64 if sc.handler is not None}
# the events whose socket is the server's end: the kernel's local address is fd.sip for them
SERVER_SIDE = frozenset(sc.name for sc in SYSCALLS_X86_64 if sc.fx & Fx.SERVER)
# the events that make an fd only for some values of an argument (fcntl): their result, which the
# probe describes, is an fd only then
ONLY_SOME_MAKE_FDS = {sc.name: sc for sc in SYSCALLS_X86_64 if sc.fd_values}


class Enricher:
    """The state stage: owns the process table and applies events to it in arrival order."""

    def __init__(self, host_proc: Path = Path("/proc"), table: ProcessTable | None = None,
                 containers: Containers | None = None) -> None:
        # `is None`, not `or`: an empty table is falsy, and an empty one given is still the one to use
        self.table = table if table is not None else ProcessTable(host_proc, containers=containers)

    def _fd_from_proc(self, proc: Process, ev: Event, param: str) -> None:
        """An fd the table does not hold (the kernel filter kept the open that made it, or it was
        opened before the agent started): read from /proc while the process still has it. Only
        for the rare events that act on an existing fd (fchmod, fchown, setns, ...)."""
        num = ev.args.get(param)
        if not isinstance(num, int) or num < 0:
            return
        target = procfs.read_fd(self.table.host_proc, proc.pid, num)
        if target is not None:
            ev.fd = proc.fds[num] = target

    def apply(self, ev: Event) -> Event:
        if ev.type == "procexit":
            # a task never seen before gets a stand-in that is not added to the table
            ev.proc = self.table.on_exit(ev) or Process(
                pid=ev.pid, ppid=0, comm=ev.comm, exe=ev.comm, uid=ev.uid, gid=ev.gid, exited=True)
            return ev
        proc = self.table.lookup(ev)
        ev.proc = proc
        handler = HANDLERS.get(ev.type)
        if handler is not None:
            handler(self, proc, ev)
        some = ONLY_SOME_MAKE_FDS.get(ev.type)
        if ev.kfd is not None and (some is None or some.makes_fd(ev.args)):
            fds.from_kernel(proc, ev, ev.type in SERVER_SIDE)
        return ev
