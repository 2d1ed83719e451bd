"""File-descriptor state and path resolution, offline: what each fd refers to, kept current by fd
events, and every path argument made absolute (evt.abspath) against the cwd or a dirfd."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tiercel.events.model import Event, Process
from tiercel.state.enrich import Enricher
from tiercel.testing import events as b
from tiercel.testing.state import offline_enricher

APP: b.Who = {"pid": 100, "comm": "app", "uid": 1000, "gid": 1000}
LOGS, PASSWD, LISTENER = 5, 6, 4   # the fds the fixture opens


@pytest.fixture
def st() -> Enricher:
    """app (pid 100) in /home/alice, with /var/log open as a directory on fd 5, /etc/passwd on fd 6
    and a TCP socket listening on 0.0.0.0:8080 on fd 4."""
    st = offline_enricher()
    st.table.add(b.process("app", pid=100, ppid=1, cwd="/home/alice", uid=1000, gid=1000), [100])
    st.apply(b.openat("/var/log", flags=b.O_RDONLY | b.O_DIRECTORY, res=LOGS, **APP))
    st.apply(b.openat("/etc/passwd", res=PASSWD, **APP))
    st.apply(b.socket(b.AF_INET, b.SOCK_STREAM, res=LISTENER, **APP))
    st.apply(b.bind(LISTENER, b.inet("0.0.0.0", 8080), **APP))
    st.apply(b.listen(LISTENER, **APP))
    return st


def app(st: Enricher) -> Process:
    return st.table.procs[100]


# ---- paths -----------------------------------------------------------------------------------------

PATHS: list[tuple[str, Event, str, str | None]] = [
    ("absolute", b.openat("/etc/shadow", **APP), "/etc/shadow", None),
    ("relative to the cwd", b.openat("notes.txt", **APP), "/home/alice/notes.txt", None),
    ("dot", b.openat("./notes.txt", **APP), "/home/alice/notes.txt", None),
    ("dot-dot", b.openat("../bob/x", **APP), "/home/bob/x", None),
    ("dot-dot above the root", b.openat("../../../../etc/passwd", **APP), "/etc/passwd", None),
    ("redundant separators", b.openat("/etc//ssh/./sshd_config", **APP), "/etc/ssh/sshd_config", None),
    ("trailing slash", b.openat("/tmp/", **APP), "/tmp", None),
    ("relative to a dirfd", b.openat("syslog", dirfd=LOGS, **APP), "/var/log/syslog", None),
    ("dot-dot from a dirfd", b.openat("../lib/dpkg", dirfd=LOGS, **APP), "/var/lib/dpkg", None),
    ("absolute with a dirfd", b.openat("/tmp/x", dirfd=LOGS, **APP), "/tmp/x", None),
    ("open(2)", b.open_("a.txt", **APP), "/home/alice/a.txt", None),
    ("unlinkat", b.syscall("unlinkat", {"dirfd": LOGS, "name": "old.log"}, **APP), "/var/log/old.log", None),
    ("mkdirat", b.syscall("mkdirat", {"path": "build", "mode": 0o755}, **APP), "/home/alice/build", None),
    ("fchmodat", b.syscall("fchmodat", {"filename": "x.sh", "mode": 0o755}, **APP), "/home/alice/x.sh", None),
    ("renameat2 across dirfds",
     b.syscall("renameat2", {"oldpath": "a.txt", "newdirfd": LOGS, "newpath": "../b.txt"}, **APP),
     "/home/alice/a.txt", "/var/b.txt"),
    ("linkat", b.syscall("linkat", {"oldpath": "/etc/shadow", "newdir": LOGS, "newpath": "s"}, **APP),
     "/etc/shadow", "/var/log/s"),
    ("symlinkat: the target is text",
     b.syscall("symlinkat", {"target": "../../etc/shadow", "linkdirfd": LOGS, "linkpath": "s"}, **APP),
     "../../etc/shadow", "/var/log/s"),
    ("mount: the device is text",
     b.syscall("mount", {"dev": "tmpfs", "dir": "mnt", "type": "tmpfs"}, **APP), "tmpfs", "/home/alice/mnt"),
    ("chdir", b.chdir("src", **APP), "/home/alice/src", None),
    ("execve", b.execve("./run", **APP), "/home/alice/run", None),
]


@pytest.mark.parametrize(("ev", "abspath", "abspath_dst"), [c[1:] for c in PATHS], ids=[c[0] for c in PATHS])
def test_paths_are_made_absolute(st: Enricher, ev: Event, abspath: str, abspath_dst: str | None) -> None:
    st.apply(ev)
    assert (ev.abspath, ev.abspath_dst) == (abspath, abspath_dst)


CWDS: list[tuple[str, Event, str]] = [
    ("chdir absolute", b.chdir("/tmp", **APP), "/tmp/"),
    ("chdir relative", b.chdir("src/lib", **APP), "/home/alice/src/lib/"),
    ("chdir ..", b.chdir("..", **APP), "/home/"),
    ("chdir /", b.chdir("/", **APP), "/"),
    ("failed chdir", b.chdir("/nope", res=-2, **APP), "/home/alice/"),
    ("fchdir to a directory fd", b.fchdir(LOGS, **APP), "/var/log/"),
    ("fchdir to an unknown fd", b.fchdir(42, res=-9, **APP), "/home/alice/"),
    ("failed fchdir", b.fchdir(PASSWD, res=-20, **APP), "/home/alice/"),
]


@pytest.mark.parametrize(("ev", "cwd"), [c[1:] for c in CWDS], ids=[c[0] for c in CWDS])
def test_the_cwd_follows_chdir_and_fchdir(st: Enricher, ev: Event, cwd: str) -> None:
    st.apply(ev)
    assert app(st).cwd == cwd
    assert st.apply(b.openat("x", res=9, **APP)).abspath == cwd + "x"


# ---- the fd table ----------------------------------------------------------------------------------

def test_open_adds_the_fd_and_attaches_it(st: Enricher) -> None:
    ev = st.apply(b.openat("notes.txt", flags=b.O_WRONLY | b.O_CREAT, res=7, **APP))
    fd = app(st).fds[7]
    assert ev.fd is fd
    assert (fd.num, fd.typechar, fd.name, fd.openflags) == (7, "f", "/home/alice/notes.txt",
                                                            b.O_WRONLY | b.O_CREAT)


@pytest.mark.parametrize(("flags", "typechar"), [
    (b.O_RDONLY, "f"), (b.O_RDONLY | b.O_DIRECTORY, "d"), (b.O_RDWR | b.O_TMPFILE, "f"),
], ids=["file", "O_DIRECTORY", "O_TMPFILE (which holds the O_DIRECTORY bit)"])
def test_open_tells_files_from_directories(st: Enricher, flags: int, typechar: str) -> None:
    st.apply(b.openat("/tmp", flags=flags, res=7, **APP))
    assert app(st).fds[7].typechar == typechar


def test_a_failed_open_adds_nothing_but_names_the_path(st: Enricher) -> None:
    ev = st.apply(b.openat("secret", res=-13, **APP))
    assert ev.fd is not None and ev.fd.name == "/home/alice/secret"
    assert sorted(app(st).fds) == [LISTENER, LOGS, PASSWD]


def test_close_removes_the_fd_and_attaches_it(st: Enricher) -> None:
    passwd = app(st).fds[PASSWD]
    ev = st.apply(b.close(PASSWD, **APP))
    assert ev.fd is passwd and PASSWD not in app(st).fds


@pytest.mark.parametrize("ev", [b.close(PASSWD, res=-4, **APP), b.close(42, res=-9, **APP)],
                         ids=["interrupted", "unknown fd (EBADF)"])
def test_a_failed_close_keeps_the_table(st: Enricher, ev: Event) -> None:
    st.apply(ev)
    assert sorted(app(st).fds) == [LISTENER, LOGS, PASSWD]


DUPS: list[tuple[str, Event, int, bool]] = [
    ("dup", b.dup(PASSWD, res=7, **APP), 7, True),
    ("dup2 onto a free fd", b.dup2(PASSWD, 8, **APP), 8, True),
    ("dup2 onto an open fd", b.dup2(PASSWD, LOGS, **APP), LOGS, True),
    ("dup3", b.dup3(PASSWD, 9, flags=b.O_CLOEXEC, **APP), 9, True),
    ("dup of a socket", b.dup2(LISTENER, 0, **APP), 0, True),
    ("dup of an unknown fd", b.dup2(42, 8, **APP), 8, False),
    ("failed dup2", b.dup2(PASSWD, 8, res=-9, **APP), 8, False),
]


@pytest.mark.parametrize(("ev", "newfd", "copied"), [c[1:] for c in DUPS], ids=[c[0] for c in DUPS])
def test_dup_copies_the_fd(st: Enricher, ev: Event, newfd: int, copied: bool) -> None:
    old = app(st).fds.get(ev.args["oldfd"])
    st.apply(ev)
    fd = app(st).fds.get(newfd)
    if not copied:
        assert fd is None
        return
    assert old is not None and fd is not None and ev.fd is fd and fd is not old
    assert fd.num == newfd
    assert (fd.typechar, fd.name, fd.sip, fd.sport) == (old.typechar, old.name, old.sip, old.sport)


F_DUPFD, F_GETFL, F_DUPFD_CLOEXEC = 0, 3, 1030


@pytest.mark.parametrize(("cmd", "copied", "cloexec"), [
    (F_DUPFD, True, False), (F_DUPFD_CLOEXEC, True, True), (F_GETFL, False, False)],
    ids=["F_DUPFD", "F_DUPFD_CLOEXEC", "F_GETFL"])
def test_fcntl_dupfd_copies_the_fd(st: Enricher, cmd: int, copied: bool, cloexec: bool) -> None:
    """fcntl(F_DUPFD*) copies like dup (perl's way to a reverse shell's dup2); other commands don't."""
    old = app(st).fds[LISTENER]
    st.apply(b.fcntl(LISTENER, cmd, res=20, arg=10, **APP))
    fd = app(st).fds.get(20)
    if not copied:
        assert fd is None
        return
    assert fd is not None and fd is not old
    assert (fd.typechar, fd.sip, fd.sport) == (old.typechar, old.sip, old.sport)
    assert bool(fd.openflags & 0o2000000) is cloexec
    st.apply(b.dup2(20, 1, **APP))             # and the copy is what dup2 then puts on stdout
    assert app(st).fds[1].typechar == old.typechar


SOCKETS: list[tuple[str, int, int, str, str]] = [
    ("tcp", b.AF_INET, b.SOCK_STREAM, "4", "tcp"),
    ("udp6", b.AF_INET6, b.SOCK_DGRAM, "6", "udp"),
    ("tcp with type flags", b.AF_INET, b.SOCK_STREAM | b.SOCK_NONBLOCK | b.SOCK_CLOEXEC, "4", "tcp"),
    ("raw", b.AF_INET, b.SOCK_RAW, "4", "raw"),
    ("netlink", b.AF_NETLINK, b.SOCK_RAW, "n", "raw"),
    ("unix", b.AF_UNIX, b.SOCK_STREAM, "u", "tcp"),
    ("packet", b.AF_PACKET, b.SOCK_RAW, "o", "raw"),
]


@pytest.mark.parametrize(("domain", "stype", "typechar", "l4proto"), [c[1:] for c in SOCKETS],
                         ids=[c[0] for c in SOCKETS])
def test_socket_adds_an_fd_of_its_family(st: Enricher, domain: int, stype: int, typechar: str,
                                         l4proto: str) -> None:
    ev = st.apply(b.socket(domain, stype, res=7, **APP))
    fd = app(st).fds[7]
    assert ev.fd is fd and (fd.typechar, fd.l4proto, fd.name) == (typechar, l4proto, "")


def test_connect_names_the_server_end(st: Enricher) -> None:
    st.apply(b.socket(b.AF_INET, b.SOCK_STREAM, res=7, **APP))
    ev = st.apply(b.connect(7, b.inet("93.184.216.34", 443), res=-115, **APP))  # EINPROGRESS
    fd = app(st).fds[7]
    assert ev.fd is fd and (fd.sip, fd.sport, fd.is_server) == ("93.184.216.34", 443, False)
    assert fd.name.endswith("->93.184.216.34:443") and ev.args["tuple"] == fd.name


@pytest.mark.parametrize(("addr", "typechar", "name"), [
    (b.inet("10.0.0.9", 5432), "4", "->10.0.0.9:5432"),
    (b.inet("2001:db8::1", 443), "6", "->2001:db8::1:443"),
    (b.unix("/run/docker.sock"), "u", "/run/docker.sock"),
], ids=["ipv4", "ipv6", "unix"])
def test_connect_on_an_fd_opened_before_the_agent_learns_its_family(
        st: Enricher, addr: tuple[str, ...], typechar: str, name: str) -> None:
    ev = st.apply(b.connect(11, addr, **APP))
    fd = app(st).fds[11]
    assert ev.fd is fd and fd.typechar == typechar and fd.name.endswith(name)


def test_bind_names_the_local_end_as_the_server(st: Enricher) -> None:
    fd = app(st).fds[LISTENER]
    assert (fd.typechar, fd.sip, fd.sport, fd.is_server) == ("4", "0.0.0.0", 8080, True)


def test_accept_adds_the_connection_with_both_ends(st: Enricher) -> None:
    ev = st.apply(b.syscall("accept4", {"tuple": b.inet("10.0.0.9", 51000), "flags": b.SOCK_CLOEXEC},
                            res=7, uses_fd=LISTENER, **APP))
    fd = app(st).fds[7]
    assert ev.fd is fd and ev.type == "accept4"
    assert (fd.typechar, fd.l4proto, fd.is_server) == ("4", "tcp", True)
    assert (fd.cip, fd.cport, fd.sip, fd.sport) == ("10.0.0.9", 51000, "0.0.0.0", 8080)
    assert fd.name == "10.0.0.9:51000->0.0.0.0:8080" and ev.args["tuple"] == fd.name


def test_accept_without_a_peer_address_takes_the_listeners_name(st: Enricher) -> None:
    st.apply(b.socket(b.AF_UNIX, b.SOCK_STREAM, res=7, **APP))
    st.apply(b.bind(7, b.unix("/run/app.sock"), **APP))
    st.apply(b.accept(7, None, res=8, **APP))
    fd = app(st).fds[8]
    assert (fd.typechar, fd.name, fd.is_server) == ("u", "/run/app.sock", True)


def test_a_failed_accept_adds_nothing(st: Enricher) -> None:
    ev = st.apply(b.accept(LISTENER, None, res=-11, **APP))
    assert ev.fd is None and sorted(app(st).fds) == [LISTENER, LOGS, PASSWD]


def test_memfd_create_adds_a_memfd(st: Enricher) -> None:
    ev = st.apply(b.memfd_create("payload", res=7, **APP))
    fd = app(st).fds[7]
    assert ev.fd is fd and (fd.typechar, fd.name) == ("m", "memfd:payload")


@pytest.mark.parametrize("etype", ["fchmod", "fchown", "setns", "finit_module"])
def test_calls_on_an_fd_attach_it(st: Enricher, etype: str) -> None:
    ev = st.apply(b.event(etype, {"res": 0, "fd": PASSWD}, **APP))
    assert ev.fd is app(st).fds[PASSWD]


# ---- close-on-exec ---------------------------------------------------------------------------------

def _opened(flags: int) -> list[Event]:
    return [b.openat("/tmp/x", flags=flags, res=10, **APP)]


CLOEXEC: list[tuple[str, Callable[[], list[Event]], bool]] = [
    ("open", lambda: _opened(b.O_RDONLY), True),
    ("open O_CLOEXEC", lambda: _opened(b.O_RDONLY | b.O_CLOEXEC), False),
    ("socket", lambda: [b.socket(res=10, **APP)], True),
    ("socket SOCK_CLOEXEC", lambda: [b.socket(b.AF_INET, b.SOCK_STREAM | b.SOCK_CLOEXEC, res=10, **APP)],
     False),
    ("accept", lambda: [b.accept(LISTENER, b.inet("10.0.0.9", 1), res=10, **APP)], True),
    ("accept4 SOCK_CLOEXEC",
     lambda: [b.syscall("accept4", {"tuple": b.inet("10.0.0.9", 1), "flags": b.SOCK_CLOEXEC}, res=10,
                        uses_fd=LISTENER, **APP)], False),
    ("memfd", lambda: [b.memfd_create("x", res=10, **APP)], True),
    ("memfd MFD_CLOEXEC", lambda: [b.memfd_create("x", flags=b.MFD_CLOEXEC, res=10, **APP)], False),
    ("dup of a close-on-exec fd",
     lambda: [*_opened(b.O_CLOEXEC), b.dup(10, res=11, **APP), b.close(10, **APP),
              b.dup2(11, 10, **APP)], True),
    ("dup2 of a close-on-exec fd",
     lambda: [b.openat("/tmp/x", flags=b.O_CLOEXEC, res=9, **APP), b.dup2(9, 10, **APP)], True),
    ("dup3 O_CLOEXEC", lambda: [b.openat("/tmp/x", res=9, **APP), b.dup3(9, 10, flags=b.O_CLOEXEC, **APP)],
     False),
    ("dup3 without flags",
     lambda: [b.openat("/tmp/x", flags=b.O_CLOEXEC, res=9, **APP), b.dup3(9, 10, **APP)], True),
]


@pytest.mark.parametrize(("made", "survives"), [c[1:] for c in CLOEXEC], ids=[c[0] for c in CLOEXEC])
def test_close_on_exec_fds_are_gone_after_exec(st: Enricher, made: Callable[[], list[Event]],
                                              survives: bool) -> None:
    for ev in made():
        st.apply(ev)
    assert 10 in app(st).fds
    st.apply(b.execve("/usr/bin/next", **APP))
    assert (10 in app(st).fds) is survives
