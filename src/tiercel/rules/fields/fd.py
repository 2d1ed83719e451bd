"""fd.*, fs.path.* and evt.abspath*: the file or socket an event acts on, and the paths it names.

`Event.fd` is the descriptor the state stage attached. When an event that creates a descriptor failed
(an open of a missing file), there is no descriptor, and like libsinsp the name, directory and type
fall back to what the event's own arguments say.

For sockets, `Fd.cip/cport` is the side that connected and `Fd.sip/sport` the side that listened;
local and remote (fd.lip, fd.rip ...) follow from `Fd.is_server`. Nothing in tiercel resolves
addresses to domain names (fd.cip.name ...) or notices a socket's peer changing (fd.name_changed):
those fields are marked `unfilled`.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from tiercel.events.syscalls import SYSCALLS_X86_64, Fx, having
from tiercel.rules.fields import evtinfo as info
from tiercel.rules.fields.spec import ArgKind, Extractor, FieldEnv, FieldSpec, spec

if TYPE_CHECKING:
    from tiercel.events.model import Event, Fd

AT_FDCWD = -100
_SOCKET_CREATORS = having(Fx.CREATES_FD | Fx.SOCKET)
_CREATORS = info.CREATE_FD_PATH_EVENTS
_NET_TYPES = frozenset("46")
_PATH_TYPES = frozenset("fd")
_SINGLE_PATH = ("name", "path", "pathname", "filename")
_DIRFD = {"name": "dirfd", "path": "dirfd", "pathname": "dirfd", "filename": "dirfd"}
# Source-and-target events (rename, link, symlink: the syscall table's `a -> b` paths):
# event -> (source path parameter, its dirfd parameter, target path parameter, its dirfd parameter)
_TWO_PATHS: dict[str, tuple[str, str | None, str, str | None]] = {
    sc.name: (sc.paths[0].param, sc.paths[0].dirfd, sc.paths[1].param, sc.paths[1].dirfd)
    for sc in SYSCALLS_X86_64 if sc.source_target}


def absolute(ev: Event, path: Any, dirfd: Any = None) -> str | None:
    """`path` made absolute the way the kernel resolved it: against dirfd's directory, or the cwd."""
    if not isinstance(path, str) or not path:
        return None
    if path.startswith("/"):
        return posixpath.normpath(path)
    proc = ev.proc
    if proc is None:
        return None
    if isinstance(dirfd, int) and dirfd != AT_FDCWD:
        fd = proc.fds.get(dirfd)
        if fd is None:
            return None
        base = fd.name
    else:
        base = proc.cwd
    return posixpath.normpath(posixpath.join(base, path))


def _creator_path(ev: Event, raw: bool = False) -> str | None:
    """The path an open-family event names, for when it produced no descriptor."""
    if ev.type not in info.CREATE_FD_PATH_EVENTS:
        return None
    name = ev.args.get("name")
    if raw:
        return name if isinstance(name, str) else None
    return ev.abspath or absolute(ev, name, ev.args.get("dirfd"))


def _num(ev: Event) -> int | None:
    fd = ev.fd
    if fd is not None:
        return fd.num if fd.num >= 0 else -1  # a failed creation: libsinsp reports -1
    n = ev.args.get("fd")
    if not isinstance(n, int):
        return None
    if n < 0 and (ev.type in info.CREATE_FD_PATH_EVENTS or ev.type in _SOCKET_CREATORS):
        return -1  # a failed creation: libsinsp reports no descriptor as -1
    return n


def _name(ev: Event) -> str | None:
    fd = ev.fd
    return fd.name if fd is not None else _creator_path(ev)


def _nameraw(ev: Event) -> str | None:
    if ev.type in _CREATORS:            # _creator_path(ev, raw=True), inlined: a key field
        raw = ev.args.get("name")
        if isinstance(raw, str):
            return raw
    fd = ev.fd
    return fd.name if fd is not None and fd.typechar in _PATH_TYPES else None


def _typechar(ev: Event) -> str | None:
    fd = ev.fd
    if fd is not None:
        return fd.typechar
    if ev.type in info.CREATE_FD_PATH_EVENTS:
        return "f"
    return None


def _type(ev: Event) -> str | None:
    fd = ev.fd
    if fd is not None:
        return fd.type
    return "file" if ev.type in info.CREATE_FD_PATH_EVENTS else None


def dirname(path: str) -> str:
    """fd.directory of a file path: everything before the last '/', '/' for top-level files."""
    head, _, tail = path.rpartition("/")
    if not head:
        return "/"
    return head if tail else path


def basename(path: str) -> str:
    _, sep, tail = path.rpartition("/")
    return tail if tail or not sep else path


def _directory(ev: Event) -> str | None:
    fd = ev.fd
    if fd is None:
        path = _creator_path(ev)
        return dirname(path) if path is not None else None
    typechar = fd.typechar
    if typechar == "f":
        head, _, tail = fd.name.rpartition("/")     # dirname(), inlined: fd.directory is a key field
        if not head:
            return "/"
        return head if tail else fd.name
    if typechar == "d":
        return fd.name
    return None


def _filename(ev: Event) -> str | None:
    fd = ev.fd
    if fd is None:
        path = _creator_path(ev)
        return basename(path) if path is not None else None
    if fd.typechar != "f":
        return None
    _, sep, tail = fd.name.rpartition("/")          # basename(), inlined
    return tail if tail or not sep else fd.name


def _net_fd(ev: Event) -> Fd | None:
    fd = ev.fd
    return fd if fd is not None and fd.typechar in _NET_TYPES else None


def _side(addr: str, port: str) -> tuple[Extractor, Extractor]:
    """Extractors for the client (or server) address and port of a network descriptor."""
    def ip(ev: Event) -> str | None:
        fd = _net_fd(ev)
        return (getattr(fd, addr) or None) if fd is not None else None

    def prt(ev: Event) -> int | None:
        fd = _net_fd(ev)
        return (getattr(fd, port) or None) if fd is not None else None
    return ip, prt


_cip, _cport = _side("cip", "cport")
_sip, _sport = _side("sip", "sport")


def _local(want_local: bool, addr: bool) -> Extractor:
    def get(ev: Event) -> Any:
        fd = _net_fd(ev)
        if fd is None or not (fd.cip or fd.sip):
            return None
        server_side = fd.is_server == want_local
        if addr:
            v: Any = fd.sip if server_side else fd.cip
        else:
            v = fd.sport if server_side else fd.cport
        return v or None
    return get


def _both(client: Extractor, server: Extractor) -> Extractor:
    def get(ev: Event) -> tuple[Any, ...] | None:
        vals = tuple(v for v in (client(ev), server(ev)) if v is not None)
        return vals or None
    return get


def _as_text(port: Extractor) -> Extractor:
    def get(ev: Event) -> str | None:
        p = port(ev)
        return str(p) if p is not None else None
    return get


def _sockfamily(ev: Event) -> str | None:
    fd = ev.fd
    if fd is None:
        return None
    return {"4": "ip", "6": "ip", "u": "unix"}.get(fd.typechar)


def _connected(ev: Event) -> bool | None:
    fd = _net_fd(ev)
    if fd is None:
        return None
    flag = getattr(fd, "connected", None)
    return bool(flag) if flag is not None else bool(fd.cip and fd.sip)


def _fd_attr(attr: str) -> Extractor:
    def get(ev: Event) -> Any:
        fd = ev.fd
        return getattr(fd, attr, None) if fd is not None else None
    return get


def _types_factory(arg: Any, _env: FieldEnv) -> Extractor:
    if arg is None:
        def every(ev: Event) -> list[str] | None:
            p = ev.proc
            if p is None:
                return None
            return list(dict.fromkeys(fd.type for fd in p.fds.values()))
        return every
    n = arg

    def one(ev: Event) -> list[str] | None:
        p = ev.proc
        fd = p.fds.get(n) if p is not None else None
        return [fd.type] if fd is not None else None
    return one


def _with_container(read: Extractor) -> Extractor:
    def get(ev: Event) -> str | None:
        v = read(ev)
        if v is None:
            return None
        cid = ev.proc.container_id if ev.proc is not None else ""
        return f"{cid or 'host'}:{v}"
    return get


def _single_path(raw: bool) -> Extractor:
    def get(ev: Event) -> str | None:
        if ev.type in _TWO_PATHS:
            return None
        if not raw and ev.abspath:
            return ev.abspath  # the state stage resolved it already
        args = ev.args
        for key in _SINGLE_PATH:
            path = args.get(key)
            if isinstance(path, str):
                return path if raw else absolute(ev, path, args.get(_DIRFD[key]))
        return None
    return get


def _two_path(which: int, raw: bool) -> Extractor:
    def get(ev: Event) -> str | None:
        pair = _TWO_PATHS.get(ev.type)
        if pair is None:
            return None
        if not raw:
            done = ev.abspath if which == 0 else ev.abspath_dst
            if done:
                return done  # the state stage resolved it already
        name, dirfd_param = (pair[0], pair[1]) if which == 0 else (pair[2], pair[3])
        path = ev.args.get(name)
        if raw or (ev.type.startswith("symlink") and which == 0):
            return path if isinstance(path, str) else None  # a symlink's target is stored verbatim
        return absolute(ev, path, ev.args.get(dirfd_param) if dirfd_param else None)
    return get


FIELDS: tuple[FieldSpec, ...] = (
    spec("fd.num", "INT64", "Number of the file descriptor the event acts on (-1: none created).", _num),
    spec("fd.type", "CHARBUF", "Kind of descriptor: file, directory, ipv4, ipv6, unix, pipe, event, "
         "signalfd, eventpoll, inotify, timerfd, memfd ...", _type),
    spec("fd.typechar", "CHARBUF", "Kind of descriptor as one letter: f file, d directory, 4 IPv4, "
         "6 IPv6, u unix, p pipe, e eventfd, s signalfd, l eventpoll, i inotify, m memfd ...", _typechar),
    spec("fd.name", "CHARBUF", "Full name: the absolute path of a file, or client:port->server:port "
         "for a connection.", _name),
    spec("fd.nameraw", "CHARBUF", "The path exactly as the process passed it, not made absolute.",
         _nameraw),
    spec("fd.directory", "CHARBUF", "For a file, the directory that holds it; for a directory, itself.",
         _directory),
    spec("fd.filename", "CHARBUF", "For a file, its name without the directory.", _filename),
    spec("fd.ip", "IPADDR", "Matches the client or the server address of a connection.",
         _both(_cip, _sip), either=True, filter_only=True),
    spec("fd.cip", "IPADDR", "Client (connecting side) address.", _cip),
    spec("fd.sip", "IPADDR", "Server (listening side) address.", _sip),
    spec("fd.lip", "IPADDR", "Address of this process's end of the connection.", _local(True, True)),
    spec("fd.rip", "IPADDR", "Address of the other end of the connection.", _local(False, True)),
    spec("fd.port", "PORT", "Matches the client or the server port of a connection.",
         _both(_cport, _sport), either=True, filter_only=True),
    spec("fd.cport", "PORT", "Client port.", _cport),
    spec("fd.sport", "PORT", "Server port.", _sport),
    spec("fd.lport", "PORT", "Port of this process's end of the connection.", _local(True, False)),
    spec("fd.rport", "PORT", "Port of the other end of the connection.", _local(False, False)),
    spec("fd.proto", "PORT", "Matches the client or the server protocol (port) of a connection.",
         _both(_cport, _sport), either=True, filter_only=True),
    spec("fd.cproto", "CHARBUF", "Client port, as text.", _as_text(_cport)),
    spec("fd.sproto", "CHARBUF", "Server port, as text.", _as_text(_sport)),
    spec("fd.lproto", "CHARBUF", "Local port, as text.", _as_text(_local(True, False))),
    spec("fd.rproto", "CHARBUF", "Remote port, as text.", _as_text(_local(False, False))),
    spec("fd.net", "IPNET", "Matches when the client or the server address is in the network.",
         _both(_cip, _sip), either=True, filter_only=True),
    spec("fd.cnet", "IPNET", "Matches when the client address is in the network.", _cip, filter_only=True),
    spec("fd.snet", "IPNET", "Matches when the server address is in the network.", _sip, filter_only=True),
    spec("fd.lnet", "IPNET", "Matches when the local address is in the network.", _local(True, True),
         filter_only=True),
    spec("fd.rnet", "IPNET", "Matches when the remote address is in the network.", _local(False, True),
         filter_only=True),
    spec("fd.l4proto", "CHARBUF", "Transport protocol of a socket: tcp, udp, icmp or raw.",
         lambda ev: (ev.fd.l4proto or None) if ev.fd is not None else None),
    spec("fd.sockfamily", "CHARBUF", "Family of a socket: ip or unix.", _sockfamily),
    spec("fd.is_server", "BOOL", "True when this process holds the server end of the connection.",
         _fd_attr("is_server")),
    spec("fd.connected", "BOOL", "For a network socket, true once both ends are known.", _connected),
    spec("fd.name_changed", "BOOL", "True when this event changed the descriptor's name (a UDP socket "
         "sending to a new peer).", lambda ev: getattr(ev, "fd_name_changed", None), unfilled=True),
    spec("fd.uid", "CHARBUF", "Thread id and descriptor number chained: unique per descriptor.",
         lambda ev: f"{ev.tid}{n}" if (n := _num(ev)) is not None else None),
    spec("fd.containername", "CHARBUF", "Container id and fd.name chained.", _with_container(_name)),
    spec("fd.containerdirectory", "CHARBUF", "Container id and fd.directory chained.",
         _with_container(_directory)),
    spec("fd.cip.name", "CHARBUF", "Domain name of the client address, when known.",
         _fd_attr("cip_name"), unfilled=True),
    spec("fd.sip.name", "CHARBUF", "Domain name of the server address, when known.",
         _fd_attr("sip_name"), unfilled=True),
    spec("fd.lip.name", "CHARBUF", "Domain name of the local address, when known.",
         _fd_attr("lip_name"), unfilled=True),
    spec("fd.rip.name", "CHARBUF", "Domain name of the remote address, when known.",
         _fd_attr("rip_name"), unfilled=True),
    spec("fd.dev", "INT32", "Device number of the file.", _fd_attr("dev")),
    spec("fd.dev.major", "INT32", "Major device number of the file.",
         lambda ev: ev.fd.dev >> 20 if ev.fd is not None else None),
    spec("fd.dev.minor", "INT32", "Minor device number of the file.",
         lambda ev: ev.fd.dev & 0xFFFFF if ev.fd is not None else None),
    spec("fd.ino", "INT64", "Inode number of the file.", _fd_attr("ino")),
    spec("fd.types", "CHARBUF", "Kinds of every descriptor the process has open; fd.types[N]: the kind "
         "of descriptor N.", factory=_types_factory, arg=ArgKind.INDEX_OPTIONAL, is_list=True),
    spec("fs.path.name", "CHARBUF", "Absolute path of the file a single-path event (open, mkdir, unlink, "
         "chmod ...) acts on.", _single_path(raw=False)),
    spec("fs.path.nameraw", "CHARBUF", "That path as the process passed it.", _single_path(raw=True)),
    spec("fs.path.source", "CHARBUF", "Absolute source path of a rename or link.", _two_path(0, False)),
    spec("fs.path.sourceraw", "CHARBUF", "Source path of a rename or link, as passed.", _two_path(0, True)),
    spec("fs.path.target", "CHARBUF", "Absolute target path of a rename or link.", _two_path(2, False)),
    spec("fs.path.targetraw", "CHARBUF", "Target path of a rename or link, as passed.", _two_path(2, True)),
    spec("evt.abspath", "CHARBUF", "Absolute path named by a single-path event, resolved against its "
         "directory descriptor or the cwd.", _single_path(raw=False)),
    spec("evt.abspath.src", "CHARBUF", "Absolute source path of a rename or link.", _two_path(0, False)),
    spec("evt.abspath.dst", "CHARBUF", "Absolute destination path of a rename or link.",
         _two_path(2, False)),
)
