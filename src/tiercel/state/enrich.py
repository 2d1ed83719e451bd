"""Apply each event to the state and attach what the rules read: Event.proc, Event.fd, abspaths.

One handler per event type, in a table; an event type without a handler only gets its process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tiercel.container.registry import Containers
from tiercel.events.model import Event, Process
from tiercel.state import fds, procfs
from tiercel.state.processes import ProcessTable

Handler = Callable[["Enricher", Process, Event], None]


def _path(ev: Event, proc: Process, name: str, dirfd_name: str | None = None) -> str:
    raw = ev.args.get(name)
    if not isinstance(raw, str):
        return ""
    dirfd = ev.args.get(dirfd_name, fds.AT_FDCWD) if dirfd_name else fds.AT_FDCWD
    return fds.resolve(proc, raw, dirfd)


def _open(dirfd: str | None) -> Handler:
    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        ev.abspath = _path(ev, proc, "name", dirfd)
        # opened through a link to a place a rule names: the file is known by that place's name
        fds.on_open(proc, ev, ev.realpath or ev.abspath)
    return handle


def _one_path(name: str, dirfd: str | None = None) -> Handler:
    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        ev.abspath = _path(ev, proc, name, dirfd)
    return handle


def _two_paths(src: str, dst: str, src_dirfd: str | None = None, dst_dirfd: str | None = None,
               src_is_path: bool = True) -> Handler:
    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        # a symlink's target is stored text, not a path to resolve
        ev.abspath = _path(ev, proc, src, src_dirfd) if src_is_path else ev.args.get(src)
        ev.abspath_dst = _path(ev, proc, dst, dst_dirfd)
    return handle


def _exec(self: Enricher, proc: Process, ev: Event) -> None:
    dirfd = "dirfd" if ev.type == "execveat" else None
    ev.abspath = _path(ev, proc, "filename", dirfd)
    if ev.res == 0:
        self.table.on_exec(proc, ev, ev.abspath)


def _clone(self: Enricher, proc: Process, ev: Event) -> None:
    if ev.res is not None and ev.res > 0:
        self.table.on_clone(ev, proc)


def _chdir(self: Enricher, proc: Process, ev: Event) -> None:
    path = _path(ev, proc, "path")
    ev.abspath = path
    if ev.res == 0 and path:
        proc.cwd = path if path.endswith("/") else path + "/"


def _fchdir(self: Enricher, proc: Process, ev: Event) -> None:
    fds.by_number(proc, ev)
    if ev.res == 0 and ev.fd is not None and ev.fd.name.startswith("/"):
        proc.cwd = ev.fd.name if ev.fd.name.endswith("/") else ev.fd.name + "/"


def _setid(self: Enricher, proc: Process, ev: Event) -> None:
    if ev.res == 0:
        self.table.on_setid(proc, ev)


def _accept(self: Enricher, proc: Process, ev: Event) -> None:
    fds.on_accept(proc, ev, ev.sysargs[0] if ev.sysargs else None)


def _fd_arg(param: str) -> Handler:
    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        fds.by_number(proc, ev, param)
        if ev.fd is None:
            self._fd_from_proc(proc, ev, param)
    return handle


def _plain(fn: Callable[[Process, Event], None]) -> Handler:
    def handle(self: Enricher, proc: Process, ev: Event) -> None:
        fn(proc, ev)
    return handle


HANDLERS: dict[str, Handler] = {
    "open": _open(None), "openat": _open("dirfd"), "openat2": _open("dirfd"), "creat": _open(None),
    "close": _plain(fds.on_close), "dup": _plain(fds.on_dup), "dup2": _plain(fds.on_dup),
    "dup3": _plain(fds.on_dup), "fcntl": _plain(fds.on_fcntl), "socket": _plain(fds.on_socket),
    "connect": _plain(fds.on_connect),
    "bind": _plain(fds.on_bind), "listen": _fd_arg("fd"), "accept": _accept, "accept4": _accept,
    "memfd_create": _plain(fds.on_memfd),
    "execve": _exec, "execveat": _exec,
    "clone": _clone, "clone3": _clone, "fork": _clone, "vfork": _clone,
    "chdir": _chdir, "fchdir": _fchdir,
    "unlink": _one_path("path"), "unlinkat": _one_path("name", "dirfd"),
    "mkdir": _one_path("path"), "mkdirat": _one_path("path", "dirfd"), "rmdir": _one_path("path"),
    "chmod": _one_path("filename"), "fchmodat": _one_path("filename", "dirfd"),
    "chown": _one_path("path"), "lchown": _one_path("path"), "fchownat": _one_path("pathname", "dirfd"),
    "fchmod": _fd_arg("fd"), "fchown": _fd_arg("fd"), "setns": _fd_arg("fd"), "finit_module": _fd_arg("fd"),
    "rename": _two_paths("oldpath", "newpath"),
    "renameat": _two_paths("oldpath", "newpath", "olddirfd", "newdirfd"),
    "renameat2": _two_paths("oldpath", "newpath", "olddirfd", "newdirfd"),
    "link": _two_paths("oldpath", "newpath"),
    "linkat": _two_paths("oldpath", "newpath", "olddir", "newdir"),
    "symlink": _two_paths("target", "linkpath", src_is_path=False),
    "symlinkat": _two_paths("target", "linkpath", None, "linkdirfd", src_is_path=False),
    "mount": _two_paths("dev", "dir", src_is_path=False), "umount2": _one_path("name"),
    "setuid": _setid, "setgid": _setid, "setreuid": _setid, "setregid": _setid,
    "setresuid": _setid, "setresgid": _setid,
}


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
        return ev
