"""Builders for processes, fds, containers and events of each kind.

Every event builder makes one of two kinds of event:

- raw (no `proc=`): what the decoder hands the state stage. Who did it (pid, tid, comm, uid, gid),
  the arguments under Falco's names and in the kernel's values (open flags, clone flags, AT_FDCWD =
  -100), the return value; no process, no fd, no abspath. Feed these to `Enricher.apply`.
- enriched (`proc=` given): what the state stage hands the rules. The event also carries the
  process, its path arguments made absolute against the process's cwd and fds (evt.abspath), and,
  for the open family, the new fd. The process itself is not changed. Pass `fd=` to attach any
  other descriptor (a socket, a dup'd fd).

`syscall(name, args)` builds any syscall of the table from its row (parameter order, raw arguments,
paths); the builders below are shorthands for the common ones, with their usual defaults.

Who did it is given as keywords (`Who`): `proc`, or `pid`/`tid`/`comm`/`uid`/`gid`, and the event's
own `num`, `ts`, `cpu`. Unset, they come from `proc`, else pid 100 (tid = pid), uid 0, evt.num 1,
ts T0.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict, Unpack

from tiercel.events.model import DIR_ENTER, DIR_EXIT, Container, Event, Fd, Process
from tiercel.events.syscalls import PathArg, SyscallTable
from tiercel.state import fds as state_fds

SEC = 1_000_000_000
T0 = 1_700_000_000 * SEC          # 2023-11-14T22:13:20Z: the default evt.rawtime

O_RDONLY, O_WRONLY, O_RDWR = 0, 0o1, 0o2
O_CREAT, O_TRUNC, O_APPEND = 0o100, 0o1000, 0o2000
O_DIRECTORY, O_CLOEXEC = 0o200000, 0o2000000
AT_FDCWD = -100
CLONE_FILES, CLONE_THREAD = 0x400, 0x10000
PTHREAD_FLAGS = 0x3D0F00          # what glibc's pthread_create passes (CLONE_VM|CLONE_FS|CLONE_FILES|...)
O_TMPFILE = 0o20200000
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET = 1, 2, 10, 16, 17
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, O_CLOEXEC   # or'ed into socket()'s type, accept4()'s flags
MFD_CLOEXEC = 1
DEFAULT_PID = 100


# ---- processes, fds, containers ------------------------------------------------------------------

def container(id: str = "0123456789ab", *, full_id: str = "", type: str = "", name: str = "",
              image: str = "", image_repository: str = "", image_tag: str = "",
              privileged: bool | None = None, labels: Mapping[str, str] | None = None,
              mounts: Iterable[Mapping[str, Any]] = ()) -> Container:
    """A container as the runtime's metadata describes it (unset fields: the model's defaults)."""
    return Container(id=id, full_id=full_id, type=type, name=name, image=image,
                     image_repository=image_repository, image_tag=image_tag, privileged=privileged,
                     labels=dict(labels or {}), mounts=[dict(m) for m in mounts])


def mount(source: str, destination: str, *, rw: bool = False) -> dict[str, Any]:
    """One entry of Container.mounts, in the Docker API's shape."""
    return {"Source": source, "Destination": destination, "Mode": "rw" if rw else "ro", "RW": rw,
            "Propagation": "rprivate"}


def process(comm: str = "", *, pid: int = DEFAULT_PID, ppid: int | None = None,
            parent: Process | None = None, vpid: int = 0, exe: str | None = None,
            exepath: str | None = None, args: Sequence[str] = (), cwd: str = "/", uid: int = 0,
            gid: int = 0, user: str = "", group: str = "", loginuid: int = -1, loginname: str = "",
            tty: int = 0, start_ts: int = 0, container: Container | None = None,
            fds: Iterable[Fd] = (), threads: Iterable[int] = ()) -> Process:
    """A process. Derived when not given: comm from the executable's name (at most 15 bytes, like
    the kernel's), exepath /usr/bin/<comm>, exe (argv[0]) = comm, ppid from the parent, container_id
    from the container; cwd gets its trailing '/' like the state's."""
    if not comm:
        if not exepath:
            raise ValueError("process(): give comm or exepath")
        comm = posixpath.basename(exepath)[:15]
    return Process(
        pid=pid, ppid=ppid if ppid is not None else (parent.pid if parent else 0), vpid=vpid,
        comm=comm, exe=exe if exe is not None else comm,
        exepath=exepath if exepath is not None else f"/usr/bin/{comm}", args=list(args),
        cwd=cwd if cwd.endswith("/") else cwd + "/", uid=uid, gid=gid, user=user, group=group,
        loginuid=loginuid, loginname=loginname, tty=tty, start_ts=start_ts, parent=parent,
        fds={fd.num: fd for fd in fds}, threads=set(threads),
        container_id=container.id if container else "", container=container)


def file_fd(name: str, num: int = 3, *, flags: int = 0, dev: int = 0, ino: int = 0) -> Fd:
    return Fd(num, "f", name, openflags=flags, dev=dev, ino=ino)


def dir_fd(name: str, num: int = 3, *, flags: int = 0) -> Fd:
    return Fd(num, "d", name, openflags=flags)


def socket_fd(num: int = 3, *, cip: str = "", cport: int = 0, sip: str = "", sport: int = 0,
              l4proto: str = "tcp", server: bool = False) -> Fd:
    """An IP socket's fd, named `cip:cport->sip:sport` like fd.name (IPv6 when an address has ':')."""
    fd = Fd(num, "6" if ":" in cip + sip else "4", l4proto=l4proto, cip=cip, cport=cport, sip=sip,
            sport=sport, is_server=server)
    fd.name = state_fds.socket_name(fd)
    return fd


def unix_fd(name: str, num: int = 3) -> Fd:
    return Fd(num, "u", name)


def pipe_fd(num: int = 3) -> Fd:
    return Fd(num, "p")


def inet(ip: str, port: int) -> tuple[str, str, int]:
    """A socket address as the decoder gives it (evt.arg.addr, accept's tuple)."""
    return ("inet6" if ":" in ip else "inet", ip, port)


def unix(path: str) -> tuple[str, str]:
    return ("unix", path)


# ---- events --------------------------------------------------------------------------------------

class Who(TypedDict, total=False):
    """Who did it, and the event's own number, time and cpu."""

    proc: Process
    pid: int
    tid: int
    comm: str
    uid: int
    gid: int
    num: int
    ts: int
    cpu: int


def _base(etype: str, args: Mapping[str, Any], res: int | None, who: Who, *,
          direction: str = DIR_EXIT, comm: str = "") -> Event:
    proc = who.get("proc")
    pid = who.get("pid", proc.pid if proc else DEFAULT_PID)
    return Event(num=who.get("num", 1), ts=who.get("ts", T0), type=etype, dir=direction,
                 tid=who.get("tid", pid), pid=pid, cpu=who.get("cpu", 0),
                 uid=who.get("uid", proc.uid if proc else 0), gid=who.get("gid", proc.gid if proc else 0),
                 comm=who.get("comm", proc.comm if proc else comm), res=res, args=dict(args), proc=proc)


def _abspath(ev: Event, path: str, dirfd: int = AT_FDCWD) -> str | None:
    return state_fds.resolve(ev.proc, path, dirfd) if ev.proc is not None else None


def event(etype: str, args: Mapping[str, Any] | None = None, *, res: int | None = 0, fd: Fd | None = None,
          abspath: str | None = None, abspath_dst: str | None = None, direction: str = DIR_EXIT,
          sysargs: tuple[int, ...] = (), cgroup: str | None = None, vpid: int = 0, tty: int | None = None,
          **who: Unpack[Who]) -> Event:
    """Any event, exactly as given: nothing is derived but who did it."""
    ev = _base(etype, args or {}, res, who, direction=direction)
    ev.fd, ev.abspath, ev.abspath_dst = fd, abspath, abspath_dst
    ev.sysargs, ev.cgroup, ev.vpid, ev.tty = sysargs, cgroup, vpid, tty
    return ev


def execve(filename: str, args: Sequence[str] = (), *, exe: str | None = None, res: int = 0,
           cgroup: str | None = None, vpid: int = 0, tty: int | None = None, truncated: bool = False,
           **who: Unpack[Who]) -> Event:
    """execve's exit: the new program's argv[0] (`exe`, default the file's name) and arguments; the
    task's comm is already the new program's."""
    name = posixpath.basename(filename)
    argv: dict[str, Any] = {"res": res, "exe": exe if exe is not None else name, "args": list(args),
                            "filename": filename}
    if truncated:
        argv["args_truncated"] = True
    ev = _base("execve", argv, res, who, comm=name[:15])
    ev.cgroup, ev.vpid, ev.tty = cgroup, vpid, tty
    ev.abspath = _abspath(ev, filename)
    return ev


def clone(child: int, *, flags: int = 0, syscall: str = "clone", **who: Unpack[Who]) -> Event:
    """A task was created (the probe's sched_process_fork record): `child` is its tid, the event
    is the parent's."""
    ev = _base(syscall, {}, child, who)
    ev.args = {"res": child, "flags": flags, "child_pid": ev.pid if flags & CLONE_THREAD else child}
    return ev


def fork(child: int, **who: Unpack[Who]) -> Event:
    return clone(child, syscall="fork", **who)


def thread(child: int, **who: Unpack[Who]) -> Event:
    """pthread_create: a new thread of the same process."""
    return clone(child, flags=PTHREAD_FLAGS, **who)


def procexit(status: int = 0, **who: Unpack[Who]) -> Event:
    """A task ended (one per thread)."""
    return _base("procexit", {"status": status}, None, who, direction=DIR_ENTER)


def syscall(name: str, args: Mapping[str, Any] | None = None, /, *, res: int = 0, fd: Fd | None = None,
            uses_fd: int | None = None, **who: Unpack[Who]) -> Event:
    """Any syscall of the table (events/syscalls.py), laid out by its row as the decoder lays it out.

    `args` under Falco's parameter names, in the kernel's values; the parameter the return value fills
    comes from `res`. A parameter not given is the kernel's zero (AT_FDCWD for a dirfd, "" for a
    string, no address); one the probe does not capture (`-`) is left out unless given. Event.sysargs
    holds the arguments the row reads from registers, and `uses_fd` for the fd the call acts on when no
    parameter holds it (accept's listening socket). Enriched (`proc=`): evt.abspath and evt.abspath.dst
    from the row's paths; `fd=` attaches a descriptor."""
    row = _TABLE.by_name[name]
    given = dict(args or {})
    unknown = given.keys() - dict(row.params).keys()
    if unknown:
        raise ValueError(f"{name} has no parameter {', '.join(sorted(unknown))}")
    dirfds = {p.dirfd for p in row.paths}
    out: dict[str, Any] = {}
    raw = [0] * 6
    for param, src in row.params:
        index = int(src[1]) if src[0] == "a" and src[1:].isdigit() else None
        if src == "res":
            out[param] = res
        elif param in given:
            out[param] = given[param]
        elif src != "-":
            out[param] = _ZERO.get(src, AT_FDCWD if param in dirfds else 0)
        if index is not None and isinstance(out.get(param), int):
            raw[index] = out[param]
    if uses_fd is not None:
        raw[row.uses_fd] = uses_fd
    ev = _base(name, out, res, who)
    ev.sysargs, ev.fd = tuple(raw), fd
    if ev.proc is not None and row.paths:
        ev.abspath = _row_path(ev, row.paths[0])
        if len(row.paths) > 1:
            ev.abspath_dst = _row_path(ev, row.paths[1])
    return ev


_TABLE = SyscallTable()
_ZERO: dict[str, Any] = {"s0": "", "s1": "", "s2": "", "argv": [], "addr": None}


def _row_path(ev: Event, path: PathArg) -> str | None:
    value = ev.args.get(path.param)
    if path.verbatim or not isinstance(value, str):
        return value if isinstance(value, str) else None
    return _abspath(ev, value, ev.args.get(path.dirfd, AT_FDCWD) if path.dirfd else AT_FDCWD)


def openat(path: str, *, flags: int = O_RDONLY, mode: int = 0, dirfd: int = AT_FDCWD, res: int = 3,
           fd: Fd | None = None, **who: Unpack[Who]) -> Event:
    ev = syscall("openat", {"dirfd": dirfd, "name": path, "flags": flags, "mode": mode}, res=res, **who)
    return _opened(ev, fd)


def open_(path: str, *, flags: int = O_RDONLY, mode: int = 0, res: int = 3, fd: Fd | None = None,
          **who: Unpack[Who]) -> Event:
    """open(2), which has no dirfd."""
    ev = syscall("open", {"name": path, "flags": flags, "mode": mode}, res=res, **who)
    return _opened(ev, fd)


def _opened(ev: Event, fd: Fd | None) -> Event:
    if fd is not None:
        ev.fd = fd
    elif ev.abspath is not None:
        # the state's own rule for the new fd, applied to a scratch process so `proc` stays as given
        state_fds.on_open(Process(pid=ev.pid, ppid=0), ev, ev.abspath)
    return ev


def close(num: int, /, *, res: int = 0, fd: Fd | None = None, **who: Unpack[Who]) -> Event:
    return syscall("close", {"fd": num}, res=res, fd=fd, **who)


def dup(oldfd: int, *, res: int, fd: Fd | None = None, **who: Unpack[Who]) -> Event:
    return syscall("dup", {"oldfd": oldfd}, res=res, fd=fd, **who)


def fcntl(fd_num: int, cmd: int, *, res: int, arg: int = 0, **who: Unpack[Who]) -> Event:
    """fcntl(fd, cmd, arg) as the live decoder gives it (cmd in the kernel's numbers)."""
    return syscall("fcntl", {"fd": fd_num, "cmd": cmd, "arg": arg}, res=res, **who)


def dup2(oldfd: int, newfd: int, *, res: int | None = None, fd: Fd | None = None,
         **who: Unpack[Who]) -> Event:
    return syscall("dup2", {"oldfd": oldfd, "newfd": newfd}, res=newfd if res is None else res, fd=fd, **who)


def dup3(oldfd: int, newfd: int, *, flags: int = 0, res: int | None = None, fd: Fd | None = None,
         **who: Unpack[Who]) -> Event:
    return syscall("dup3", {"oldfd": oldfd, "newfd": newfd, "flags": flags},
                   res=newfd if res is None else res, fd=fd, **who)


def socket(domain: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0, *, res: int = 3,
           fd: Fd | None = None, **who: Unpack[Who]) -> Event:
    return syscall("socket", {"domain": domain, "type": type, "proto": proto}, res=res, fd=fd, **who)


def connect(num: int, addr: tuple[Any, ...] | None, /, *, res: int = 0, fd: Fd | None = None,
            **who: Unpack[Who]) -> Event:
    """connect(2); `addr` as `inet(ip, port)` or `unix(path)`. Enriched with `fd`, evt.arg.tuple is
    its name, as the state sets it."""
    ev = syscall("connect", {"fd": num, "addr": addr}, res=res, fd=fd, **who)
    if fd is not None:
        ev.args["tuple"] = fd.name
    return ev


def bind(num: int, addr: tuple[Any, ...] | None, /, *, res: int = 0, **who: Unpack[Who]) -> Event:
    return syscall("bind", {"addr": addr, "fd": num}, res=res, **who)


def listen(num: int, /, *, backlog: int = 128, res: int = 0, **who: Unpack[Who]) -> Event:
    return syscall("listen", {"fd": num, "backlog": backlog}, res=res, **who)


def accept(listen_fd: int, peer: tuple[Any, ...] | None, *, res: int = 4, fd: Fd | None = None,
           **who: Unpack[Who]) -> Event:
    """accept(2) on `listen_fd`, which is only in the raw syscall arguments, as live (for accept4,
    `syscall()` with its flags and `uses_fd=listen_fd`)."""
    return syscall("accept", {"tuple": peer}, res=res, fd=fd, uses_fd=listen_fd, **who)


def memfd_create(name: str, *, flags: int = 0, res: int = 3, **who: Unpack[Who]) -> Event:
    return syscall("memfd_create", {"name": name, "flags": flags}, res=res, **who)


def chdir(path: str, *, res: int = 0, **who: Unpack[Who]) -> Event:
    return syscall("chdir", {"path": path}, res=res, **who)


def fchdir(num: int, /, *, res: int = 0, **who: Unpack[Who]) -> Event:
    return syscall("fchdir", {"fd": num}, res=res, **who)


def setuid(uid: int, /, *, res: int = 0, **who: Unpack[Who]) -> Event:
    """setuid(2). The task's uid at the exit is the new one when the call succeeded (raw events)."""
    if res == 0 and "proc" not in who:
        who.setdefault("uid", uid)
    return syscall("setuid", {"uid": uid}, res=res, **who)


def setgid(gid: int, /, *, res: int = 0, **who: Unpack[Who]) -> Event:
    if res == 0 and "proc" not in who:
        who.setdefault("gid", gid)
    return syscall("setgid", {"gid": gid}, res=res, **who)


def container_event(c: Container, *, num: int = 1, ts: int = T0) -> Event:
    """The `container` event a runtime's container start becomes (it has no task of its own)."""
    return Event(num=num, ts=ts, type="container", dir=DIR_ENTER, tid=0, pid=0,
                 proc=Process(pid=0, ppid=0, container_id=c.id, container=c))
