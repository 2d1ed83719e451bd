"""evt.* and syscall.type: the event itself (type, direction, time, return value, arguments)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tiercel.events import flags as fl
from tiercel.rules.fields import evtinfo as info
from tiercel.rules.fields.spec import (
    ArgKind,
    Extractor,
    FieldArgumentError,
    FieldEnv,
    FieldSpec,
    spec,
)

if TYPE_CHECKING:
    from tiercel.events.model import Event

_NS = 1_000_000_000


def _time(ev: Event) -> str:
    t = time.localtime(ev.ts // _NS)
    return f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ev.ts % _NS:09d}"


def _time_s(ev: Event) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ev.ts // _NS))


def _time_iso(ev: Event) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ev.ts // _NS)) + f".{ev.ts % _NS:09d}Z"


def _datetime(ev: Event) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ev.ts // _NS)) + f".{ev.ts % _NS:09d}"


def _datetime_s(ev: Event) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ev.ts // _NS))


def _res(ev: Event) -> str | None:
    r = ev.res
    if r is None:
        return None
    return "SUCCESS" if r >= 0 else fl.errno_name(r)


def _failed(ev: Event) -> bool:
    r = ev.res
    return r is not None and r < 0


def _syscall_type(ev: Event) -> str | None:
    return None if ev.type in info.NOT_SYSCALLS else ev.type


def _args_text(ev: Event, env: FieldEnv) -> str:
    """All arguments as `name=value`, with Falco's `raw(resolved)` form for flags and errors."""
    parts = []
    proc = ev.proc
    for name, value in ev.args.items():
        text = fl.render_arg(ev.type, name, value, env.user_name, env.group_name)
        if isinstance(value, int) and not isinstance(value, bool):
            raw = str(fl.falco_raw(ev.type, name, value))
            if text != raw:
                text = f"{raw}({text})"
            elif value >= 0 and name in _FD_PARAMS:
                fd = ev.fd if ev.fd is not None and ev.fd.num == value else (
                    proc.fds.get(value) if proc is not None else None)
                if fd is not None:
                    text = f"{raw}(<{fd.typechar}>{fd.name})"
        parts.append(f"{name}={text}")
    return " ".join(parts)


_FD_PARAMS = frozenset({"fd", "dirfd", "oldfd", "newfd", "in_fd", "out_fd", "fd_in", "fd_out"})


def _args_factory(_arg: Any, env: FieldEnv) -> Extractor:
    return lambda ev: _args_text(ev, env)


def _arg_factory(arg: Any, env: FieldEnv) -> Extractor:
    """evt.arg.NAME / evt.arg[NAME]: the rendered argument; evt.arg[N]: the N-th, rendered."""
    users, groups = env.user_name, env.group_name
    if isinstance(arg, int):
        index = arg

        def by_index(ev: Event) -> str | None:
            for i, (name, value) in enumerate(ev.args.items()):
                if i == index:
                    return fl.render_arg(ev.type, name, value, users, groups)
            return None
        return by_index

    key = arg
    # Flags and modes are ints whose text depends only on the event type and the value: cached per
    # (type, value), so `evt.arg.flags contains O_TRUNC` renders each flag combination once. User
    # and group ids are left to the name lookups, whose answers may change.
    named = frozenset(t for t, n in fl.UID_PARAMS | fl.GID_PARAMS if n == key)
    texts: dict[str, dict[int, str]] = {}

    def by_name(ev: Event) -> str | None:
        value = ev.args.get(key)
        if value is None:
            return None
        if value.__class__ is int:
            etype = ev.type
            cache = texts.get(etype)
            if cache is None:
                if etype in named:
                    return fl.render_arg(etype, key, value, users, groups)
                cache = texts[etype] = {}
            text = cache.get(value)
            if text is None:
                if len(cache) >= _RENDER_CACHE:
                    cache.clear()
                text = cache[value] = fl.render_arg(etype, key, value, users, groups)
            return text
        return fl.render_arg(ev.type, key, value, users, groups)
    return by_name


_RENDER_CACHE = 4096    # distinct values per event type and argument (flags combinations are few)


def _rawarg_factory(arg: Any, _env: FieldEnv) -> Extractor:
    key = arg
    return lambda ev: fl.falco_raw(ev.type, key, ev.args.get(key))


def _rawarg_type(arg: Any) -> str:
    if arg not in info.RAWARG_TYPE:
        raise FieldArgumentError(f"evt.rawarg: no event has an argument named '{arg}'")
    return info.RAWARG_TYPE[arg]


def _type_is_factory(arg: Any, _env: FieldEnv) -> Extractor:
    name = arg
    return lambda ev: 1 if ev.type == name else 0


def _buffer(ev: Event) -> bytes | None:
    data = ev.args.get("data")
    if data is None:
        return None
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    return bytes(data)


def _buflen(ev: Event) -> int | None:
    data = ev.args.get("data")
    if data is not None:
        return len(data)
    if ev.type in info.READS_FROM_FD or ev.type in info.WRITES_TO_FD:
        r = ev.res
        return r if r is not None and r >= 0 else None
    return None


def _io_dir(ev: Event) -> str | None:
    if ev.type in info.READS_FROM_FD:
        return "r"
    if ev.type in info.WRITES_TO_FD:
        return "w"
    return None


def _is_syslog(ev: Event) -> bool:
    fd = ev.fd
    return ev.type in info.WRITES_TO_FD and fd is not None and fd.name == "/dev/log"


def _is_open_read(ev: Event) -> bool:
    if ev.type not in info.OPEN_EVENTS:
        return False
    f = ev.args.get("flags")
    return isinstance(f, int) and fl.open_reads(f)


def _is_open_write(ev: Event) -> bool:
    if ev.type not in info.OPEN_EVENTS:
        return False
    f = ev.args.get("flags")
    return isinstance(f, int) and fl.open_writes(f)


def _is_open_exec(ev: Event) -> bool:
    if ev.type not in info.OPEN_EVENTS:
        return False
    f = ev.args.get("flags")
    mode = ev.args.get("mode")
    return isinstance(f, int) and isinstance(mode, int) and fl.open_creates_executable(f, mode)


def _count_error_in(category: str) -> Extractor:
    return lambda ev: 1 if _failed(ev) and info.CATEGORY.get(ev.type, "other") == category else 0


def _count_error_other(ev: Event) -> int:
    return 1 if _failed(ev) and info.CATEGORY.get(ev.type, "other") not in ("file", "net", "memory") else 0


def _hostname_factory(_arg: Any, env: FieldEnv) -> Extractor:
    name = env.hostname
    return lambda _ev: name


FIELDS: tuple[FieldSpec, ...] = (
    spec("evt.num", "UINT64", "Sequence number of the event, from 1 in order of arrival.", lambda ev: ev.num),
    spec("evt.time", "CHARBUF", "Time of the event, local clock, to the nanosecond (hh:mm:ss.ns).", _time),
    spec("evt.time.s", "CHARBUF", "Time of the event, local clock, to the second (hh:mm:ss).", _time_s),
    spec("evt.time.iso8601", "CHARBUF", "Time of the event in ISO 8601 form, UTC.", _time_iso),
    spec("evt.datetime", "CHARBUF", "Date and time of the event, local clock, to the nanosecond.", _datetime),
    spec("evt.datetime.s", "CHARBUF", "Date and time of the event, local clock, to the second.", _datetime_s),
    spec("evt.rawtime", "ABSTIME", "Time of the event in nanoseconds since the epoch.", lambda ev: ev.ts),
    spec("evt.rawtime.s", "ABSTIME", "Whole seconds of evt.rawtime.", lambda ev: ev.ts // _NS),
    spec("evt.rawtime.ns", "ABSTIME", "Nanosecond part of evt.rawtime.", lambda ev: ev.ts % _NS),
    spec("evt.dir", "CHARBUF", "Direction: '>' when a syscall starts, '<' when it returns.",
         lambda ev: ev.dir),
    spec("evt.type", "CHARBUF", "Name of the event, usually the syscall's (open, execve, connect).",
         lambda ev: ev.type),
    spec("evt.type.is", "UINT32", "1 when the event's type is the one given as argument, else 0.",
         factory=_type_is_factory, arg=ArgKind.KEY, dotted_key=True),
    spec("syscall.type", "CHARBUF", "For system call events, the syscall's name; empty for other events.",
         _syscall_type),
    spec("evt.category", "CHARBUF", "Class of the event: file, net, process, memory, IO_read, wait ...",
         lambda ev: info.CATEGORY.get(ev.type, "other")),
    spec("evt.cpu", "INT16", "Number of the CPU the event happened on.", lambda ev: ev.cpu),
    spec("evt.args", "CHARBUF", "Every argument of the event as name=value pairs.", factory=_args_factory),
    spec("evt.info", "CHARBUF", "Readable summary of the event; for syscalls, its arguments.",
         factory=_args_factory),
    spec("evt.arg", "CHARBUF", "One argument, by name (evt.arg.flags) or position (evt.arg[0]), in "
         "readable form: flag names, errno names, user names.", factory=_arg_factory,
         arg=ArgKind.INDEX_OR_KEY, dotted_key=True),
    spec("evt.rawarg", "UINT64", "One argument by name, as a number in Falco's encoding (flags as bits).",
         factory=_rawarg_factory, arg=ArgKind.KEY, dotted_key=True, arg_type=_rawarg_type),
    spec("evt.buffer", "BYTEBUF", "Data buffer of I/O events (read, write, sendto ...).", _buffer),
    spec("evt.buflen", "UINT64", "Length of the data buffer of I/O events.", _buflen),
    spec("evt.res", "CHARBUF", "Return value as text: SUCCESS, or the error's name (ENOENT).", _res),
    spec("evt.rawres", "INT64", "Return value as a number; negative values are errors.", lambda ev: ev.res),
    spec("evt.failed", "BOOL", "True when the event returned an error.", _failed),
    spec("evt.is_io", "BOOL", "True for events that read or write data on a file descriptor.",
         lambda ev: ev.type in info.READS_FROM_FD or ev.type in info.WRITES_TO_FD),
    spec("evt.is_io_read", "BOOL", "True for events that read data from a file descriptor.",
         lambda ev: ev.type in info.READS_FROM_FD),
    spec("evt.is_io_write", "BOOL", "True for events that write data to a file descriptor.",
         lambda ev: ev.type in info.WRITES_TO_FD),
    spec("evt.io_dir", "CHARBUF", "'r' for reading events, 'w' for writing events.", _io_dir),
    spec("evt.is_wait", "BOOL", "True for events that make the thread wait (poll, nanosleep ...).",
         lambda ev: ev.type in info.WAITS),
    spec("evt.is_syslog", "BOOL", "True for writes to /dev/log.", _is_syslog),
    spec("evt.count", "UINT32", "How many syscalls the event stands for: 1, or more when the kernel "
         "counted a thread's identical repeats within a second into it; sums to the number of "
         "events. In an alert's output_fields when above 1.", lambda ev: ev.count),
    spec("evt.count.error", "UINT32", "1 for events that returned an error.",
         lambda ev: 1 if _failed(ev) else 0),
    spec("evt.count.error.file", "UINT32", "1 for failed file events.", _count_error_in("file")),
    spec("evt.count.error.net", "UINT32", "1 for failed network events.", _count_error_in("net")),
    spec("evt.count.error.memory", "UINT32", "1 for failed memory events.", _count_error_in("memory")),
    spec("evt.count.error.other", "UINT32", "1 for failed events of other classes.", _count_error_other),
    spec("evt.count.exit", "UINT32", "1 for exit events.", lambda ev: 1 if ev.dir == "<" else 0),
    spec("evt.is_open_read", "BOOL", "True for open events that open for reading.", _is_open_read),
    spec("evt.is_open_write", "BOOL", "True for open events that open for writing.", _is_open_write),
    spec("evt.is_open_exec", "BOOL", "True for open events that create a file with an execute bit.",
         _is_open_exec),
    spec("evt.source", "CHARBUF", "Source of the event: 'syscall'.", lambda _ev: "syscall"),
    spec("evt.hostname", "CHARBUF", "Name of the host the event happened on.", factory=_hostname_factory),
    spec("evt.is_async", "BOOL", "True for events not caused by a syscall of the thread; never here.",
         lambda _ev: False),
)
