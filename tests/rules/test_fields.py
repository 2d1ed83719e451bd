"""The field table: resolution, errors, and extracted values on hand-built events (table-driven)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tiercel.events import flags as fl
from tiercel.events.model import Container, Event, Fd, Process
from tiercel.rules.fields.listing import list_fields_command
from tiercel.rules.fields.table import FIELDS, FieldArgumentError, FieldTable, UnknownField
from tiercel.testing.events import container, dir_fd, file_fd, process, socket_fd
from tiercel.testing.events import event as build_event

TS = 1_700_000_000_123_456_789
USERS = {0: "root", 65534: "nobody", 1000: "alice"}
GROUPS = {0: "root", 65534: "nogroup"}
TABLE = FieldTable(user_name=USERS.get, group_name=GROUPS.get, hostname="node-1")

# ---- a process tree: systemd -> sshd -> bash -> cat -------------------------------------------

INIT = process("systemd", pid=1, exe="/sbin/init", exepath="/usr/lib/systemd/systemd")
SSHD = process("sshd", pid=100, exe="/usr/sbin/sshd", exepath="/usr/sbin/sshd", args=["-D"], parent=INIT)
BASH = process("bash", pid=200, exe="-bash", parent=SSHD, start_ts=TS - 60 * 10**9)
CAT = process("cat", pid=300, args=["/etc/shadow", "-n"], cwd="/root/", user="root", group="root",
              loginuid=1000, loginname="alice", tty=34816, start_ts=TS - 5 * 10**9, parent=BASH,
              threads={300, 301}, fds=[file_fd("/dev/pts/0", 0), dir_fd("/var/log", 7)])

WEB = container("abc123def456", full_id="abc123def456" + "0" * 52, type="docker", name="web",
                image="registry.example.com/team/nginx:1.25", image_tag="1.25", privileged=True,
                labels={"io.kubernetes.pod.name": "web-7d4f", "io.kubernetes.pod.namespace": "shop",
                        "io.kubernetes.pod.uid": "0b0c-11", "io.kubernetes.container.name": "nginx"})
NGINX = process("nginx", pid=4000, exepath="/usr/sbin/nginx", uid=101, container=WEB, parent=INIT)


def ev(type_: str, args: dict[str, Any] | None = None, res: int | None = 0, proc: Process = CAT,
       fd: Fd | None = None) -> Event:
    return build_event(type_, args, res=res, fd=fd, proc=proc, num=42, ts=TS, cpu=1)


SHADOW_FD = file_fd("/etc/shadow", 3, dev=0x803, ino=1234)
# Flags are the kernel's values, as the live decoder records them.
OPEN_READ = ev("openat", {"fd": 3, "dirfd": -100, "name": "/etc/shadow", "flags": 0o2000000, "mode": 0},
               res=3, fd=SHADOW_FD)
OPEN_WRITE = ev("openat", {"fd": 5, "dirfd": -100, "name": "/usr/local/bin/x",
                           "flags": 0o1101, "mode": 0o755},
                res=5, fd=file_fd("/usr/local/bin/x", 5))
OPEN_FAILED = ev("openat", {"fd": -2, "dirfd": -100, "name": "notes/missing.txt", "flags": 0, "mode": 0},
                 res=-2)
OPEN_AT_DIR = ev("openat", {"fd": 8, "dirfd": 7, "name": "syslog", "flags": 0, "mode": 0}, res=8)
CLIENT = socket_fd(4, cip="10.0.0.5", cport=40000, sip="93.184.216.34", sport=443)
CONNECT = ev("connect", {"res": -115, "tuple": ("10.0.0.5", 40000, "93.184.216.34", 443), "fd": 4,
                         "addr": ("AF_INET", "93.184.216.34", 443)}, res=-115, fd=CLIENT)
SERVER = socket_fd(9, cip="2001:db8::7", cport=51000, sip="2001:db8::1", sport=22, server=True)
ACCEPT = ev("accept4", {"fd": 9}, res=9, fd=SERVER, proc=SSHD)
SOCKET = ev("socket", {"fd": 6, "domain": 17, "type": 3, "proto": 0, "flags": 0}, res=6)
PTRACE = ev("ptrace", {"res": 0, "addr": 0, "data": 0, "request": 16, "pid": 4000})
SETUID = ev("setuid", {"res": 0, "uid": 65534})
CHMOD = ev("chmod", {"res": 0, "filename": "/tmp/sh", "mode": 0o4755})
UNLINKAT = ev("unlinkat", {"res": 0, "dirfd": 7, "name": "old", "flags": 0x200})
RENAMEAT = ev("renameat2", {"res": 0, "olddirfd": -100, "oldpath": "a.txt", "newdirfd": 7,
                            "newpath": "../b.txt", "flags": 1})
SYMLINK = ev("symlinkat", {"res": 0, "target": "/etc/shadow", "linkdirfd": -100, "linkpath": "s"})
CLONE = ev("clone", {"res": 0, "flags": 0x150F00}, res=0)
SETNS = ev("setns", {"res": 0, "fd": 3, "nstype": 0x20000})
MOUNT = ev("mount", {"res": 0, "dev": "/dev/sda1", "dir": "/mnt", "type": "ext4", "flags": 4096 | 16384})
EXECVE = ev("execve", {"res": 0, "exe": "cat", "args": ["/etc/shadow", "-n"], "flags": 2,
                       "cap_permitted": (1 << 21) | (1 << 0), "uid": 0})
WRITE = ev("write", {"res": 5, "data": b"hello", "fd": 0}, res=5, fd=CAT.fds[0])
IN_CONTAINER = ev("execve", {"res": 0}, proc=NGINX)
NO_PROC = build_event("close", pid=77, comm="ghost", uid=1000, ts=TS)

CASES: list[tuple[str, str | None, Event, Any]] = [
    # evt.*
    ("evt.num", None, OPEN_READ, 42),
    ("evt.type", None, OPEN_READ, "openat"),
    ("evt.dir", None, OPEN_READ, "<"),
    ("evt.rawtime", None, OPEN_READ, TS),
    ("evt.rawtime.s", None, OPEN_READ, 1_700_000_000),
    ("evt.rawtime.ns", None, OPEN_READ, 123_456_789),
    ("evt.time.iso8601", None, OPEN_READ, "2023-11-14T22:13:20.123456789Z"),
    ("evt.cpu", None, OPEN_READ, 1),
    ("evt.res", None, OPEN_READ, "SUCCESS"),
    ("evt.res", None, OPEN_FAILED, "ENOENT"),
    ("evt.res", None, CONNECT, "EINPROGRESS"),
    ("evt.rawres", None, CONNECT, -115),
    ("evt.failed", None, CONNECT, True),
    ("evt.failed", None, OPEN_READ, False),
    ("evt.category", None, OPEN_READ, "file"),
    ("evt.category", None, CONNECT, "net"),
    ("evt.category", None, ev("rt_sigreturn"), "other"),
    ("syscall.type", None, OPEN_READ, "openat"),
    ("syscall.type", None, ev("procexit"), None),
    ("evt.type.is", "openat", OPEN_READ, 1),
    ("evt.type.is.execve", None, OPEN_READ, 0),
    ("evt.source", None, OPEN_READ, "syscall"),
    ("evt.hostname", None, OPEN_READ, "node-1"),
    ("evt.is_open_read", None, OPEN_READ, True),
    ("evt.is_open_write", None, OPEN_READ, False),
    ("evt.is_open_write", None, OPEN_WRITE, True),
    ("evt.is_open_read", None, OPEN_WRITE, False),
    ("evt.is_open_exec", None, OPEN_WRITE, True),
    ("evt.is_open_exec", None, OPEN_READ, False),
    ("evt.is_open_write", None, CONNECT, False),
    ("evt.arg.flags", None, OPEN_READ, "O_RDONLY|O_CLOEXEC"),
    ("evt.arg.flags", None, OPEN_WRITE, "O_TRUNC|O_CREAT|O_WRONLY"),
    ("evt.arg", "flags", OPEN_READ, "O_RDONLY|O_CLOEXEC"),
    ("evt.arg.name", None, OPEN_READ, "/etc/shadow"),
    ("evt.arg.fd", None, OPEN_READ, "3"),
    ("evt.arg.fd", None, OPEN_FAILED, "ENOENT"),
    ("evt.arg.nothere", None, OPEN_READ, None),
    ("evt.arg", "0", SOCKET, "6"),
    ("evt.arg", "1", SOCKET, "AF_PACKET"),
    ("evt.arg", "9", SOCKET, None),
    ("evt.arg.domain", None, SOCKET, "AF_PACKET"),
    ("evt.arg.request", None, PTRACE, "PTRACE_ATTACH"),
    ("evt.arg.uid", None, SETUID, "nobody"),
    ("evt.arg.mode", None, CHMOD, "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"),
    ("evt.arg.flags", None, UNLINKAT, "AT_REMOVEDIR"),
    ("evt.arg.flags", None, RENAMEAT, "RENAME_NOREPLACE"),
    ("evt.arg.flags", None, CLONE, "CLONE_FILES|CLONE_FS|CLONE_PARENT_SETTID|CLONE_SIGHAND|"
                                   "CLONE_SYSVSEM|CLONE_THREAD|CLONE_VM"),
    ("evt.arg.nstype", None, SETNS, "CLONE_NEWNS"),
    ("evt.arg.flags", None, MOUNT, "BIND|REC"),
    ("evt.arg.flags", None, EXECVE, "EXE_UPPER_LAYER"),
    ("evt.arg.res", None, CONNECT, "EINPROGRESS"),
    ("evt.arg.tuple", None, CONNECT, "10.0.0.5:40000->93.184.216.34:443"),
    ("evt.arg.addr", None, CONNECT, "93.184.216.34:443"),
    ("evt.arg.args", None, EXECVE, "/etc/shadow.-n."),
    ("evt.rawarg.flags", None, OPEN_READ, 4097),  # Falco's encoding of O_RDONLY|O_CLOEXEC
    ("evt.rawarg.request", None, PTRACE, 11),
    ("evt.rawarg.res", None, CONNECT, -115),
    ("evt.args", None, OPEN_READ, "fd=3(<f>/etc/shadow) dirfd=-100 name=/etc/shadow "
                                  "flags=4097(O_RDONLY|O_CLOEXEC) mode=0"),
    ("evt.buffer", None, WRITE, b"hello"),
    ("evt.buflen", None, WRITE, 5),
    ("evt.is_io", None, WRITE, True),
    ("evt.is_io_write", None, WRITE, True),
    ("evt.is_io_read", None, WRITE, False),
    ("evt.io_dir", None, WRITE, "w"),
    ("evt.is_io", None, OPEN_READ, False),
    ("evt.count.error", None, OPEN_FAILED, 1),
    ("evt.count.error.file", None, OPEN_FAILED, 1),
    ("evt.count.error.net", None, OPEN_FAILED, 0),
    # proc.* / thread.*
    ("proc.pid", None, OPEN_READ, 300),
    ("proc.ppid", None, OPEN_READ, 200),
    ("proc.name", None, OPEN_READ, "cat"),
    ("proc.exe", None, OPEN_READ, "cat"),
    ("proc.exepath", None, OPEN_READ, "/usr/bin/cat"),
    ("proc.args", None, OPEN_READ, "/etc/shadow -n"),
    ("proc.cmdline", None, OPEN_READ, "cat /etc/shadow -n"),
    ("proc.exeline", None, OPEN_READ, "cat /etc/shadow -n"),
    ("proc.cmdnargs", None, OPEN_READ, 2),
    ("proc.cmdlenargs", None, OPEN_READ, 13),
    ("proc.cwd", None, OPEN_READ, "/root/"),
    ("proc.tty", None, OPEN_READ, 34816),
    ("proc.pname", None, OPEN_READ, "bash"),
    ("proc.pcmdline", None, OPEN_READ, "bash"),
    ("proc.pexe", None, OPEN_READ, "-bash"),
    ("proc.pexepath", None, OPEN_READ, "/usr/bin/bash"),
    ("proc.aname", "0", OPEN_READ, "cat"),
    ("proc.aname", "1", OPEN_READ, "bash"),
    ("proc.aname", "2", OPEN_READ, "sshd"),
    ("proc.aname", "3", OPEN_READ, "systemd"),
    ("proc.aname", "4", OPEN_READ, None),
    ("proc.aname", None, OPEN_READ, ["bash", "sshd", "systemd"]),
    ("proc.apid", "2", OPEN_READ, 100),
    ("proc.apid", None, OPEN_READ, [200, 100, 1]),
    ("proc.aexepath", "2", OPEN_READ, "/usr/sbin/sshd"),
    ("proc.acmdline", "2", OPEN_READ, "sshd -D"),
    ("proc.loginshellid", None, OPEN_READ, 200),
    ("proc.duration", None, OPEN_READ, 5 * 10**9),
    ("proc.ppid.duration", None, OPEN_READ, 60 * 10**9),
    ("proc.fdopencount", None, OPEN_READ, 2),
    ("proc.nthreads", None, OPEN_READ, 2),
    ("proc.is_exe_upper_layer", None, EXECVE, True),
    ("proc.is_exe_from_memfd", None, EXECVE, False),
    ("proc.is_exe_upper_layer", None, OPEN_READ, None),
    ("thread.cap_permitted", None, EXECVE, "CAP_CHOWN CAP_SYS_ADMIN"),
    ("proc.env", None, OPEN_READ, None),
    ("thread.tid", None, OPEN_READ, 300),
    ("thread.ismain", None, OPEN_READ, True),
    ("proc.name", None, NO_PROC, "ghost"),
    ("proc.pid", None, NO_PROC, 77),
    ("proc.pname", None, NO_PROC, None),
    # user.* / group.*
    ("user.uid", None, OPEN_READ, 0),
    ("user.name", None, OPEN_READ, "root"),
    ("user.loginuid", None, OPEN_READ, 1000),
    ("user.loginname", None, OPEN_READ, "alice"),
    ("group.gid", None, OPEN_READ, 0),
    ("group.name", None, OPEN_READ, "root"),
    ("user.uid", None, NO_PROC, 1000),
    ("user.name", None, IN_CONTAINER, None),
    # fd.*
    ("fd.num", None, OPEN_READ, 3),
    ("fd.type", None, OPEN_READ, "file"),
    ("fd.typechar", None, OPEN_READ, "f"),
    ("fd.name", None, OPEN_READ, "/etc/shadow"),
    ("fd.directory", None, OPEN_READ, "/etc"),
    ("fd.filename", None, OPEN_READ, "shadow"),
    ("fd.dev", None, OPEN_READ, 0x803),
    ("fd.ino", None, OPEN_READ, 1234),
    ("fd.num", None, OPEN_FAILED, -1),
    ("fd.name", None, OPEN_FAILED, "/root/notes/missing.txt"),
    ("fd.nameraw", None, OPEN_FAILED, "notes/missing.txt"),
    ("fd.directory", None, OPEN_FAILED, "/root/notes"),
    ("fd.filename", None, OPEN_FAILED, "missing.txt"),
    ("fd.typechar", None, OPEN_FAILED, "f"),
    ("fd.name", None, OPEN_AT_DIR, "/var/log/syslog"),
    ("fd.directory", None, ev("fchdir", {"fd": 7}, fd=CAT.fds[7]), "/var/log"),
    ("fd.sip", None, CONNECT, "93.184.216.34"),
    ("fd.sport", None, CONNECT, 443),
    ("fd.cip", None, CONNECT, "10.0.0.5"),
    ("fd.cport", None, CONNECT, 40000),
    ("fd.lip", None, CONNECT, "10.0.0.5"),
    ("fd.rip", None, CONNECT, "93.184.216.34"),
    ("fd.lport", None, CONNECT, 40000),
    ("fd.rport", None, CONNECT, 443),
    ("fd.ip", None, CONNECT, ("10.0.0.5", "93.184.216.34")),
    ("fd.port", None, CONNECT, (40000, 443)),
    ("fd.net", None, CONNECT, ("10.0.0.5", "93.184.216.34")),
    ("fd.snet", None, CONNECT, "93.184.216.34"),
    ("fd.l4proto", None, CONNECT, "tcp"),
    ("fd.sockfamily", None, CONNECT, "ip"),
    ("fd.is_server", None, CONNECT, False),
    ("fd.connected", None, CONNECT, True),
    ("fd.sproto", None, CONNECT, "443"),
    ("fd.directory", None, CONNECT, None),
    ("fd.sip", None, OPEN_READ, None),
    ("fd.lip", None, ACCEPT, "2001:db8::1"),
    ("fd.rip", None, ACCEPT, "2001:db8::7"),
    ("fd.lport", None, ACCEPT, 22),
    ("fd.rport", None, ACCEPT, 51000),
    ("fd.is_server", None, ACCEPT, True),
    ("fd.types", None, OPEN_READ, ["file", "directory"]),
    ("fd.types", "7", OPEN_READ, ["directory"]),
    ("fd.containername", None, OPEN_READ, "host:/etc/shadow"),
    ("fs.path.name", None, OPEN_FAILED, "/root/notes/missing.txt"),
    ("fs.path.nameraw", None, OPEN_FAILED, "notes/missing.txt"),
    ("fs.path.name", None, UNLINKAT, "/var/log/old"),
    ("evt.abspath", None, UNLINKAT, "/var/log/old"),
    ("fs.path.source", None, RENAMEAT, "/root/a.txt"),
    ("fs.path.target", None, RENAMEAT, "/var/b.txt"),
    ("evt.abspath.dst", None, RENAMEAT, "/var/b.txt"),
    ("fs.path.source", None, SYMLINK, "/etc/shadow"),
    ("fs.path.target", None, SYMLINK, "/root/s"),
    ("fs.path.name", None, CHMOD, "/tmp/sh"),
    # container.* / k8s.*
    ("container.id", None, OPEN_READ, "host"),
    ("container.name", None, OPEN_READ, "host"),
    ("container.image", None, OPEN_READ, None),
    ("container.privileged", None, OPEN_READ, None),
    ("container.id", None, IN_CONTAINER, "abc123def456"),
    ("container.full_id", None, IN_CONTAINER, "abc123def456" + "0" * 52),
    ("container.name", None, IN_CONTAINER, "web"),
    ("container.type", None, IN_CONTAINER, "docker"),
    ("container.image", None, IN_CONTAINER, "registry.example.com/team/nginx:1.25"),
    ("container.image.repository", None, IN_CONTAINER, "registry.example.com/team/nginx"),
    ("container.image.tag", None, IN_CONTAINER, "1.25"),
    ("container.privileged", None, IN_CONTAINER, True),
    ("container.info", None, IN_CONTAINER, "container_id=abc123def456 container_name=web"),
    ("container.mount.dest", "/etc", IN_CONTAINER, None),
    ("k8s.pod.name", None, IN_CONTAINER, "web-7d4f"),
    ("k8s.ns.name", None, IN_CONTAINER, "shop"),
    ("k8s.pod.uid", None, IN_CONTAINER, "0b0c-11"),
    ("k8s.ns.name", None, OPEN_READ, None),
    ("container.id", None, NO_PROC, None),
]


def _case_id(case: tuple[str, str | None, Event, Any]) -> str:
    name, arg, event, _ = case
    return f"{name}[{arg}]@{event.type}" if arg is not None else f"{name}@{event.type}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_extract(case: tuple[str, str | None, Event, Any]) -> None:
    name, arg, event, expected = case
    got = TABLE.resolve(name, arg).extract(event)
    if isinstance(expected, list | tuple) and got is not None:
        got = type(expected)(got)
    assert got == expected


def test_mounts_by_source_glob() -> None:
    c = Container(id="c0ffee000000", name="m")
    c_mounts = [{"Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock", "Mode": "",
                 "RW": True, "Propagation": "rprivate"},
                {"Source": "/proc", "Destination": "/host/proc", "Mode": "ro", "RW": False,
                 "Propagation": "rprivate"}]
    holder = type("WithMounts", (), {"__getattr__": lambda _s, a: getattr(c, a), "mounts": c_mounts})()
    p = Process(pid=9, ppid=1, comm="sh", container_id="c0ffee000000", container=holder)  # type: ignore[arg-type]
    e = ev("execve", proc=p)
    assert TABLE.resolve("container.mount.dest", "/proc*").extract(e) == "/host/proc"
    assert TABLE.resolve("container.mount.dest", "/etc").extract(e) is None
    sock = "/var/run/docker.sock"
    assert TABLE.resolve("container.mount.source", sock).extract(e) == sock
    assert TABLE.resolve("container.mount.rdwr", "0").extract(e) == "true"
    assert TABLE.resolve("container.mounts", None).extract(e) == (
        "/var/run/docker.sock:/var/run/docker.sock::true:rprivate,/proc:/host/proc:ro:false:rprivate")


# ---- resolution ---------------------------------------------------------------------------------

def test_unknown_field_suggests_closest() -> None:
    with pytest.raises(UnknownField, match=r"unknown field 'proc.nmae' \(did you mean 'proc.name'\?\)"):
        TABLE.resolve("proc.nmae", None)


def test_unknown_field_without_close_match() -> None:
    with pytest.raises(UnknownField) as e:
        TABLE.resolve("zzz.qqq", None)
    assert str(e.value) == "unknown field 'zzz.qqq'"


@pytest.mark.parametrize(("name", "arg"), [
    ("proc.name", "1"),        # takes no argument
    ("proc.aname", "x"),       # needs a number
    ("evt.arg", None),         # needs an argument
    ("evt.arg.flags", "0"),    # argument given twice
    ("evt.rawarg.nosuchparam", None),
    ("container.label", None),
])
def test_argument_errors(name: str, arg: str | None) -> None:
    with pytest.raises(FieldArgumentError):
        TABLE.resolve(name, arg)


def test_definitions() -> None:
    aname = TABLE.resolve("proc.aname", None)
    assert (aname.name, aname.type, aname.is_list) == ("proc.aname", "CHARBUF", True)
    assert TABLE.resolve("proc.aname", "2").is_list is False
    assert TABLE.resolve("proc.aname", "2").display == "proc.aname[2]"
    assert TABLE.resolve("evt.rawarg.res", None).type == "ERRNO"
    assert TABLE.resolve("evt.rawarg.name", None).type == "FSPATH"
    ip = TABLE.resolve("fd.ip", None)
    assert ip.either and ip.filter_only and ip.type == "IPADDR"
    assert TABLE.resolve("fd.net", None).type == "IPNET"
    assert TABLE.resolve("fd.types", None).is_list


ALLOWED_TYPES = {"CHARBUF", "FSPATH", "INT16", "INT32", "INT64", "UINT32", "UINT64", "PORT", "BOOL",
                 "IPADDR", "IPNET", "RELTIME", "ABSTIME", "BYTEBUF", "DOUBLE"}


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_every_field_is_documented_and_extracts(name: str) -> None:
    spec = FIELDS[name]
    assert spec.type in ALLOWED_TYPES
    assert spec.desc and spec.desc.endswith(".")
    args = {"index": "1", "index?": None, "key": "flags", "key?": None, "index|key": "0", "none": None}
    fd = TABLE.resolve(name, args[spec.arg.value])
    for event in (OPEN_READ, CONNECT, IN_CONTAINER, NO_PROC, EXECVE):
        fd.extract(event)  # never raises, whatever the event lacks


# ---- list-fields ------------------------------------------------------------------------------------

def test_list_fields_text() -> None:
    out = io.StringIO()
    assert list_fields_command(False, out) == 0
    text = out.getvalue()
    assert "Process and thread (proc.*)" in text
    assert "proc.aname[N]?" in text and "evt.arg[N|key]" in text
    assert sum(1 for line in text.splitlines() if line.startswith("  ")) == len(FIELDS)


def test_list_fields_json() -> None:
    out = io.StringIO()
    assert list_fields_command(True, out) == 0
    rows = json.loads(out.getvalue())
    assert len(rows) == len(FIELDS)
    by_name = {r["name"]: r for r in rows}
    assert by_name["fd.sip"] == {"name": "fd.sip", "type": "IPADDR", "desc": FIELDS["fd.sip"].desc,
                                 "arg": "none"}
    assert by_name["proc.aname"]["arg"] == "index?"


# ---- flags: Falco's encoding from the kernel's --------------------------------------------------

@pytest.mark.parametrize(("linux", "text"), [
    (0, "O_RDONLY"),
    (0o1 | 0o100 | 0o1000, "O_TRUNC|O_CREAT|O_WRONLY"),
    (0o2 | 0o2000000, "O_RDWR|O_CLOEXEC"),
    (0o20200000 | 0o2, "O_DIRECTORY|O_RDWR|O_TMPFILE"),
])
def test_open_flags_from_linux(linux: int, text: str) -> None:
    assert fl.render_flags(fl.FILE_FLAGS, fl.open_flags_from_linux(linux)) == text


def test_other_conversions() -> None:
    assert fl.render_enum(fl.PTRACE_REQUESTS, fl.ptrace_request_from_linux(16)) == "PTRACE_ATTACH"
    assert fl.render_enum(fl.PTRACE_REQUESTS, fl.ptrace_request_from_linux(0x4206)) == "PTRACE_SEIZE"
    assert fl.render_flags(fl.CLONE_FLAGS, fl.clone_flags_from_linux(0x10000000 | 0x20000)) == \
        "CLONE_NEWNS|CLONE_NEWUSER"
    assert fl.render_flags(fl.MOUNT_FLAGS, fl.mount_flags_from_linux(0xC0ED0000 | 1)) == "RDONLY"
    assert fl.errno_name(-13) == "EACCES"
    assert fl.errno_name(-512) == "ERESTARTSYS"
