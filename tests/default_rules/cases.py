# ruff: noqa: E501 - one case per line reads best as a table
"""Hand-built events for every default rule: (rule, case id, event, should it alert)."""

from __future__ import annotations

import socket
from typing import Any

from tiercel.events.model import Event, Fd, Process
from tiercel.testing import events as b
from tiercel.testing.events import O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, SEC, T0, mount

TS = T0 + SEC // 10    # the events' time: the process started at T0


def proc(comm: str, args: tuple[str, ...] = (), parent: str = "bash", uid: int = 0, tty: int = 0,
         container: str = "", exepath: str = "", vpid: int = 0, started: int = T0,
         gparent: str = "systemd") -> Process:
    """`comm` (pid 100) under `parent -c x` (pid 10) under `gparent` (pid 1)."""
    pp = b.process(parent, pid=10, exe="", args=["-c", "x"], parent=b.process(gparent, pid=1, exe=""))
    c = b.container(container, name="web", image="nginx:1") if container else None
    return b.process(comm, pid=100, exepath=exepath or None, args=args, uid=uid,
                     user="root" if uid == 0 else "nobody", tty=tty, parent=pp, container=c,
                     vpid=vpid or 100, start_ts=started)


def ev(etype: str, p: Process, *, res: int = 0, fd: Fd | None = None, ts: int = TS,
       abspath: str | None = None, dst: str | None = None, **args: Any) -> Event:
    return b.event(etype, args, res=res, fd=fd, abspath=abspath, abspath_dst=dst, proc=p, ts=ts)


def exec_(comm: str, *args: str, **kw: Any) -> Event:
    p = proc(comm, args, **kw)
    return b.execve(p.exepath, args, exe=comm, proc=p, ts=TS)


def open_(path: str, flags: int, comm: str = "cat", res: int = 3, **kw: Any) -> Event:
    return b.openat(path, flags=flags, mode=0o644, res=res, fd=b.file_fd(path, 3, flags=flags),
                    proc=proc(comm, **kw), ts=TS)


def connect(comm: str, sip: str, sport: int, **kw: Any) -> Event:
    fd = b.socket_fd(3, cip="192.0.2.1", cport=40000, sip=sip, sport=sport)
    return b.connect(3, b.inet(sip, sport), fd=fd, proc=proc(comm, **kw), ts=TS)


def container_event(mounts: list[dict[str, Any]] | None = None, privileged: bool = False) -> Event:
    return b.container_event(b.container("abcdef123456", name="c1", image="busybox:1",
                                         privileged=privileged, mounts=mounts or []))


def dup2(typechar: str, newfd: int, comm: str = "bash") -> Event:
    fd = b.socket_fd(newfd, cip="192.0.2.1", cport=40000, sip="192.0.2.2", sport=4444)
    fd.typechar = typechar  # the same connection's name on a descriptor of another kind
    return b.dup2(3, newfd, fd=fd, proc=proc(comm), ts=TS)


CID = "0123456789ab"
SHADOW = "/etc/shadow"
CASES: list[tuple[str, str, Event, bool]] = [
    ("Terminal shell in container", "docker exec -it", exec_("sh", parent="runc", tty=34816, container=CID), True),
    ("Terminal shell in container", "on the host", exec_("bash", parent="sshd", tty=34816), False),
    ("Terminal shell in container", "no tty", exec_("sh", parent="runc", container=CID), False),
    ("Non-interactive shell in container", "docker exec sh -c",
     exec_("sh", "-c", "id", parent="runc", container=CID, vpid=6), True),
    ("Non-interactive shell in container", "entrypoint shell (pid 1)",
     exec_("sh", parent="runc", container=CID, vpid=1), False),
    ("Non-interactive shell in container", "not a shell", exec_("cat", parent="runc", container=CID), False),
    ("Run shell untrusted", "nginx -> sh", exec_("sh", "-c", "id", parent="nginx"), True),
    ("Run shell untrusted", "node -> bash in a container", exec_("bash", parent="node", container=CID), True),
    ("Run shell untrusted", "sshd -> bash", exec_("bash", parent="sshd"), False),
    ("Run shell untrusted", "nginx -> nginx", exec_("nginx", parent="nginx"), False),
    ("Read sensitive file untrusted", "cat /etc/shadow", open_(SHADOW, O_RDONLY), True),
    ("Read sensitive file untrusted", "ssh host key", open_("/etc/ssh/ssh_host_rsa_key", O_RDONLY), True),
    ("Read sensitive file untrusted", "/root/.ssh", open_("/root/.ssh/id_rsa", O_RDONLY), True),
    ("Read sensitive file untrusted", "sshd reads shadow", open_(SHADOW, O_RDONLY, comm="sshd"), False),
    ("Read sensitive file untrusted", "failed open", open_(SHADOW, O_RDONLY, res=-13), False),
    ("Read sensitive file untrusted", "/etc/passwd", open_("/etc/passwd", O_RDONLY), False),
    ("Read sensitive file trusted after startup", "nginx after 2 s",
     open_(SHADOW, O_RDONLY, comm="nginx", started=T0 - 2 * SEC), True),
    ("Read sensitive file trusted after startup", "nginx at start", open_(SHADOW, O_RDONLY, comm="nginx"), False),
    ("Create files below dev", "plain file", open_("/dev/evil", O_WRONLY | O_CREAT, comm="sh"), True),
    ("Create files below dev", "/dev/null", open_("/dev/null", O_WRONLY, comm="sh"), False),
    ("Create files below dev", "/dev/shm", open_("/dev/shm/x", O_WRONLY | O_CREAT, comm="sh"), False),
    ("Create files below dev", "read only", open_("/dev/evil", O_RDONLY, comm="sh"), False),
    ("System procs network activity", "ls connects", connect("ls", "192.0.2.2", 8080), True),
    ("System procs network activity", "curl connects", connect("curl", "192.0.2.2", 8080), False),
    ("System procs network activity", "ls to loopback", connect("ls", "127.0.0.1", 8080), False),
    ("System procs network activity", "sshd per login: getaddrinfo sorts 0.0.0.0 (UDP connect)",
     connect("sshd", "0.0.0.0", 22), False),
    ("Write below etc", "new file in /etc", open_("/etc/evil.conf", O_WRONLY | O_CREAT, comm="sh"), True),
    ("Write below etc", "dpkg writes /etc", open_("/etc/evil.conf", O_WRONLY, comm="dpkg"), False),
    ("Write below etc", "read /etc", open_("/etc/evil.conf", O_RDONLY, comm="sh"), False),
    ("Write below binary dir", "/usr/bin", open_("/usr/bin/evil", O_WRONLY | O_CREAT, comm="sh"), True),
    ("Write below binary dir", "dpkg", open_("/usr/bin/evil", O_WRONLY | O_CREAT, comm="dpkg"), False),
    ("Write below binary dir", "/usr/lib", open_("/usr/lib/evil", O_WRONLY | O_CREAT, comm="sh"), False),
    ("Rename in binary dir", "rename into /usr/bin",
     ev("renameat2", proc("mv"), abspath="/tmp/x", dst="/usr/bin/ls", oldpath="/tmp/x", newpath="/usr/bin/ls"),
     True),
    ("Rename in binary dir", "rename in /tmp",
     ev("renameat2", proc("mv"), abspath="/tmp/x", dst="/tmp/y", oldpath="/tmp/x", newpath="/tmp/y"), False),
    ("Rename in binary dir", "dpkg",
     ev("rename", proc("dpkg"), abspath="/usr/bin/ls.new", dst="/usr/bin/ls", oldpath="/usr/bin/ls.new",
        newpath="/usr/bin/ls"), False),
    ("Mkdir binary dirs", "mkdir /bin/x", ev("mkdirat", proc("mkdir"), abspath="/bin/x", path="/bin/x"), True),
    ("Mkdir binary dirs", "mkdir /tmp/x", ev("mkdirat", proc("mkdir"), abspath="/tmp/x", path="/tmp/x"), False),
    ("Clear log activities", "truncate syslog", open_("/var/log/syslog", O_WRONLY | O_TRUNC, comm="sh"), True),
    ("Clear log activities", "append to syslog", open_("/var/log/syslog", O_WRONLY, comm="sh"), False),
    ("Clear log activities", "logrotate", open_("/var/log/syslog", O_WRONLY | O_TRUNC, comm="logrotate"), False),
    ("Delete or rename shell history", "rm .bash_history",
     ev("unlinkat", proc("rm"), abspath="/root/.bash_history", name="/root/.bash_history"), True),
    ("Delete or rename shell history", "rm notes",
     ev("unlinkat", proc("rm"), abspath="/root/notes", name="/root/notes"), False),
    ("Search private keys or passwords", "find id_rsa", exec_("find", "/", "-name", "id_rsa"), True),
    ("Search private keys or passwords", "grep private key", exec_("grep", "-r", "BEGIN RSA PRIVATE", "/"), True),
    ("Search private keys or passwords", "find *.py", exec_("find", ".", "-name", "*.py"), False),
    ("Create symlink over sensitive files", "ln -s /etc/shadow",
     ev("symlinkat", proc("ln"), abspath="/tmp/s", target=SHADOW, linkdirfd=-100, linkpath="/tmp/s"), True),
    ("Create symlink over sensitive files", "ln -s /etc/hosts",
     ev("symlinkat", proc("ln"), abspath="/tmp/s", target="/etc/hosts", linkdirfd=-100, linkpath="/tmp/s"),
     False),
    ("Create hardlink over sensitive files", "ln /etc/shadow",
     ev("linkat", proc("ln"), abspath=SHADOW, dst="/tmp/h", oldpath=SHADOW, newpath="/tmp/h"), True),
    ("Create hardlink over sensitive files", "ln /etc/hosts",
     ev("linkat", proc("ln"), abspath="/etc/hosts", dst="/tmp/h", oldpath="/etc/hosts", newpath="/tmp/h"),
     False),
    ("Packet socket created", "AF_PACKET",
     ev("socket", proc("python3"), res=3, domain=socket.AF_PACKET, type=3, proto=0), True),
    ("Packet socket created", "dhclient",
     ev("socket", proc("dhclient"), res=3, domain=socket.AF_PACKET, type=3, proto=0), False),
    ("Packet socket created", "AF_INET",
     ev("socket", proc("python3"), res=3, domain=socket.AF_INET, type=1, proto=0), False),
    ("Redirect STDOUT/STDIN to network connection", "dup2 socket to 0", dup2("4", 0), True),
    ("Redirect STDOUT/STDIN to network connection", "dup2 socket to 5", dup2("4", 5), False),
    ("Redirect STDOUT/STDIN to network connection", "dup2 pipe to 1", dup2("p", 1), False),
    ("Netcat remote code execution", "nc -e", exec_("nc", "-e", "/bin/sh", "192.0.2.2", "4444"), True),
    ("Netcat remote code execution", "nc -z", exec_("nc", "-z", "192.0.2.2", "4444"), False),
    ("PTRACE attached to process", "PTRACE_ATTACH", ev("ptrace", proc("evil"), request=16, pid=5), True),
    ("PTRACE attached to process", "gdb", ev("ptrace", proc("gdb"), request=16, pid=5), False),
    ("PTRACE attached to process", "PTRACE_PEEKDATA", ev("ptrace", proc("evil"), request=2, pid=5), False),
    ("PTRACE anti-debug attempt", "PTRACE_TRACEME", ev("ptrace", proc("evil"), request=0, pid=0), True),
    ("PTRACE anti-debug attempt", "strace", ev("ptrace", proc("strace"), request=0, pid=0), False),
    ("Linux kernel module injection", "init_module",
     ev("init_module", proc("evil"), res=-8, length=12, uargs=""), True),
    ("Linux kernel module injection", "modprobe",
     ev("finit_module", proc("modprobe"), fd=None, uargs="", flags=0), False),
    ("Detect release_agent file container escapes", "in a container",
     open_("/sys/fs/cgroup/x/release_agent", O_WRONLY, comm="sh", container=CID), True),
    ("Detect release_agent file container escapes", "on the host",
     open_("/sys/fs/cgroup/x/release_agent", O_WRONLY, comm="sh"), False),
    ("Read cloud credentials", "cat ~/.aws/credentials", open_("/root/.aws/credentials", O_RDONLY), True),
    ("Read cloud credentials", "aws cli", open_("/root/.aws/credentials", O_RDONLY, comm="aws"), False),
    ("Execution from /dev/shm", "/dev/shm/x", exec_("x", exepath="/dev/shm/x"), True),
    ("Execution from /dev/shm", "/usr/bin/x", exec_("x"), False),
    ("Fileless execution via memfd_create", "/proc/self/fd/3", exec_("3", exepath="/proc/self/fd/3"), True),
    ("Fileless execution via memfd_create", "memfd: path", exec_("x", exepath="/memfd:x (deleted)"), True),
    ("Fileless execution via memfd_create", "/usr/bin/x", exec_("x"), False),
    ("Drop and execute new binary in container", "/tmp in a container",
     exec_("x", exepath="/tmp/x", container=CID), True),
    ("Drop and execute new binary in container", "/tmp on the host", exec_("x", exepath="/tmp/x"), False),
    ("Drop and execute new binary in container", "/bin in a container",
     exec_("x", exepath="/bin/x", container=CID), False),
    ("Mount in container", "mount tmpfs",
     ev("mount", proc("mount", container=CID), dev="none", dir="/mnt", type="tmpfs", flags=0), True),
    ("Mount in container", "runc init",
     ev("mount", proc("runc", ("init",), container=CID), dev="proc", dir="/proc", type="proc", flags=0), False),
    ("Mount in container", "on the host",
     ev("mount", proc("mount"), dev="none", dir="/mnt", type="tmpfs", flags=0), False),
    ("Launch privileged container", "privileged", container_event(privileged=True), True),
    ("Launch privileged container", "unprivileged", container_event(), False),
    ("Launch sensitive mount container", "/etc mounted", container_event([mount("/etc", "/host-etc")]), True),
    ("Launch sensitive mount container", "docker.sock",
     container_event([mount("/var/run/docker.sock", "/var/run/docker.sock")]), True),
    ("Launch sensitive mount container", "a data volume",
     container_event([mount("/srv/data", "/data")]), False),
    ("Non-root setuid to root", "nobody asks for 0",
     ev("setuid", proc("evil", uid=65534), res=-1, uid=0), True),
    ("Non-root setuid to root", "root drops", ev("setuid", proc("evil"), uid=65534), False),
    ("Non-root setuid to root", "sudo", ev("setuid", proc("sudo", uid=1000), uid=0), False),
    ("Set setuid or setgid bit", "chmod u+s",
     ev("fchmodat", proc("chmod"), abspath="/tmp/x", dirfd=-100, filename="/tmp/x", mode=0o4755), True),
    ("Set setuid or setgid bit", "chmod 755",
     ev("fchmodat", proc("chmod"), abspath="/tmp/x", dirfd=-100, filename="/tmp/x", mode=0o755), False),
    ("Outbound connection to crypto mining pool port", "port 3333", connect("xm", "192.0.2.2", 3333), True),
    ("Outbound connection to crypto mining pool port", "port 443", connect("xm", "192.0.2.2", 443), False),
    ("Access to another process's memory", "/proc/42/mem", open_("/proc/42/mem", O_RDONLY, comm="evil"), True),
    ("Access to another process's memory", "/proc/42/maps", open_("/proc/42/maps", O_RDONLY, comm="evil"), False),
    # allow-lists name programs, not interpreters; package work is allowed through its ancestor
    ("Write below etc", "python3 writes /etc", open_("/etc/evil.conf", O_WRONLY | O_CREAT, comm="python3"), True),
    ("Write below etc", "pip writes /etc", open_("/etc/evil.conf", O_WRONLY | O_CREAT, comm="pip"), True),
    ("Write below etc", "perl writes /etc", open_("/etc/evil.conf", O_WRONLY | O_CREAT, comm="perl"), True),
    ("Write below etc", "dpkg -> sh -> sed (maintainer script)",
     open_("/etc/evil.conf", O_WRONLY | O_CREAT, comm="sed", parent="sh", gparent="dpkg"), False),
    ("Write below binary dir", "python3", open_("/usr/bin/evil", O_WRONLY | O_CREAT, comm="python3"), True),
    ("Write below binary dir", "pip into /usr/bin", open_("/usr/bin/evil", O_WRONLY | O_CREAT, comm="pip"), True),
    ("Write below binary dir", "pip console script in /usr/local/bin",
     open_("/usr/local/bin/black", O_WRONLY | O_CREAT, comm="pip"), False),
    ("Write below binary dir", "apt-get -> dpkg -> sh (postinst)",
     open_("/usr/bin/evil", O_WRONLY | O_CREAT, comm="cp", parent="sh", gparent="dpkg"), False),
    ("Read cloud credentials", "python3", open_("/root/.aws/credentials", O_RDONLY, comm="python3"), True),
    ("Outbound connection from shell or interpreter", "bash /dev/tcp", connect("bash", "192.0.2.2", 4444), True),
    ("Outbound connection from shell or interpreter", "python3 -c",
     connect("python3", "192.0.2.2", 4444, args=("-c", "import socket")), True),
    ("Outbound connection from shell or interpreter", "perl -e", connect("perl", "192.0.2.2", 443), True),
    ("Outbound connection from shell or interpreter", "gawk /inet/tcp", connect("gawk", "192.0.2.2", 80), True),
    ("Outbound connection from shell or interpreter", "renamed copy in /tmp",
     connect("x", "192.0.2.2", 4444, exepath="/tmp/x"), True),
    ("Outbound connection from shell or interpreter", "python3 -m pip",
     connect("python3", "192.0.2.2", 443, args=("-m", "pip", "install", "x")), False),
    ("Outbound connection from shell or interpreter", "python3 -m pip with a -c before",
     connect("python3", "192.0.2.2", 443, args=("-c", "x", "-m", "pip")), True),
    ("Outbound connection from shell or interpreter", "npm under node",
     connect("node", "192.0.2.2", 443, args=("/usr/bin/npm", "install")), False),
    ("Outbound connection from shell or interpreter", "python3 to loopback",
     connect("python3", "127.0.0.1", 4444), False),
    ("Outbound connection from shell or interpreter", "python3 -m http.server: getaddrinfo sorts :: (UDP connect)",
     connect("python3", "::", 8000, args=("-m", "http.server", "8000")), False),
    ("Outbound connection from shell or interpreter", "python3 -m http.server: getaddrinfo sorts 0.0.0.0 (UDP connect)",
     connect("python3", "0.0.0.0", 8000, args=("-m", "http.server", "8000")), False),
    ("Outbound connection from shell or interpreter", "curl", connect("curl", "192.0.2.2", 443), False),
    ("Outbound connection from shell or interpreter", "go test binary in /tmp/go-build",
     connect("x.test", "192.0.2.2", 5432, exepath="/tmp/go-build123/b001/x.test"), False),
    ("Read sensitive file untrusted", "openat2 (flags unknown)",
     b.event("openat2", {"dirfd": -100, "name": SHADOW}, res=3, fd=b.file_fd(SHADOW, 3, flags=O_RDONLY), proc=proc("cat"), ts=TS), True),
    ("Rename in binary dir", "mv into /usr/local/bin",
     ev("renameat2", proc("mv"), abspath="/tmp/x", dst="/usr/local/bin/x", oldpath="/tmp/x", newpath="/usr/local/bin/x"), True),
    ("Mkdir binary dirs", "mkdir /usr/local/sbin/x",
     ev("mkdirat", proc("mkdir"), abspath="/usr/local/sbin/x", path="/usr/local/sbin/x"), True),
    ("Fileless execution via memfd_create", "execveat by descriptor",
     b.event("execveat", {"dirfd": 3, "filename": "", "flags": 0x1000}, res=0, proc=b.process("3", pid=100, exepath="", parent=b.process("bash", pid=10, exe="")), ts=TS), True),
    ("Change thread namespace", "setns", ev("setns", proc("evil"), fd=None, nstype=0), True),
    ("Change thread namespace", "nsenter", ev("setns", proc("nsenter", ("-t", "1", "-m")), fd=None, nstype=0), True),
    ("Change thread namespace", "python3", ev("setns", proc("python3"), fd=None, nstype=0), True),
    ("Change thread namespace", "runc", ev("setns", proc("runc"), fd=None, nstype=0), False),
    ("Change thread namespace", "runc:[1:CHILD]", ev("setns", proc("runc:[1:CHILD]"), fd=None, nstype=0), False),
    ("Change thread namespace", "ip netns exec",
     ev("setns", proc("ip", ("netns", "exec", "t", "true")), fd=None, nstype=0), False),
    ("Change thread namespace", "systemd unit set-up",
     ev("setns", proc("(sshd)", parent="systemd"), fd=None, nstype=0), False),
    ("Change thread namespace", "failed", ev("setns", proc("evil"), res=-1, fd=None, nstype=0), False),
    ("Change namespace privileges via unshare", "CLONE_NEWUTS", ev("unshare", proc("evil"), flags=0x04000000), True),
    ("Change namespace privileges via unshare", "unshare -r (CLONE_NEWUSER)",
     ev("unshare", proc("unshare", ("-r",)), flags=0x10000000), True),
    ("Change namespace privileges via unshare", "CLONE_FS only (no namespace)",
     ev("unshare", proc("evil"), flags=0x00000200), False),
    ("Change namespace privileges via unshare", "ip netns add",
     ev("unshare", proc("ip", ("netns", "add", "t")), flags=0x40000000), False),
    ("Change namespace privileges via unshare", "runc", ev("unshare", proc("runc:[1:CHILD]"), flags=0x20000), False),
    # incubating
    ("Known crypto miner process executed", "xmrig", exec_("xmrig"), True),
    ("Known crypto miner process executed", "make", exec_("make"), False),
    ("DB program spawned process", "postgres -> true", exec_("true", parent="postgres"), True),
    ("DB program spawned process", "postgres -> postgres", exec_("postgres", parent="postgres"), False),
    ("User mgmt binaries", "useradd", exec_("useradd", "eve"), True),
    ("User mgmt binaries", "useradd from dpkg", exec_("useradd", "eve", parent="dpkg"), False),
    ("Schedule cron jobs", "crontab -e", exec_("crontab", "-e"), True),
    ("Schedule cron jobs", "crontab -l", exec_("crontab", "-l"), False),
    ("Schedule cron jobs", "write /etc/cron.d", open_("/etc/cron.d/evil", O_WRONLY | O_CREAT, comm="sh"), True),
    ("Modify shell configuration file", ".bashrc", open_("/home/u/.bashrc", O_WRONLY, comm="sh"), True),
    ("Modify shell configuration file", "read .bashrc", open_("/home/u/.bashrc", O_RDONLY, comm="bash"), False),
    ("Adding ssh keys to authorized_keys", "write",
     open_("/root/.ssh/authorized_keys", O_WRONLY, comm="sh"), True),
    ("Adding ssh keys to authorized_keys", "known_hosts",
     open_("/root/.ssh/known_hosts", O_WRONLY, comm="ssh"), False),
    ("Read environment of another process", "/proc/42/environ",
     open_("/proc/42/environ", O_RDONLY, comm="evil"), True),
    ("Read environment of another process", "ps", open_("/proc/42/environ", O_RDONLY, comm="ps"), False),
    ("Write below root", "/root/x", open_("/root/x", O_WRONLY | O_CREAT, comm="sh"), True),
    ("Write below root", "/root/.bash_history", open_("/root/.bash_history", O_WRONLY, comm="bash"), False),
    ("Launch suspicious network tool in container", "nmap", exec_("nmap", container=CID), True),
    ("Launch suspicious network tool in container", "nmap on the host", exec_("nmap"), False),
    ("Remove bulk data from disk", "shred", exec_("shred", "-u", "x"), True),
    ("Remove bulk data from disk", "rm", exec_("rm", "x"), False),
]
