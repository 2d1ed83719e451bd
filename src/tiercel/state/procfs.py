"""Read one process from /proc (the host's: --host-proc), to seed the state at start-up and to fill
in a process first seen after it started."""

from __future__ import annotations

import os
from pathlib import Path

from tiercel.container import cgroup
from tiercel.events.model import Container, Fd, Process

_ANON_TYPES = {"eventfd": "e", "signalfd": "s", "[eventpoll]": "l", "inotify": "i",
               "[timerfd]": "t", "bpf-map": "b", "bpf-prog": "b", "[io_uring]": "r"}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _link(path: Path) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def fd_from_link(num: int, target: str) -> Fd:
    """An fd as /proc/PID/fd/N shows it ("/etc/passwd", "socket:[123]", "pipe:[4]", ...)."""
    if target.startswith("/"):
        if target.startswith("/memfd:"):
            return Fd(num, "m", target)
        return Fd(num, "d" if os.path.isdir(target) else "f", target)
    if target.startswith("socket:"):
        return Fd(num, "o", "")  # family unknown without /proc/net; refined by later events
    if target.startswith("pipe:"):
        return Fd(num, "p", "")
    if target.startswith("anon_inode:"):
        kind = target.split(":", 1)[1]
        return Fd(num, _ANON_TYPES.get(kind, "o"), "")
    return Fd(num, "o", target)


def read_process(proc_root: Path, pid: int, with_fds: bool = True) -> Process | None:
    """The process PID as /proc shows it, or None if it is gone (or is a thread, not a process)."""
    base = proc_root / str(pid)
    status = _read(base / "status")
    stat = _read(base / "stat")
    if status is None or stat is None:
        return None
    fields: dict[str, str] = {}
    for line in status.decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    if fields.get("Tgid") != str(pid):
        return None
    # comm may contain spaces and parentheses: everything after the last ')' is numeric.
    after = stat[stat.rfind(b")") + 2:].split()
    ppid = int(after[1])
    tty = int(after[4])
    argv = [a.decode(errors="backslashreplace") for a in (_read(base / "cmdline") or b"").split(b"\0")]
    if argv and argv[-1] == "":
        argv.pop()
    uid = int(fields.get("Uid", "0").split()[1]) if fields.get("Uid") else 0  # effective uid
    gid = int(fields.get("Gid", "0").split()[1]) if fields.get("Gid") else 0
    loginuid_raw = (_read(base / "loginuid") or b"-1").strip()
    loginuid = int(loginuid_raw) if loginuid_raw.lstrip(b"-").isdigit() else -1
    if loginuid == 0xFFFFFFFF:
        loginuid = -1
    cwd = _link(base / "cwd") or "/"
    nspid = fields.get("NSpid", "").split()
    proc = Process(
        pid=pid, ppid=ppid, vpid=int(nspid[-1]) if nspid else pid,
        comm=fields.get("Name", ""), exe=argv[0] if argv else "",
        exepath=_link(base / "exe") or "", args=argv[1:], cwd=cwd if cwd.endswith("/") else cwd + "/",
        uid=uid, gid=gid, loginuid=loginuid, tty=tty,
    )
    found = read_container(proc_root, pid)
    if found:
        # a stand-in the process table swaps for the registry's shared object
        proc.container = Container(id=cgroup.short_id(found[1]), full_id=found[1], type=found[0])
        proc.container_id = proc.container.id
    if with_fds:
        proc.fds = read_fds(base)
    return proc


def read_container(proc_root: Path, pid: int) -> tuple[str, str] | None:
    """(runtime, full id) of the container PID runs in, from /proc/PID/cgroup; None on the host
    or when the process is gone."""
    raw = _read(proc_root / str(pid) / "cgroup")
    return cgroup.from_proc_cgroup(raw.decode(errors="replace")) if raw else None


def read_fds(base: Path) -> dict[int, Fd]:
    fds: dict[int, Fd] = {}
    try:
        entries = os.listdir(base / "fd")
    except OSError:
        return fds
    for name in entries:
        target = _link(base / "fd" / name)
        if target is not None and name.isdigit():
            fds[int(name)] = fd_from_link(int(name), target)
    return fds


def read_fd(proc_root: Path, pid: int, num: int) -> Fd | None:
    """One fd of a running process, as /proc shows it now (None: gone, or not readable)."""
    target = _link(proc_root / str(pid) / "fd" / str(num))
    return fd_from_link(num, target) if target is not None else None


def list_pids(proc_root: Path) -> list[int]:
    try:
        return sorted(int(n) for n in os.listdir(proc_root) if n.isdigit())
    except OSError:
        return []


def list_threads(proc_root: Path, pid: int) -> list[int]:
    try:
        return [int(n) for n in os.listdir(proc_root / str(pid) / "task") if n.isdigit()]
    except OSError:
        return [pid]
