"""File-descriptor state: what each fd of a process refers to, kept current by fd events."""

from __future__ import annotations

import posixpath

from tiercel.events.model import FAMILY_CHARS, SOCK_L4, Event, Fd, Process
from tiercel.events.syscalls import F_DUPFD, F_DUPFD_CLOEXEC, ROLE_SERVER

AT_FDCWD = -100
O_DIRECTORY = 0o200000
O_TMPFILE = 0o20200000
O_CLOEXEC = 0o2000000   # the descriptor's close-on-exec flag, kept in Fd.openflags for every kind of fd
SOCK_CLOEXEC = O_CLOEXEC
MFD_CLOEXEC = 1
_FAMILY_OF_ADDR = {"inet": "4", "inet6": "6", "unix": "u"}


def resolve(proc: Process, path: str, dirfd: int = AT_FDCWD) -> str:
    """An absolute, lexically normalised path, as libsinsp builds fd.name: relative paths are
    taken from dirfd's directory, or from the cwd."""
    if not path:
        return path
    if path.startswith("/"):
        if "/." not in path and "//" not in path:  # already normal: the common case, kept cheap
            return path[:-1] if len(path) > 1 and path.endswith("/") else path
        return posixpath.normpath(path).replace("//", "/")
    if dirfd == AT_FDCWD:
        base = proc.cwd
    else:
        fd = proc.fds.get(dirfd)
        base = fd.name if fd is not None and fd.name.startswith("/") else proc.cwd
    return posixpath.normpath(posixpath.join(base, path))


def socket_name(fd: Fd) -> str:
    if fd.typechar in ("4", "6"):
        return f"{fd.cip}:{fd.cport}->{fd.sip}:{fd.sport}"
    return fd.name


def on_open(proc: Process, ev: Event, path: str) -> None:
    flags = ev.args.get("flags", 0) or 0
    is_tmpfile = (flags & O_TMPFILE) == O_TMPFILE  # O_TMPFILE includes the O_DIRECTORY bit
    typechar = "d" if flags & O_DIRECTORY and not is_tmpfile else "f"
    fd = Fd(num=ev.res if ev.res is not None else -1, typechar=typechar, name=path, openflags=flags)
    if ev.res is not None and ev.res >= 0:
        proc.fds[ev.res] = fd
    ev.fd = fd


def on_close(proc: Process, ev: Event) -> None:
    num = ev.args.get("fd", -1)
    ev.fd = proc.fds.get(num)
    if ev.res == 0:
        proc.fds.pop(num, None)


def on_dup(proc: Process, ev: Event) -> None:
    # the copy is close-on-exec only if dup3 asks for it, whatever the original is
    _copy(proc, ev, ev.args.get("oldfd", -1), (ev.args.get("flags", 0) or 0) & O_CLOEXEC)


def on_fcntl(proc: Process, ev: Event) -> None:
    """fcntl(F_DUPFD / F_DUPFD_CLOEXEC) copies an fd as dup does (a reverse shell may take that way
    to its dup2); the other commands change nothing the state keeps."""
    cmd = ev.args.get("cmd")
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        _copy(proc, ev, ev.args.get("fd", -1), O_CLOEXEC if cmd == F_DUPFD_CLOEXEC else 0)
    else:
        ev.fd = proc.fds.get(ev.args.get("fd", -1))


def _copy(proc: Process, ev: Event, num: int, cloexec: int) -> None:
    old = proc.fds.get(num)
    if old is not None and ev.res is not None and ev.res >= 0:
        new = Fd(ev.res, old.typechar, old.name, old.openflags & ~O_CLOEXEC | cloexec, old.l4proto,
                 old.cip, old.cport, old.sip, old.sport, old.is_server)
        proc.fds[ev.res] = new
        ev.fd = new
    else:
        ev.fd = old


def on_socket(proc: Process, ev: Event) -> None:
    if ev.res is None or ev.res < 0:
        return
    domain = ev.args.get("domain", 0)
    stype = ev.args.get("type", 0) or 0
    fd = Fd(ev.res, FAMILY_CHARS.get(domain, "o"), l4proto=SOCK_L4.get(stype & 0xF, ""),
            openflags=stype & SOCK_CLOEXEC)
    proc.fds[ev.res] = fd
    ev.fd = fd


def _sock(proc: Process, ev: Event, num: int) -> Fd:
    fd = proc.fds.get(num)
    if fd is None:  # opened before the agent started, or in a way it does not watch
        fd = Fd(num, "o")
        if num >= 0:
            proc.fds[num] = fd
    addr = ev.args.get("addr")
    if addr and fd.typechar == "o":
        fd.typechar = _FAMILY_OF_ADDR.get(addr[0], "o")
    if addr and not fd.l4proto and fd.typechar in ("4", "6"):
        fd.l4proto = "tcp"
    return fd


def _set_address(proc: Process, ev: Event, is_server: bool) -> Fd:
    """connect names the server end; bind names the local end, the server's until it connects out."""
    fd = _sock(proc, ev, ev.args.get("fd", -1))
    addr = ev.args.get("addr")
    if addr and len(addr) == 3:
        fd.sip, fd.sport, fd.is_server = addr[1], addr[2], is_server
        fd.name = socket_name(fd)
    elif addr and len(addr) == 2:
        fd.name = addr[1]
    ev.fd = fd
    return fd


def on_connect(proc: Process, ev: Event) -> None:
    ev.args["tuple"] = _set_address(proc, ev, is_server=False).name


def on_bind(proc: Process, ev: Event) -> None:
    _set_address(proc, ev, is_server=True)


def on_accept(proc: Process, ev: Event, listen_fd: int | None) -> None:
    if ev.res is None or ev.res < 0:
        return
    listener = proc.fds.get(listen_fd) if listen_fd is not None else None
    addr = ev.args.get("tuple")
    if not isinstance(addr, tuple):
        addr = None
    typechar = _FAMILY_OF_ADDR.get(addr[0], "o") if addr else (listener.typechar if listener else "o")
    fd = Fd(ev.res, typechar, l4proto=listener.l4proto if listener else "tcp", is_server=True,
            openflags=(ev.args.get("flags", 0) or 0) & SOCK_CLOEXEC)
    if listener is not None:
        fd.sip, fd.sport = listener.sip, listener.sport
    if addr and len(addr) == 3:
        fd.cip, fd.cport = addr[1], addr[2]
        fd.name = socket_name(fd)
    elif listener is not None:
        fd.name = listener.name
    proc.fds[ev.res] = fd
    ev.fd = fd
    ev.args["tuple"] = fd.name


def on_memfd(proc: Process, ev: Event) -> None:
    if ev.res is not None and ev.res >= 0:
        cloexec = O_CLOEXEC if (ev.args.get("flags", 0) or 0) & MFD_CLOEXEC else 0
        fd = Fd(ev.res, "m", "memfd:" + ev.args.get("name", ""), openflags=cloexec)
        proc.fds[ev.res] = fd
        ev.fd = fd


def by_number(proc: Process, ev: Event, param: str = "fd") -> None:
    """Events that use an fd without changing it (fchdir, fchmod, fchown, setns, finit_module)."""
    ev.fd = proc.fds.get(ev.args.get(param, -1))


def from_kernel(proc: Process, ev: Event, server: bool) -> None:
    """Event.fd from the kernel's own description of it (Event.kfd, live capture): the fd table is a
    cache, and what the kernel said at the event wins over it. `server`: the event's socket is the
    server's end (accept, bind, listen). A file keeps the table's name (the kernel sends a socket's
    ends, not a path); a socket's type, protocol and ends are the kernel's, an address the event
    passed (connect's, when the kernel has none: a failed connect) stays."""
    k = ev.kfd
    if k is None or k.num < 0:
        return
    fd = ev.fd if ev.fd is not None and ev.fd.num == k.num else proc.fds.get(k.num)
    if not k.is_socket:
        if fd is not None and fd.typechar in ("4", "6", "u", "n"):   # the table's entry is stale
            proc.fds.pop(k.num, None)
            if ev.fd is fd:
                ev.fd = None
        return
    typechar = k.typechar
    if fd is None or fd.typechar not in (typechar, "o"):
        fd = Fd(k.num, typechar, openflags=fd.openflags if fd is not None else 0)
    fd.typechar = typechar
    if typechar not in ("4", "6"):
        fd.l4proto = ""                 # libsinsp's <NA>: unix and netlink sockets have none
    else:
        fd.l4proto = k.l4proto
        if k.role:                      # the kernel's: the last connect, accept, bind or listen said
            server = k.role == ROLE_SERVER
        elif not server and not ev.type.startswith("connect") and fd.is_server:
            server = True               # a copy (dup, fcntl) of a server's socket
        local, remote = (k.laddr, k.lport), (k.raddr, k.rport)
        near, far = ("sip", "sport"), ("cip", "cport")
        if not server:
            near, far = far, near
        if local[0]:
            setattr(fd, near[0], local[0])
            setattr(fd, near[1], local[1])
        if remote[0]:
            setattr(fd, far[0], remote[0])
            setattr(fd, far[1], remote[1])
        fd.is_server = server
        fd.name = socket_name(fd)
    proc.fds[k.num] = fd
    ev.fd = fd
    if "tuple" in ev.args and typechar in ("4", "6"):
        ev.args["tuple"] = fd.name
