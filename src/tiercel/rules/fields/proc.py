"""proc.* and thread.*: the process that caused the event and its ancestors.

Process attributes the event model does not carry yet (env, sid, vpgid, vtid, capabilities,
executable inode data) are read with `getattr(..., None)`: the fields extract nothing until the state
stage provides them, and work unchanged once it does. For the execve exit event itself, the same
values are taken from the event's arguments (a capture's execve carries capabilities and inode data).
Fields that nothing fills on any event are marked `unfilled` (a rule using one gets a warning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiercel.events import flags as fl
from tiercel.rules.fields.spec import ArgKind, Extractor, FieldEnv, FieldSpec, spec

if TYPE_CHECKING:
    from tiercel.events.model import Event, Process

_MAX_DEPTH = 128  # a parent chain longer than this is a loop in the state, not a real lineage


def _words(text: str) -> list[str]:
    return text.split()


_SHELLS = frozenset({"ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash", "fish"})
_EXEC_EVENTS = frozenset({"execve", "execveat"})

_CAPS = _words(
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE "
    "NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT "
    "SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE "
    "AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ "
    "PERFMON BPF CHECKPOINT_RESTORE")


def caps_text(mask: int) -> str:
    """A capability set as Falco prints it: names separated by spaces."""
    return " ".join("CAP_" + n for bit, n in enumerate(_CAPS) if mask >> bit & 1)


def _proc_attr(attr: str) -> Extractor:
    def get(ev: Event) -> Any:
        p = ev.proc
        return getattr(p, attr, None) if p is not None else None
    return get


def _parent_attr(attr: str) -> Extractor:
    def get(ev: Event) -> Any:
        p = ev.proc
        pp = p.parent if p is not None else None
        return getattr(pp, attr, None) if pp is not None else None
    return get


def _args_text(p: Process) -> str:
    return " ".join(p.args)


def _cmdline(p: Process) -> str:
    return p.cmdline


def _ancestor_factory(read: Any) -> Any:
    """proc.aX[N]: the N-th ancestor's value; proc.aX alone: the values of every ancestor."""
    def factory(arg: Any, _env: FieldEnv) -> Extractor:
        if arg is None:
            def every(ev: Event) -> list[Any] | None:
                p = ev.proc
                if p is None:
                    return None
                out = []
                a = p.parent
                for _ in range(_MAX_DEPTH):
                    if a is None:
                        break
                    out.append(read(a))
                    a = a.parent
                return out
            return every
        n = arg

        def nth(ev: Event) -> Any:
            a = ev.proc
            for _ in range(n):
                if a is None:
                    return None
                a = a.parent
            return read(a) if a is not None else None
        return nth
    return factory


def _name(ev: Event) -> str | None:
    p = ev.proc
    if p is not None:
        return p.comm
    return ev.comm or None


def _pid(ev: Event) -> int:
    p = ev.proc
    return p.pid if p is not None else ev.pid


def _map_proc(fn: Any) -> Extractor:
    def get(ev: Event) -> Any:
        p = ev.proc
        return fn(p) if p is not None else None
    return get


def _env_factory(arg: Any, _env: FieldEnv) -> Extractor:
    if arg is None:
        def whole(ev: Event) -> str | None:
            env = getattr(ev.proc, "env", None)
            if env is None:
                return None
            return env if isinstance(env, str) else " ".join(env)
        return whole
    prefix = f"{arg}="

    def one(ev: Event) -> str | None:
        env = getattr(ev.proc, "env", None)
        if env is None:
            return None
        for item in env.split() if isinstance(env, str) else env:
            if item.startswith(prefix):
                return item[len(prefix):]
        return None
    return one


def _loginshellid(ev: Event) -> int | None:
    p = ev.proc
    found = None
    for _ in range(_MAX_DEPTH):
        if p is None:
            break
        if p.comm in _SHELLS:
            found = p.pid
        p = p.parent
    return found


def _duration(ev: Event) -> int | None:
    p = ev.proc
    if p is None or not p.start_ts:
        return None
    return ev.ts - p.start_ts


def _parent_duration(ev: Event) -> int | None:
    p = ev.proc
    pp = p.parent if p is not None else None
    if pp is None or not pp.start_ts:
        return None
    return ev.ts - pp.start_ts


def _exec_value(attr: str, arg: str) -> Extractor:
    """A per-exec value: from the process, or from the execve event's own arguments."""
    def get(ev: Event) -> Any:
        v = getattr(ev.proc, attr, None)
        if v is None and ev.type in _EXEC_EVENTS:
            v = ev.args.get(arg)
        return v
    return get


def _exe_flag(attr: str, bit: int) -> Extractor:
    def get(ev: Event) -> bool | None:
        v = getattr(ev.proc, attr, None)
        if v is not None:
            return bool(v)
        if ev.type in _EXEC_EVENTS:
            f = ev.args.get("flags")
            if isinstance(f, int):
                return bool(f & bit)
        return None
    return get


def _caps(attr: str) -> Extractor:
    read = _exec_value(attr, attr)

    def get(ev: Event) -> str | None:
        mask = read(ev)
        return caps_text(mask) if isinstance(mask, int) else None
    return get


def _ctime_duration_proc_start(ev: Event) -> int | None:
    ctime = _exec_value("exe_ino_ctime", "exe_ino_ctime")(ev)
    p = ev.proc
    if not ctime or p is None or not p.start_ts:
        return None
    duration: int = p.start_ts - ctime
    return duration


def _leader(id_attr: str, read: Any) -> Extractor:
    """The eldest ancestor sharing this process's session / process group id."""
    def get(ev: Event) -> Any:
        p = ev.proc
        want = getattr(p, id_attr, None)
        if p is None or want is None:
            return None
        leader = p
        a = p.parent
        for _ in range(_MAX_DEPTH):
            if a is None or getattr(a, id_attr, None) != want:
                break
            leader = a
            a = a.parent
        return read(leader)
    return get


def _is_leader(id_attr: str) -> Extractor:
    def get(ev: Event) -> bool | None:
        p = ev.proc
        want = getattr(p, id_attr, None)
        if p is None or want is None:
            return None
        vpid = getattr(p, "vpid", None)
        return bool(want == (vpid if vpid is not None else p.pid))
    return get


def _healthcheck(kind: str) -> Extractor:
    """True when the process runs the container's configured probe command of that kind."""
    def get(ev: Event) -> bool:
        p = ev.proc
        c = p.container if p is not None else None
        probe = getattr(c, kind, None)
        if not probe or p is None:
            return False
        return [p.exe, *p.args] == list(probe)
    return get


def _anc(read: Any, desc: str, name: str, type_: str = "CHARBUF") -> FieldSpec:
    return spec(name, type_, desc, factory=_ancestor_factory(read), arg=ArgKind.INDEX_OPTIONAL,
                list_without_arg=True)


FIELDS: tuple[FieldSpec, ...] = (
    spec("proc.pid", "INT64", "Process id (thread group id) of the process that caused the event.", _pid),
    spec("proc.ppid", "INT64", "Process id of its parent.", _proc_attr("ppid")),
    spec("proc.name", "CHARBUF", "Name of the process (the kernel's comm, at most 15 characters).", _name),
    spec("proc.exe", "CHARBUF", "First command-line argument (argv[0]) the process was started with.",
         _proc_attr("exe")),
    spec("proc.exepath", "CHARBUF", "Full path of the process's executable.", _proc_attr("exepath")),
    spec("proc.args", "CHARBUF", "Command-line arguments after argv[0], separated by spaces.",
         _map_proc(_args_text)),
    spec("proc.cmdline", "CHARBUF", "Process name followed by its arguments.", _map_proc(_cmdline)),
    spec("proc.exeline", "CHARBUF", "argv[0] followed by the arguments.",
         _map_proc(lambda p: " ".join([p.exe, *p.args]))),
    spec("proc.cmdnargs", "UINT64", "Number of command-line arguments after argv[0].",
         _map_proc(lambda p: len(p.args))),
    spec("proc.cmdlenargs", "UINT64", "Total length of the arguments after argv[0], spaces excluded.",
         _map_proc(lambda p: sum(len(a) for a in p.args))),
    spec("proc.cwd", "CHARBUF", "Current working directory of the process.", _proc_attr("cwd")),
    spec("proc.env", "CHARBUF", "Environment of the process; proc.env[NAME] is one variable's value.",
         factory=_env_factory, arg=ArgKind.KEY_OPTIONAL, unfilled=True),
    spec("proc.tty", "UINT32", "Controlling terminal of the process, 0 when it has none.",
         _proc_attr("tty")),
    spec("proc.loginshellid", "INT64", "Pid of the eldest shell among the process and its ancestors.",
         _loginshellid),
    spec("proc.pname", "CHARBUF", "Name of the parent process.", _parent_attr("comm")),
    spec("proc.pcmdline", "CHARBUF", "Command line of the parent process.", _parent_attr("cmdline")),
    spec("proc.pexe", "CHARBUF", "argv[0] of the parent process.", _parent_attr("exe")),
    spec("proc.pexepath", "CHARBUF", "Executable path of the parent process.", _parent_attr("exepath")),
    _anc(lambda a: a.comm, "Name of the N-th ancestor (1 = parent); without [N], any ancestor.",
         "proc.aname"),
    _anc(lambda a: a.pid, "Pid of the N-th ancestor (1 = parent); without [N], any ancestor.",
         "proc.apid", "INT64"),
    _anc(lambda a: a.exe, "argv[0] of the N-th ancestor; without [N], any ancestor.", "proc.aexe"),
    _anc(lambda a: a.exepath, "Executable path of the N-th ancestor; without [N], any ancestor.",
         "proc.aexepath"),
    _anc(lambda a: a.cmdline, "Command line of the N-th ancestor; without [N], any ancestor.",
         "proc.acmdline"),
    spec("proc.duration", "RELTIME", "Nanoseconds since the process started.", _duration),
    spec("proc.ppid.duration", "RELTIME", "Nanoseconds since the parent process started.",
         _parent_duration),
    spec("proc.pid.ts", "RELTIME", "Start time of the process, ns since the epoch.",
         _map_proc(lambda p: p.start_ts or None)),
    spec("proc.ppid.ts", "RELTIME", "Start time of the parent process, ns since the epoch.",
         _parent_attr("start_ts")),
    spec("proc.fdopencount", "UINT64", "Number of file descriptors the process has open.",
         _map_proc(lambda p: len(p.fds))),
    spec("proc.nthreads", "UINT64", "Number of live threads of the process.",
         _map_proc(lambda p: len(p.threads) or 1)),
    spec("proc.nchilds", "UINT64", "Number of live threads besides the main one.",
         _map_proc(lambda p: max(len(p.threads) - 1, 0))),
    spec("proc.vpid", "INT64", "Pid of the process inside its pid namespace.", _proc_attr("vpid")),
    spec("proc.pvpid", "INT64", "Pid of the parent inside its pid namespace.", _parent_attr("vpid")),
    spec("proc.sid", "INT64", "Session id of the process.", _proc_attr("sid"), unfilled=True),
    spec("proc.sname", "CHARBUF", "Name of the session leader.",
         _leader("sid", lambda p: p.comm), unfilled=True),
    spec("proc.sid.exe", "CHARBUF", "argv[0] of the session leader.",
         _leader("sid", lambda p: p.exe), unfilled=True),
    spec("proc.sid.exepath", "CHARBUF", "Executable path of the session leader.",
         _leader("sid", lambda p: p.exepath), unfilled=True),
    spec("proc.vpgid", "INT64", "Process group id, inside the pid namespace.",
         _proc_attr("vpgid"), unfilled=True),
    spec("proc.vpgid.name", "CHARBUF", "Name of the process group leader.",
         _leader("vpgid", lambda p: p.comm), unfilled=True),
    spec("proc.vpgid.exe", "CHARBUF", "argv[0] of the process group leader.",
         _leader("vpgid", lambda p: p.exe), unfilled=True),
    spec("proc.vpgid.exepath", "CHARBUF", "Executable path of the process group leader.",
         _leader("vpgid", lambda p: p.exepath), unfilled=True),
    spec("proc.is_sid_leader", "BOOL", "True when the process leads its session.",
         _is_leader("sid"), unfilled=True),
    spec("proc.is_vpgid_leader", "BOOL", "True when the process leads its process group.",
         _is_leader("vpgid"), unfilled=True),
    spec("proc.is_exe_writable", "BOOL", "True when the executable is writable by the user who ran it.",
         _exe_flag("exe_writable", fl.EXE_WRITABLE)),
    spec("proc.is_exe_upper_layer", "BOOL", "True when the executable lives in an overlayfs upper layer "
         "(written inside the container).", _exe_flag("exe_upper_layer", fl.EXE_UPPER_LAYER)),
    spec("proc.is_exe_from_memfd", "BOOL", "True when the executable is a memfd (exists only in memory).",
         _exe_flag("exe_from_memfd", fl.EXE_FROM_MEMFD)),
    spec("proc.exe_ino", "INT64", "Inode number of the executable.", _exec_value("exe_ino", "exe_ino")),
    spec("proc.exe_ino.ctime", "ABSTIME", "Status-change time of the executable's inode (ns).",
         _exec_value("exe_ino_ctime", "exe_ino_ctime")),
    spec("proc.exe_ino.mtime", "ABSTIME", "Modification time of the executable's inode (ns).",
         _exec_value("exe_ino_mtime", "exe_ino_mtime")),
    spec("proc.exe_ino.ctime_duration_proc_start", "ABSTIME",
         "Nanoseconds between the executable's status change and the process start.",
         _ctime_duration_proc_start),
    spec("proc.pidns_init_start_ts", "UINT64", "Start time of the process's pid namespace (ns).",
         _exec_value("pidns_init_start_ts", "pidns_init_start_ts"), unfilled=True),
    spec("proc.is_container_healthcheck", "BOOL", "True when the process is the container's health check.",
         _healthcheck("healthcheck")),
    spec("proc.is_container_liveness_probe", "BOOL", "True when the process is the container's "
         "Kubernetes liveness probe.", _healthcheck("liveness_probe")),
    spec("proc.is_container_readiness_probe", "BOOL", "True when the process is the container's "
         "Kubernetes readiness probe.", _healthcheck("readiness_probe")),
    spec("thread.tid", "INT64", "Id of the thread that caused the event.", lambda ev: ev.tid),
    spec("thread.vtid", "INT64", "Thread id inside its pid namespace.",
         lambda ev: getattr(ev, "vtid", None), unfilled=True),
    spec("thread.ismain", "BOOL", "True when the thread is the process's main thread.",
         lambda ev: ev.tid == ev.pid),
    spec("thread.nametid", "CHARBUF", "Process name and thread id together, e.g. bash1234.",
         lambda ev: f"{_name(ev) or ''}{ev.tid}"),
    spec("thread.cap_permitted", "CHARBUF", "Permitted capabilities, by name.", _caps("cap_permitted")),
    spec("thread.cap_effective", "CHARBUF", "Effective capabilities, by name.", _caps("cap_effective")),
    spec("thread.cap_inheritable", "CHARBUF", "Inheritable capabilities, by name.",
         _caps("cap_inheritable")),
)
