"""Each covered syscall, performed once by tests/probe/syscalls_prog.c with known arguments, appears
exactly once with the right process, paths, flags, addresses and return value."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from tests.livecapture import LiveCapture, build_c
from tiercel.events.model import Event

HERE = Path(__file__).parent
pytestmark = pytest.mark.live

O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_DIRECTORY, O_CLOEXEC = (
    0o1, 0o2, 0o100, 0o1000, 0o2000, 0o200000, 0o2000000)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[Event], Path]:
    build = tmp_path_factory.mktemp("build")
    prog = build_c(HERE / "syscalls_prog.c", build / "syscalls_prog", "-pthread")
    work = tmp_path_factory.mktemp("work")
    with LiveCapture() as cap:
        ports = [free_port(socket.AF_INET, "127.0.0.1"), free_port(socket.AF_INET6, "::1")]
        proc = cap.run([prog, work, *ports])
    out = json.loads(proc.stdout.read())  # type: ignore[union-attr]
    return out, cap.events, work


def free_port(family: int, host: str) -> str:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return str(s.getsockname()[1])


def only(events: list[Event], **match: object) -> Event:
    found = [e for e in events if all(_get(e, k) == v for k, v in match.items())]
    assert len(found) == 1, f"{match}: {len(found)} events: {[(e.type, e.args) for e in found]}"
    return found[0]


def _get(e: Event, key: str) -> object:
    if key.startswith("arg_"):
        return e.args.get(key[4:])
    return getattr(e, key)


def mine(run: tuple[dict, list[Event], Path]) -> list[Event]:
    return [e for e in run[1] if e.pid == run[0]["pid"]]


def test_process_identity(run: tuple[dict, list[Event], Path]) -> None:
    out, _, work = run
    ev = only(mine(run), type="chdir", arg_path=str(work))
    assert ev.res == 0
    p = ev.proc
    assert p is not None
    assert p.pid == out["pid"] and p.ppid == out["ppid"] == os.getpid()
    assert p.exepath == out["exe"] and p.comm == "syscalls_prog"
    assert p.cmdline.startswith(f"syscalls_prog {work} ")
    assert p.parent is not None and p.parent.pid == os.getpid()


@pytest.mark.parametrize(("type_", "name", "flags", "fd_key"), [
    ("open", "rel_open.txt", O_WRONLY | O_CREAT | O_TRUNC, "f_open"),
    ("openat", "sub_openat.txt", O_RDWR | O_CREAT | O_APPEND, "f_openat"),
    ("openat", "in_dir.txt", O_WRONLY | O_CREAT, "f_dirfd"),
    ("creat", "creat.txt", None, "f_creat"),
    ("openat2", "creat.txt", None, "f_openat2"),
])
def test_opens(run: tuple[dict, list[Event], Path], type_: str, name: str, flags: int | None,
               fd_key: str) -> None:
    out, _, work = run
    ev = only(mine(run), type=type_, arg_name=name)
    assert ev.res == out[fd_key] >= 0
    expected = work / ("dir_mkdir/" + name if fd_key == "f_dirfd" else name)
    assert ev.fd is not None and ev.fd.name == str(expected) and ev.fd.num == ev.res
    assert ev.abspath == str(expected)
    if flags is not None:  # the kernel's values; fields render Falco's (events/flags.py)
        assert ev.args["flags"] == flags
    if type_ == "open":
        assert ev.args["mode"] == 0o640


def test_failed_open(run: tuple[dict, list[Event], Path]) -> None:
    _, _, work = run
    ev = only(mine(run), arg_name="does/not/exist")
    assert ev.type == "openat" and ev.res == -2  # -ENOENT
    assert ev.fd is not None and ev.fd.name == str(work / "does/not/exist")


def test_dup_and_close(run: tuple[dict, list[Event], Path]) -> None:
    out, _, work = run
    evs = mine(run)
    d1 = only(evs, type="dup", arg_oldfd=out["f_open"])
    d2 = only(evs, type="dup2", arg_oldfd=out["f_open"], arg_newfd=40)
    d3 = only(evs, type="dup3", arg_oldfd=out["f_open"], arg_newfd=41)
    assert d2.res == 40 and d3.res == 41 and d3.args["flags"] == O_CLOEXEC
    for d in (d1, d2, d3):
        assert d.fd is not None and d.fd.name == str(work / "rel_open.txt")
        close = only(evs, type="close", arg_fd=d.res)
        assert close.res == 0 and close.fd is not None and close.fd.name == str(work / "rel_open.txt")


@pytest.mark.parametrize(("family", "ip", "typechar"), [("4", "127.0.0.1", "4"), ("6", "::1", "6")])
def test_tcp_connect_accept(run: tuple[dict, list[Event], Path], family: str, ip: str, typechar: str) -> None:
    out, _, _ = run
    evs = mine(run)
    port, cport = out["port" + family], out["cport" + family]
    inet = "inet" if family == "4" else "inet6"
    bind = only(evs, type="bind", arg_fd=out["l" + family])
    assert bind.res == 0 and bind.args["addr"] == (inet, ip, port)
    only(evs, type="listen", arg_fd=out["l" + family])
    conn = only(evs, type="connect", arg_fd=out["c" + family])
    assert conn.res == 0 and conn.args["addr"] == (inet, ip, port)
    assert conn.fd is not None and conn.fd.typechar == typechar
    assert (conn.fd.sip, conn.fd.sport, conn.fd.l4proto) == (ip, port, "tcp")
    acc = only(evs, type="accept" if family == "4" else "accept4", res=out["a" + family])
    assert acc.fd is not None and acc.fd.is_server
    assert (acc.fd.cip, acc.fd.cport) == (ip, cport)
    assert acc.fd.name == acc.args["tuple"] == f"{ip}:{cport}->{ip}:{port}"
    sock = [e for e in evs if e.type == "socket" and e.res == out["c" + family]]
    assert len(sock) == 1 and sock[0].args["domain"] == (2 if family == "4" else 10)


@pytest.mark.parametrize(("type_", "match", "abspath", "dst"), [
    ("unlink", {"arg_path": "creat.txt"}, "creat.txt", None),
    ("unlinkat", {"arg_name": "in_dir.txt"}, "dir_mkdir/in_dir.txt", None),
    ("rename", {"arg_oldpath": "rel_open.txt"}, "rel_open.txt", "renamed.txt"),
    ("renameat", {"arg_oldpath": "renamed.txt"}, "renamed.txt", "dir_mkdir/renamedat.txt"),
    ("renameat2", {"arg_oldpath": "renamedat.txt"}, "dir_mkdir/renamedat.txt", "renamed2.txt"),
    ("mkdir", {"arg_path": "dir_mkdir"}, "dir_mkdir", None),
    ("mkdirat", {"arg_path": "nested"}, "dir_mkdir/nested", None),
    ("rmdir", {"arg_path": "dir_mkdir/nested"}, "dir_mkdir/nested", None),
    ("symlink", {"arg_linkpath": "sym.lnk"}, None, "sym.lnk"),
    ("symlinkat", {"arg_linkpath": "symat.lnk"}, None, "dir_mkdir/symat.lnk"),
    ("link", {"arg_newpath": "hard.lnk"}, "renamed2.txt", "hard.lnk"),
    ("linkat", {"arg_newpath": "hardat.lnk"}, "renamed2.txt", "dir_mkdir/hardat.lnk"),
    ("chmod", {"arg_filename": "renamed2.txt"}, "renamed2.txt", None),
    ("fchmodat", {"arg_filename": "hardat.lnk"}, "dir_mkdir/hardat.lnk", None),
    ("chown", {"arg_path": "renamed2.txt"}, "renamed2.txt", None),
    ("lchown", {"arg_path": "sym.lnk"}, "sym.lnk", None),
    ("fchownat", {"arg_pathname": "hardat.lnk"}, "dir_mkdir/hardat.lnk", None),
])
def test_path_syscalls(run: tuple[dict, list[Event], Path], type_: str, match: dict, abspath: str | None,
                       dst: str | None) -> None:
    _, _, work = run
    ev = only(mine(run), type=type_, **match)
    assert ev.res == 0, (type_, ev.res)
    if abspath is not None:
        assert ev.abspath == str(work / abspath)
    if dst is not None:
        assert ev.abspath_dst == str(work / dst)


def test_modes_and_fd_syscalls(run: tuple[dict, list[Event], Path]) -> None:
    out, _, work = run
    evs = mine(run)
    assert only(evs, type="chmod").args["mode"] == 0o604
    assert only(evs, type="fchmodat").args["mode"] == 0o444
    fchmod = only(evs, type="fchmod", arg_fd=out["f_openat"])
    assert fchmod.args["mode"] == 0o640 and fchmod.fd is not None
    assert fchmod.fd.name == str(work / "sub_openat.txt")
    fchown = only(evs, type="fchown", arg_fd=out["f_openat"])
    assert (fchown.args["uid"], fchown.args["gid"], fchown.res) == (0, 0, 0)
    # renamed2.txt and hardat.lnk are one inode: fchmodat ran last
    assert stat.S_IMODE((work / "renamed2.txt").stat().st_mode) == 0o444


def test_identity_syscalls(run: tuple[dict, list[Event], Path]) -> None:
    evs = mine(run)
    assert only(evs, type="setuid").args["uid"] == 0
    assert only(evs, type="setgid").args["gid"] == 0
    assert only(evs, type="setresuid").args == {"res": 0, "ruid": 0xFFFFFFFF, "euid": 0, "suid": 0xFFFFFFFF}
    assert only(evs, type="setresgid").args == {"res": 0, "rgid": 0xFFFFFFFF, "egid": 0, "sgid": 0xFFFFFFFF}
    pt = only(evs, type="ptrace")
    assert pt.args["pid"] == 999999999 and pt.res == -3  # -ESRCH
    assert pt.args["request"] == 2  # PTRACE_PEEKDATA


def test_namespace_and_mount_syscalls(run: tuple[dict, list[Event], Path]) -> None:
    out, _, work = run
    evs = mine(run)
    memfd = only(evs, type="memfd_create")
    assert memfd.args["name"] == "tiercel-memfd" and memfd.res == out["mfd"]
    assert memfd.fd is not None and memfd.fd.typechar == "m"
    setns = only(evs, type="setns")
    assert setns.args["fd"] == out["nsfd"] and setns.res == 0
    assert setns.fd is not None and setns.fd.name == "/proc/self/ns/uts"
    assert only(evs, type="unshare").args["flags"] == 0x00020000  # CLONE_NEWNS
    mnt = only(evs, type="mount", arg_dev="tiercel-tmpfs")
    assert mnt.res == 0 and mnt.args["type"] == "tmpfs" and mnt.abspath_dst == str(work / "mnt")
    um = only(evs, type="umount2")
    assert um.res == 0 and um.abspath == str(work / "mnt")
    fchdir = only(evs, type="fchdir")
    assert fchdir.fd is not None and fchdir.fd.name == str(work / "dir_mkdir")
    back = only(evs, type="chdir", arg_path="..")
    assert back.abspath == str(work)


def test_fork_exec_and_exit(run: tuple[dict, list[Event], Path]) -> None:
    out, events, work = run
    fork = only(events, type="fork", res=out["child"])
    assert fork.pid == out["pid"]
    execs = [e for e in events if e.type == "execve" and e.pid == out["child"]]
    assert len(execs) == 1
    ex = execs[0]
    assert ex.res == 0
    assert ex.args["args"] == ["--child", "two words", "it's \"quoted\"", "bad\\xff\\xfebytes"]
    p = ex.proc
    assert p is not None and p.pid == out["child"] and p.ppid == out["pid"]
    assert p.exepath == out["exe"] and p.exe == out["exe"]
    assert p.cmdline == "syscalls_prog --child two words it's \"quoted\" bad\\xff\\xfebytes"
    assert p.cwd == str(work) + "/"
    ex_exit = only(events, type="procexit", tid=out["child"])
    assert ex_exit.args["status"] == 7
    assert ex_exit.proc is p and p.exited


def test_clone_execveat_vfork_thread(run: tuple[dict, list[Event], Path]) -> None:
    out, events, _ = run
    clone = only(events, type="clone", res=out["child2"])
    assert clone.pid == out["pid"]
    ex = only(events, type="execveat", pid=out["child2"])
    assert ex.res == 0 and ex.proc is not None and ex.proc.exe == "via-execveat"
    assert ex.proc.exepath == out["exe"]
    assert only(events, type="vfork", res=out["vchild"]).pid == out["pid"]
    th = only(events, type="clone3", res=out["thread"])
    assert th.args["flags"] & 0x00010000  # CLONE_THREAD
    opened = only(events, type="openat", arg_name="thread.txt")
    assert opened.tid == out["thread"] and opened.pid == out["pid"]
    assert opened.proc is not None and opened.proc.pid == out["pid"]


def test_nothing_from_the_agent(run: tuple[dict, list[Event], Path]) -> None:
    _, events, _ = run
    assert events and not [e for e in events if e.pid == os.getpid()]
