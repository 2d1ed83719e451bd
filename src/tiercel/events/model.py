"""The one event model shared by live capture and capture-file replay.

Names follow Falco's fields: `Event.type` is `evt.type`, `Event.args` holds `evt.arg.<name>` in Falco's
parameter order, `Process` is what `proc.*` reads and `Fd` what `fd.*` reads. The state stage fills
`Event.proc` and `Event.fd`; the rules stage only reads.

Argument values are the kernel's (open flags, clone flags, ptrace requests as the syscall took them);
Falco's encodings and texts are derived from them in one place, events/flags.py, when a field or an
output asks. A capture-file reader converts Falco's stored encoding back to the kernel's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DIR_ENTER = ">"
DIR_EXIT = "<"


@dataclass(slots=True, eq=False)
class Fd:
    """One open file descriptor of a process (libsinsp's fdinfo)."""

    num: int
    typechar: str                 # fd.typechar: f file, d directory, 4 ipv4, 6 ipv6, u unix, p pipe,
    #                               e eventfd, s signalfd, l eventpoll, i inotify, t timerfd, m memfd
    name: str = ""                # fd.name: the path, or "cip:cport->sip:sport" for a connection
    openflags: int = 0            # flags passed to open (fd.openflags style raw value)
    l4proto: str = ""             # fd.l4proto: tcp, udp, icmp, raw
    cip: str = ""                 # client address: the side that connected
    cport: int = 0
    sip: str = ""                 # server address: the side that listened
    sport: int = 0
    is_server: bool = False       # this process holds the server end (accepted or listening)
    ino: int = 0
    dev: int = 0

    @property
    def type(self) -> str:
        return FD_TYPES.get(self.typechar, "unknown")


FD_TYPES = {
    "f": "file", "d": "directory", "4": "ipv4", "6": "ipv6", "u": "unix", "p": "pipe",
    "e": "event", "s": "signalfd", "l": "eventpoll", "i": "inotify", "t": "timerfd",
    "m": "memfd", "n": "netlink", "b": "bpf", "r": "io_uring", "o": "unknown",
}


# fd.typechar of a socket by its family (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK; any other: "o"), and
# fd.l4proto by its protocol (IPPROTO_TCP, UDP, ICMP, ICMPV6), else by its type (SOCK_STREAM ...)
FAMILY_CHARS = {1: "u", 2: "4", 10: "6", 16: "n"}
PROTO_L4 = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}
SOCK_L4 = {1: "tcp", 2: "udp", 3: "raw"}
SOCK_RAW = 3
S_IFMT, S_IFSOCK = 0o170000, 0o140000


@dataclass(frozen=True, slots=True)
class KernelFd:
    """An fd as the task's file table had it at the event (live capture: the probe's fd_describe).
    The state builds `Event.fd` from it, so a record is right about its fd whether or not the records
    that made that fd ever left the kernel."""

    num: int
    mode: int                     # the inode's i_mode (S_IFSOCK, S_IFREG ...; 0: no inode)
    family: int = 0               # a socket's AF_*
    sock_type: int = 0            # SOCK_STREAM, SOCK_DGRAM ...
    proto: int = 0                # IPPROTO_*
    laddr: str = ""               # the local end ("" when unbound), and the remote one
    lport: int = 0
    raddr: str = ""
    rport: int = 0
    role: int = 0                 # which end: 1 the client's (connect), 2 the server's, 0 not known

    @property
    def is_socket(self) -> bool:
        return self.mode & S_IFMT == S_IFSOCK

    @property
    def typechar(self) -> str:
        """fd.typechar of this socket (call only for a socket)."""
        return FAMILY_CHARS.get(self.family, "o")

    @property
    def l4proto(self) -> str:
        """fd.l4proto as libsinsp has it: known once an inet socket has an end (bound, connected or
        accepted); "" (<NA>) before, and for unix and netlink sockets. The probe's sock_kind reads
        the same (kfilter.bpf.c)."""
        if self.family not in (2, 10) or not (self.lport or self.rport):
            return ""
        if self.sock_type == SOCK_RAW:
            return "raw"
        return PROTO_L4.get(self.proto) or SOCK_L4.get(self.sock_type, "")


@dataclass(slots=True, eq=False)
class Pod:
    """The Kubernetes pod a container runs in (k8s.* fields), from its CRI pod sandbox."""

    name: str = ""                # k8s.pod.name
    namespace: str = ""           # k8s.ns.name
    uid: str = ""                 # k8s.pod.uid
    labels: dict[str, str] = field(default_factory=dict)  # k8s.pod.labels
    ip: str = ""                  # k8s.pod.ip: "" for a pod on the node's network
    sandbox_id: str = ""          # k8s.pod.full_sandbox_id (k8s.pod.sandbox_id: its first 12)
    cni_json: str = ""            # k8s.pod.cni.json: the CNI result the runtime kept (containerd)


@dataclass(slots=True, eq=False)
class Container:
    """A container's identity and metadata (container.*, k8s.* fields); filled by tiercel.container."""

    id: str                       # container.id: the first 12 hex digits, "host" style ids excluded
    full_id: str = ""             # container.full_id
    type: str = ""                # container.type: docker, containerd, cri-o, podman
    name: str = ""                # container.name
    image: str = ""               # container.image: repository:tag as the runtime reports it
    image_repository: str = ""
    image_tag: str = ""
    image_id: str = ""
    privileged: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)
    image_digest: str = ""
    mounts: list[dict[str, Any]] = field(default_factory=list)  # the Docker API's shape
    start_ts: int = 0             # ns since the epoch
    healthcheck: list[str] | None = None  # the health check's argv, as its process will show it
    liveness_probe: list[str] | None = None
    readiness_probe: list[str] | None = None
    ip: str = ""                  # container.ip: the pod's (CRI) or the container's own address
    pod: Pod | None = None        # CRI containers: their pod sandbox


@dataclass(slots=True, eq=False)
class Process:
    """A process (thread group) as the state knows it (libsinsp's threadinfo, per process).

    Threads of one process share this object: fds, cwd and credentials are per process here.
    """

    pid: int                      # proc.pid (tgid)
    ppid: int                     # proc.ppid
    vpid: int = 0                 # proc.vpid: the pid in its own pid namespace (0: unknown)
    comm: str = ""                # proc.name: the kernel's task comm (at most 15 bytes)
    exe: str = ""                 # proc.exe: argv[0] as the process was started
    exepath: str = ""             # proc.exepath: the executable's full path
    args: list[str] = field(default_factory=list)  # proc.args: argv[1:]
    cwd: str = "/"                # proc.cwd, always ends with "/" like Falco's
    uid: int = 0                  # user.uid
    gid: int = 0                  # group.gid
    user: str = ""                # user.name, looked up by the state when uid changes
    group: str = ""               # group.name
    loginuid: int = -1            # user.loginuid (-1: unset)
    loginname: str = ""           # user.loginname
    tty: int = 0                  # proc.tty
    start_ts: int = 0             # ns since the epoch the process started (0: unknown)
    parent: Process | None = None
    fds: dict[int, Fd] = field(default_factory=dict)
    threads: set[int] = field(default_factory=set)
    container_id: str = ""        # container.id ("" on the host)
    container: Container | None = None  # metadata, when the runtime has answered
    exited: bool = False
    argv_truncated: bool = False

    @property
    def cmdline(self) -> str:
        """proc.cmdline: the name followed by the arguments, as Falco prints it."""
        return " ".join([self.comm, *self.args]) if self.args else self.comm

    def ancestor(self, n: int) -> Process | None:
        """proc.aname[n]: 1 is the parent, 2 the grandparent; 0 is the process itself."""
        p: Process | None = self
        for _ in range(n):
            if p is None:
                return None
            p = p.parent
        return p


@dataclass(slots=True, eq=False)
class Event:
    """One event: a syscall (enter arguments merged with the exit), a task creation or an exit."""

    num: int                      # evt.num, from 1 in order of arrival
    ts: int                       # evt.rawtime: ns since the epoch
    type: str                     # evt.type: Falco's event name (openat, execve, clone, procexit)
    dir: str                      # evt.dir: "<" for a syscall exit, ">" for an enter
    tid: int                      # thread.tid
    pid: int                      # proc.pid
    cpu: int = 0                  # evt.cpu
    uid: int = 0                  # the task's uid when the event happened
    gid: int = 0
    comm: str = ""                # the task's comm when the event happened
    res: int | None = None        # evt.res as a number (None: the event has no return value)
    args: dict[str, Any] = field(default_factory=dict)  # evt.arg.<name>, Falco's names and order
    proc: Process | None = None   # filled by the state stage
    fd: Fd | None = None          # the fd the event acts on or creates, filled by the state stage
    sysargs: tuple[int, ...] = ()  # the raw syscall arguments (live capture only)
    cgroup: str | None = None     # exec events: the name of the cgroup the new program runs in
    vpid: int = 0                 # exec events: the pid in the process's own namespace (0: unknown)
    tty: int | None = None        # exec events: the controlling terminal (tty_nr; 0: none)
    abspath: str | None = None    # evt.abspath: the path argument made absolute (dirfd, cwd)
    abspath_dst: str | None = None  # evt.abspath.dst: the second path (rename, link, symlink)
    realpath: str | None = None   # live, open family: where the probe found the opened file when
    #                               it was opened under another name (a link): fd.name then
    count: int = 1                # evt.count: how many identical syscalls this event stands for
    repeats_before: int = 0       # live: the thread's previous event repeated this often (coalesced)
    kfd: KernelFd | None = None   # live: the fd it used or made, as the kernel had it (state: Event.fd)

    @property
    def failed(self) -> bool:
        return self.res is not None and self.res < 0
