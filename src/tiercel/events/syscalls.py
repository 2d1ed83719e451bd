"""The syscalls tiercel watches: one row per syscall, read by every stage.

Each row holds what the stages need to know about one syscall, so that a new syscall is one row (plus,
where it changes the state, one handler in state/enrich.py):

- its Falco event name and x86_64 number;
- `category`: what evt.category gives (libsinsp's names: file, net, process, IO_other ...);
- `params`: how its exit event's parameters, in Falco's order and with Falco's names, are built from
  the record. A parameter source is one of:

      res        the return value            a0..a5   a raw argument
      s0 s1 s2   a string slot               addr     the sockaddr read into slot 0
      argv       the argv slot (execve)      -        not captured (left out of evt.args)

- the shape: how the probe reads its user memory (`str0: 1` reads argument 1 as a string into slot 0,
  and so on; `sock`/`socklen` a sockaddr and its length);
- `fx`, `uses_fd` and `fd_values`: what it does to the fd table, like the EF_* flags of libscap's event
  table (see Fx); `uses_fd` is the raw argument holding the fd it acts on;
- `paths`: the parameters naming files, made absolute by the state stage (evt.abspath, then
  evt.abspath.dst), written `param` (against the cwd), `param@dirfd` (against that fd's directory) or
  `=param` (text kept as written: a symlink's target, a mount's device); `a -> b` when the two are
  a source and its target (rename, link, symlink: fs.path.source / fs.path.target);
- `render`: the parameters shown by name, `param=rendering` (a table of events/flags.py; `user` and
  `group` for user and group ids);
- `handler`: the state stage's handler for it (state/enrich.py), when it changes the state or needs a
  path or fd resolved.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

SHAPE_PLAIN, SHAPE_EXEC, SHAPE_CLONE, SHAPE_EXIT = 0, 1, 2, 3
NONE = 0xFF
RET = 0xFE      # shape.fd: the fd the probe describes is the return value
ROLE_NONE, ROLE_CLIENT, ROLE_SERVER = 0, 1, 2   # probe/events.h enum sock_role
F_DUPFD, F_DUPFD_CLOEXEC = 0, 1030      # the kernel's numbers of the fcntl commands that copy an fd


class Fx(enum.Flag):
    """What a syscall does to the fd table and the process table (libscap's EF_* event flags)."""

    NONE = 0
    CREATES_FD = enum.auto()     # its return value is a new fd (EF_CREATES_FD)
    DESTROYS_FD = enum.auto()    # it closes the fd it uses (EF_DESTROYS_FD)
    COPIES_FD = enum.auto()      # the new fd is a copy of the one it uses (dup, fcntl): of any kind
    NAMES_SOCKET = enum.auto()   # it sets the address of the socket it uses (connect, bind)
    SOCKET = enum.auto()         # the fd it creates or uses is a socket
    SERVER = enum.auto()         # that socket is the server's end (accept, bind, listen)
    CONNECTION = enum.auto()     # the socket it makes is a connection's end, taken from a listening
    #                              stream or seqpacket socket (accept): never datagram, raw or ICMP
    PROCESS = enum.auto()        # the process table needs every record of it (exec, clone, exit, cwd)


# The state stage's handlers (state/enrich.py HANDLER_FACTORIES): one per way of changing the state.
HandlerName = Literal["open", "close", "dup", "fcntl", "socket", "connect", "bind", "accept", "memfd",
                      "fd", "exec", "clone", "chdir", "fchdir", "path", "setid"]


@dataclass(frozen=True, slots=True)
class PathArg:
    """A parameter naming a file."""

    param: str
    dirfd: str | None = None     # the parameter whose directory a relative path is taken from
    verbatim: bool = False       # stored text, not resolved (a symlink's target, a mount's device)


@dataclass(frozen=True, slots=True)
class Syscall:
    name: str
    nr: int
    params: tuple[tuple[str, str], ...]
    kind: int = SHAPE_PLAIN
    str0: int = NONE
    str1: int = NONE
    str2: int = NONE
    sock: int = NONE
    socklen: int = NONE
    socklen_ptr: bool = False
    tracepoint: str = ""  # the kernel's tracepoint name when it differs (umount2 -> umount)
    category: str = "other"
    fx: Fx = Fx.NONE
    uses_fd: int = NONE          # the raw argument holding the fd it acts on (EF_USES_FD)
    fd_values: frozenset[int] = frozenset()  # it creates an fd only for these values of its enum argument
    fd_values_param: str = ""    # ... that argument's parameter
    paths: tuple[PathArg, ...] = ()
    source_target: bool = False  # its two paths are a source and its target (rename, link, symlink)
    render: tuple[tuple[str, str], ...] = ()
    handler: HandlerName | None = None

    @property
    def tp(self) -> str:
        return self.tracepoint or self.name

    @property
    def fd_param(self) -> str | None:
        """The parameter holding the fd it acts on; None when Falco's event has none (accept's
        listening socket: Event.sysargs holds it)."""
        if self.uses_fd == NONE:
            return None
        return next((p for p, src in self.params if src == f"a{self.uses_fd}"), None)

    def makes_fd(self, args: dict[str, object]) -> bool:
        """Whether this event (its parameters) created an fd: fcntl only for its copying commands."""
        return bool(self.fx & Fx.CREATES_FD) and (
            not self.fd_values or args.get(self.fd_values_param) in self.fd_values)

    @property
    def described_fd(self) -> int:
        """The fd the probe describes from the task's file table at the event (probe: fd_describe):
        RET for the fd a socket call or a copy makes, the argument index of the socket it uses, or
        NONE. These are the events whose fd fields a rule reads on a socket; an open's file is its
        own path argument."""
        if not self.fx & (Fx.SOCKET | Fx.COPIES_FD):
            return NONE
        return RET if self.fx & Fx.CREATES_FD else self.uses_fd

    @property
    def role(self) -> int:
        """Which end its socket is once it succeeds (probe/events.h enum sock_role): the server's for
        accept, bind and listen, the client's for connect, none for the others."""
        if self.fx & Fx.SERVER:
            return ROLE_SERVER
        return ROLE_CLIENT if self.fx & Fx.NAMES_SOCKET else ROLE_NONE

    def shape_bytes(self) -> bytes:
        """The probe's `struct shape` for this syscall (probe/events.h)."""
        return bytes([self.kind, self.str0, self.str1, self.str2, self.sock, self.socklen,
                      int(self.socklen_ptr), self.described_fd, self.role, 0, 0, 0, 0, 0, 0, 0])


def _path(token: str) -> PathArg:
    verbatim = token.startswith("=")
    param, _, dirfd = token.lstrip("=").partition("@")
    return PathArg(param, dirfd or None, verbatim)


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((a, b) for a, _, b in (word.partition("=") for word in text.split()))


def _sc(name: str, nr: int, category: str, params: str, *, fx: Fx = Fx.NONE, uses_fd: int = NONE,
        fd_values: tuple[int, ...] = (), paths: str = "", render: str = "",
        handler: HandlerName | None = None, **shape: int | bool | str) -> Syscall:
    tokens = paths.split()
    return Syscall(name, nr, _pairs(params), category=category, fx=fx, uses_fd=uses_fd,
                   fd_values=frozenset(fd_values), paths=tuple(_path(t) for t in tokens if t != "->"),
                   source_target="->" in tokens, render=_pairs(render), handler=handler,
                   **shape)  # type: ignore[arg-type]


_COPY = Fx.CREATES_FD | Fx.COPIES_FD       # dup, fcntl: a new fd, a copy of the one used
_SOCKET_ADDR = Fx.NAMES_SOCKET | Fx.SOCKET  # connect, bind
_NEW_SOCKET = Fx.CREATES_FD | Fx.SOCKET   # socket, accept

SYSCALLS_X86_64: tuple[Syscall, ...] = (
    _sc("open", 2, "file", "fd=res name=s0 flags=a1 mode=a2", str0=0,
        fx=Fx.CREATES_FD, paths="name", render="flags=open_flags", handler="open"),
    _sc("openat", 257, "file", "fd=res dirfd=a0 name=s0 flags=a2 mode=a3", str0=1,
        fx=Fx.CREATES_FD, paths="name@dirfd", render="flags=open_flags", handler="open"),
    # the probe puts open_how's flags, mode and resolve in arguments 2-4 (probe: read_open_how)
    _sc("openat2", 437, "file", "fd=res dirfd=a0 name=s0 flags=a2 mode=a3 resolve=a4", str0=1,
        fx=Fx.CREATES_FD, paths="name@dirfd", render="flags=open_flags resolve=openat2_resolve",
        handler="open"),
    _sc("creat", 85, "file", "fd=res name=s0 mode=a1", str0=0,
        fx=Fx.CREATES_FD, paths="name", render="creat_flags=file_flags", handler="open"),
    _sc("close", 3, "IO_other", "res=res fd=a0", fx=Fx.DESTROYS_FD, uses_fd=0, handler="close"),
    _sc("dup", 32, "IO_other", "res=res oldfd=a0", fx=_COPY, uses_fd=0, handler="dup"),
    _sc("dup2", 33, "IO_other", "res=res oldfd=a0 newfd=a1", fx=_COPY, uses_fd=0, handler="dup"),
    _sc("dup3", 292, "IO_other", "res=res oldfd=a0 newfd=a1 flags=a2",
        fx=_COPY, uses_fd=0, render="flags=file_flags", handler="dup"),
    _sc("fcntl", 72, "IO_other", "res=res fd=a0 cmd=a1 arg=a2", fx=_COPY, uses_fd=0,
        fd_values=(F_DUPFD, F_DUPFD_CLOEXEC), fd_values_param="cmd", render="cmd=fcntl_cmd", handler="fcntl"),
    _sc("socket", 41, "net", "fd=res domain=a0 type=a1 proto=a2",
        fx=_NEW_SOCKET, render="domain=socket_family flags=file_flags", handler="socket"),
    _sc("connect", 42, "net", "res=res tuple=- fd=a0 addr=addr", sock=1, socklen=2,
        fx=_SOCKET_ADDR, uses_fd=0, handler="connect"),
    _sc("bind", 49, "net", "res=res addr=addr fd=a0", sock=1, socklen=2,
        fx=_SOCKET_ADDR | Fx.SERVER, uses_fd=0, handler="bind"),
    _sc("listen", 50, "net", "res=res fd=a0 backlog=a1", fx=Fx.SOCKET | Fx.SERVER, uses_fd=0, handler="fd"),
    _sc("accept", 43, "net", "fd=res tuple=addr", sock=1, socklen=2, socklen_ptr=True,
        fx=_NEW_SOCKET | Fx.SERVER | Fx.CONNECTION, uses_fd=0, handler="accept"),
    _sc("accept4", 288, "net", "fd=res tuple=addr flags=a3", sock=1, socklen=2, socklen_ptr=True,
        fx=_NEW_SOCKET | Fx.SERVER | Fx.CONNECTION, uses_fd=0, handler="accept"),
    _sc("execve", 59, "process", "res=res exe=- args=argv filename=s0", kind=SHAPE_EXEC, str0=0, str1=1,
        fx=Fx.PROCESS, paths="filename", render="flags=execve_flags", handler="exec"),
    _sc("execveat", 322, "process", "res=res exe=- args=argv dirfd=a0 filename=s0 flags=a4",
        kind=SHAPE_EXEC, str0=1, str1=2,
        fx=Fx.PROCESS, paths="filename@dirfd", render="flags=execve_flags", handler="exec"),
    # a clone-shaped record carries the new task's flags (the probe's sched_process_fork record)
    _sc("clone", 56, "process", "res=res flags=a0", kind=SHAPE_CLONE,
        fx=Fx.PROCESS, render="flags=clone_flags", handler="clone"),
    _sc("clone3", 435, "process", "res=res", kind=SHAPE_CLONE,
        fx=Fx.PROCESS, render="flags=clone_flags", handler="clone"),
    _sc("fork", 57, "process", "res=res", kind=SHAPE_CLONE,
        fx=Fx.PROCESS, render="flags=clone_flags", handler="clone"),
    _sc("vfork", 58, "process", "res=res", kind=SHAPE_CLONE,
        fx=Fx.PROCESS, render="flags=clone_flags", handler="clone"),
    _sc("exit", 60, "other", "status=a0", kind=SHAPE_EXIT, fx=Fx.PROCESS),
    _sc("exit_group", 231, "other", "status=a0", kind=SHAPE_EXIT, fx=Fx.PROCESS),
    _sc("unlink", 87, "file", "res=res path=s0", str0=0, paths="path", handler="path"),
    _sc("unlinkat", 263, "file", "res=res dirfd=a0 name=s0 flags=a2", str0=1,
        paths="name@dirfd", render="flags=unlinkat_flags", handler="path"),
    _sc("rename", 82, "file", "res=res oldpath=s0 newpath=s1", str0=0, str1=1,
        paths="oldpath -> newpath", handler="path"),
    _sc("renameat", 264, "file", "res=res olddirfd=a0 oldpath=s0 newdirfd=a2 newpath=s1", str0=1, str1=3,
        paths="oldpath@olddirfd -> newpath@newdirfd", handler="path"),
    _sc("renameat2", 316, "file", "res=res olddirfd=a0 oldpath=s0 newdirfd=a2 newpath=s1 flags=a4",
        str0=1, str1=3,
        paths="oldpath@olddirfd -> newpath@newdirfd", render="flags=renameat2_flags", handler="path"),
    _sc("mkdir", 83, "file", "res=res path=s0 mode=a1", str0=0, paths="path", handler="path"),
    _sc("mkdirat", 258, "file", "res=res dirfd=a0 path=s0 mode=a2", str0=1,
        paths="path@dirfd", handler="path"),
    _sc("rmdir", 84, "file", "res=res path=s0", str0=0, paths="path", handler="path"),
    _sc("symlink", 88, "file", "res=res target=s0 linkpath=s1", str0=0, str1=1,
        paths="=target -> linkpath", handler="path"),
    _sc("symlinkat", 266, "file", "res=res target=s0 linkdirfd=a1 linkpath=s1", str0=0, str1=2,
        paths="=target -> linkpath@linkdirfd", handler="path"),
    _sc("link", 86, "file", "res=res oldpath=s0 newpath=s1", str0=0, str1=1,
        paths="oldpath -> newpath", handler="path"),
    _sc("linkat", 265, "file", "res=res olddir=a0 oldpath=s0 newdir=a2 newpath=s1 flags=a4", str0=1, str1=3,
        paths="oldpath@olddir -> newpath@newdir", render="flags=linkat_flags", handler="path"),
    _sc("chmod", 90, "file", "res=res filename=s0 mode=a1", str0=0,
        paths="filename", render="mode=chmod_mode", handler="path"),
    _sc("fchmod", 91, "file", "res=res fd=a0 mode=a1", uses_fd=0, render="mode=chmod_mode", handler="fd"),
    _sc("fchmodat", 268, "file", "res=res dirfd=a0 filename=s0 mode=a2", str0=1,
        paths="filename@dirfd", render="mode=chmod_mode", handler="path"),
    _sc("chown", 92, "file", "res=res path=s0 uid=a1 gid=a2", str0=0, paths="path", handler="path"),
    _sc("lchown", 94, "file", "res=res path=s0 uid=a1 gid=a2", str0=0, paths="path", handler="path"),
    _sc("fchown", 93, "file", "res=res fd=a0 uid=a1 gid=a2", uses_fd=0, handler="fd"),
    _sc("fchownat", 260, "file", "res=res dirfd=a0 pathname=s0 uid=a2 gid=a3 flags=a4", str0=1,
        paths="pathname@dirfd", render="flags=fchownat_flags", handler="path"),
    _sc("setuid", 105, "user", "res=res uid=a0", render="uid=user", handler="setid"),
    _sc("setgid", 106, "user", "res=res gid=a0", render="gid=group", handler="setid"),
    _sc("setreuid", 113, "user", "res=res ruid=a0 euid=a1", render="ruid=user euid=user", handler="setid"),
    _sc("setregid", 114, "user", "res=res rgid=a0 egid=a1", render="rgid=group egid=group",
        handler="setid"),
    _sc("setresuid", 117, "user", "res=res ruid=a0 euid=a1 suid=a2",
        render="ruid=user euid=user suid=user", handler="setid"),
    _sc("setresgid", 119, "user", "res=res rgid=a0 egid=a1 sgid=a2",
        render="rgid=group egid=group sgid=group", handler="setid"),
    _sc("ptrace", 101, "process", "res=res addr=a2 data=a3 request=a0 pid=a1",
        render="request=ptrace_request"),
    _sc("mount", 165, "file", "res=res dev=s0 dir=s1 type=s2 flags=a3", str0=0, str1=1, str2=2,
        paths="=dev dir", render="flags=mount_flags", handler="path"),
    _sc("umount2", 166, "file", "res=res name=s0 flags=a1", str0=0, tracepoint="umount",
        paths="name", render="flags=umount_flags", handler="path"),
    _sc("chdir", 80, "file", "res=res path=s0", str0=0, fx=Fx.PROCESS, paths="path", handler="chdir"),
    _sc("fchdir", 81, "file", "res=res fd=a0", fx=Fx.PROCESS, uses_fd=0, handler="fchdir"),
    _sc("memfd_create", 319, "memory", "fd=res name=s0 flags=a1", str0=0,
        fx=Fx.CREATES_FD, render="flags=memfd_create_flags", handler="memfd"),
    _sc("init_module", 175, "other", "res=res length=a1 uargs=s0", str0=2),
    _sc("finit_module", 313, "other", "res=res fd=a0 uargs=s0 flags=a2", str0=1, uses_fd=0, handler="fd"),
    _sc("setns", 308, "process", "res=res fd=a0 nstype=a1", uses_fd=0, render="nstype=clone_flags",
        handler="fd"),
    _sc("unshare", 272, "process", "res=res flags=a0", render="flags=clone_flags"),
)


def having(fx: Fx, rows: tuple[Syscall, ...] = SYSCALLS_X86_64) -> frozenset[str]:
    """The syscalls whose row has every effect of `fx`."""
    return frozenset(s.name for s in rows if fx in s.fx)


# Syscalls the process state needs whatever the rules ask for.
STATE_SYSCALLS = having(Fx.PROCESS)
# Syscalls that change the fd table: they make, close or name an fd.
FD_STATE_SYSCALLS = having(Fx.CREATES_FD) | having(Fx.DESTROYS_FD) | having(Fx.NAMES_SOCKET)
# Fd-state syscalls `tiercel run` leaves out when no rule asks for them: an fd closed unseen is
# overwritten when its number is reused, and the periodic sweep of /proc removes the rest (state.fdsweep).
FD_OPTIONAL_SYSCALLS = having(Fx.DESTROYS_FD)
# The open family: the syscalls the state applies as opens (a path becomes a new file fd).
OPEN_FAMILY = frozenset(s.name for s in SYSCALLS_X86_64 if s.handler == "open")


class SyscallTable:
    """Lookup by number and by name for one architecture."""

    def __init__(self, entries: tuple[Syscall, ...] = SYSCALLS_X86_64) -> None:
        self.entries = entries
        self.by_nr = {s.nr: s for s in entries}
        self.by_name = {s.name: s for s in entries}

    def nr(self, name: str) -> int:
        return self.by_name[name].nr
