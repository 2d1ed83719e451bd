"""A capture's process, fd and user lists -> the state stage's ProcessTable, as at capture start."""

from __future__ import annotations

from pathlib import Path

from tiercel.container import cgroup
from tiercel.events.flags import open_flags_to_linux
from tiercel.events.model import Container, Fd, Process
from tiercel.scap import blocks as B
from tiercel.scap.events import PATH_MAX
from tiercel.scap.header import Header
from tiercel.state.processes import THREAD_TABLE_SIZE, ProcessTable
from tiercel.state.users import UserTable

# A /proc that does not exist: a replayed process must never be looked up on this host.
NO_PROC = Path("/nonexistent/tiercel-replay-proc")

_TYPECHARS = {1: "f", 2: "d", 3: "4", 4: "6", 5: "4", 6: "6", 7: "p", 8: "u", 9: "e", 11: "s",
              12: "l", 13: "i", 14: "t", 15: "n", 16: "f", 17: "b", 19: "r", 20: "m"}
L4PROTO = {2: "tcp", 3: "udp", 4: "icmp", 5: "raw"}


class CaptureUsers(UserTable):
    """User and group names from the capture's user list, never from this host."""

    def __init__(self, users: dict[int, str], groups: dict[int, str]) -> None:
        self._users = users
        self._groups = groups

    def user(self, uid: int) -> str:
        return self._users.get(uid, "")

    def group(self, gid: int) -> str:
        return self._groups.get(gid, "")


def fd_from_info(info: B.FdInfo) -> Fd:
    # a name of at most PATH_MAX characters, as a kernel path: a capture may claim 64 KB for each
    fd = Fd(num=info.fd, typechar=_TYPECHARS.get(info.type, "o"), name=info.name[:PATH_MAX],
            ino=info.ino, dev=info.dev)
    if info.type in (B.FD_FILE, B.FD_FILE_V2, B.FD_DIRECTORY):
        fd.openflags = open_flags_to_linux(info.flags) if info.flags else 0
    elif info.type in (B.FD_IPV4_SOCK, B.FD_IPV6_SOCK):
        fd.cip, fd.cport, fd.sip, fd.sport = info.sip, info.sport, info.dip, info.dport
        fd.l4proto = L4PROTO.get(info.l4proto, "")
        fd.name = f"{fd.cip}:{fd.cport}->{fd.sip}:{fd.sport}"
    elif info.type in (B.FD_IPV4_SERVSOCK, B.FD_IPV6_SERVSOCK):
        fd.sip, fd.sport, fd.is_server = info.sip, info.sport, True
        fd.l4proto = L4PROTO.get(info.l4proto, "")
        fd.name = f"{fd.sip}:{fd.sport}"
    return fd


def container_of(cgroups: list[str]) -> Container | None:
    """The container named by a capture's cgroups ("subsys=/path" entries, as the process list
    and the execve/clone exits carry them; cpuset first, as Falco looks); None on the host."""
    ordered = sorted(cgroups, key=lambda c: not c.startswith("cpuset="))
    for path in (c.partition("=")[2] or c for c in ordered):
        found = cgroup.from_path(path)
        if found is not None:
            runtime, full_id = found
            return Container(id=cgroup.short_id(full_id), full_id=full_id, type=runtime)
    return None


def set_container(proc: Process, cgroups: list[str]) -> None:
    """proc's container from the cgroups the capture shows for it (a known one is kept as is)."""
    found = container_of(cgroups)
    if found is None:
        proc.container_id, proc.container = "", None
    elif proc.container is None or proc.container.full_id != found.full_id:
        proc.container_id, proc.container = found.id, found


def _process(t: B.ThreadInfo) -> Process:
    cwd = t.cwd or "/"
    proc = Process(pid=t.pid, ppid=0, comm=t.comm, exe=t.exe, exepath=t.exepath, args=list(t.args),
                   cwd=cwd if cwd.endswith("/") else cwd + "/", uid=t.uid, gid=t.gid,
                   loginuid=t.loginuid, tty=t.tty)
    set_container(proc, t.cgroups)
    return proc


def table_from_header(header: Header, max_threads: int = THREAD_TABLE_SIZE) -> ProcessTable:
    """Every process of the capture's process list, with its threads, fds and parent (at most
    `max_threads` tasks: the newest)."""
    table = ProcessTable(NO_PROC, users=CaptureUsers(header.users, header.groups),
                         max_threads=max_threads)
    by_pid: dict[int, list[B.ThreadInfo]] = {}
    for t in header.threads.values():
        by_pid.setdefault(t.pid, []).append(t)
    for pid, threads in by_pid.items():
        main = next((t for t in threads if t.tid == pid), threads[0])
        proc = _process(main)
        for info in header.fds.get(main.tid, ()):
            proc.fds[info.fd] = fd_from_info(info)
        table.add(proc, [t.tid for t in threads])
    for pid, threads in by_pid.items():
        main = next((t for t in threads if t.tid == pid), threads[0])
        parent = table.threads.get(main.ptid)
        kept = table.procs.get(pid)
        if kept is None:
            continue  # evicted: more tasks than the table holds (ProcessTable.max_threads)
        kept.parent = parent
        kept.ppid = parent.pid if parent is not None else main.ptid
    return table
