"""Falco's textual forms of flag and enum arguments (`O_RDONLY|O_CLOEXEC`, `AF_INET6`, `PTRACE_ATTACH`).

`Event.args` holds flag arguments as the kernel takes them (that is what the live decoder records and
what the state stage reads). Falco names flags in its own encoding (the driver's `PPM_*` values,
which is also what a .scap capture stores), so rendering first converts the kernel's value where the
two encodings differ (open flags, clone/unshare/setns flags, ptrace requests); a capture reader
converts the other way with the `*_to_linux` functions. Rendering follows libsinsp:

- bit flags: walk the table in order, name every entry whose bits are all still set, clear them;
  a table entry equal to the whole value wins alone (so 3 renders `O_RDWR`, never `O_RDONLY|O_WRONLY`);
- enums (socket families, ptrace requests, bpf commands): the first name whose value matches;
- modes: every permission bit's name, in table order.

`render_arg(event_type, name, value, uid_name, gid_name)` is what `evt.arg.<name>` shows. Which
parameter of a syscall renders how is in the syscall's row (events/syscalls.py, `render`), by the name
of its entry in RENDERINGS; only the events tiercel has no row for are listed here.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from tiercel.events.syscalls import SYSCALLS_X86_64

Table = tuple[tuple[str, int], ...]


def _names(text: str) -> list[str]:
    return text.split()


# Falco's order matters: it decides the order of names in the rendered string.
FILE_FLAGS: Table = (
    ("O_LARGEFILE", 1 << 11), ("O_DIRECTORY", 1 << 10), ("O_DIRECT", 1 << 9), ("O_TRUNC", 1 << 8),
    ("O_SYNC", 1 << 7), ("O_NONBLOCK", 1 << 6), ("O_EXCL", 1 << 5), ("O_DSYNC", 1 << 4),
    ("O_APPEND", 1 << 3), ("O_CREAT", 1 << 2), ("O_RDWR", 3), ("O_WRONLY", 1 << 1),
    ("O_RDONLY", 1 << 0), ("O_CLOEXEC", 1 << 12), ("O_NONE", 0), ("O_TMPFILE", 1 << 13),
    ("O_F_CREATED", 1 << 14),
)

CLONE_FLAGS: Table = (
    ("CLONE_FILES", 1 << 0), ("CLONE_FS", 1 << 1), ("CLONE_IO", 1 << 2), ("CLONE_NEWIPC", 1 << 3),
    ("CLONE_NEWNET", 1 << 4), ("CLONE_NEWNS", 1 << 5), ("CLONE_NEWPID", 1 << 6),
    ("CLONE_NEWUTS", 1 << 7), ("CLONE_PARENT", 1 << 8), ("CLONE_PARENT_SETTID", 1 << 9),
    ("CLONE_PTRACE", 1 << 10), ("CLONE_SIGHAND", 1 << 11), ("CLONE_SYSVSEM", 1 << 12),
    ("CLONE_THREAD", 1 << 13), ("CLONE_UNTRACED", 1 << 14), ("CLONE_VM", 1 << 15),
    ("CLONE_INVERTED", 1 << 16), ("NAME_CHANGED", 1 << 17), ("CLOSED", 1 << 18),
    ("CLONE_NEWUSER", 1 << 20), ("CLONE_CHILD_CLEARTID", 1 << 23), ("CLONE_CHILD_SETTID", 1 << 24),
    ("CLONE_SETTLS", 1 << 25), ("CLONE_STOPPED", 1 << 26), ("CLONE_VFORK", 1 << 27),
    ("CLONE_NEWCGROUP", 1 << 28),
)

_AF = _names(
    "UNSPEC LOCAL INET AX25 IPX APPLETALK NETROM BRIDGE ATMPVC X25 INET6 ROSE DECnet NETBEUI SECURITY KEY "
    "NETLINK PACKET ASH ECONET ATMSVC RDS SNA IRDA PPPOX WANPIPE LLC - - CAN TIPC BLUETOOTH IUCV RXRPC ISDN "
    "PHONET IEEE802154 CAIF ALG NFC")
# AF_LOCAL is listed before AF_UNIX (same value), so 1 renders as AF_LOCAL, as Falco prints it.
SOCKET_FAMILIES: Table = (*(("AF_" + n, v) for v, n in enumerate(_AF) if n != "-"), ("AF_UNIX", 1))

_PTRACE = _names(
    "UNKNOWN TRACEME PEEKTEXT PEEKDATA PEEKUSR POKETEXT POKEDATA POKEUSR CONT KILL SINGLESTEP ATTACH "
    "DETACH SYSCALL SETOPTIONS GETEVENTMSG GETSIGINFO SETSIGINFO GETREGSET SETREGSET SEIZE INTERRUPT "
    "LISTEN PEEKSIGINFO GETSIGMASK SETSIGMASK GETREGS SETREGS GETFPREGS SETFPREGS GETFPXREGS SETFPXREGS "
    "OLDSETOPTIONS GET_THREAD_AREA SET_THREAD_AREA ARCH_PRCTL SYSEMU SYSEMU_SINGLESTEP SINGLEBLOCK")
PTRACE_REQUESTS: Table = tuple(("PTRACE_" + n, v) for v, n in enumerate(_PTRACE))

_MS = _names(
    "RDONLY NOSUID NODEV NOEXEC SYNCHRONOUS REMOUNT MANDLOCK DIRSYNC - - NOATIME NODIRATIME BIND MOVE REC "
    "SILENT POSIXACL UNBINDABLE PRIVATE SLAVE SHARED RELATIME KERNMOUNT I_VERSION STRICTATIME LAZYTIME "
    "- - NOSEC BORN ACTIVE NOUSER")
MOUNT_FLAGS: Table = tuple((n, 1 << b) for b, n in enumerate(_MS) if n != "-")
UMOUNT_FLAGS: Table = (("FORCE", 1), ("DETACH", 2), ("EXPIRE", 4), ("NOFOLLOW", 8))

UNLINKAT_FLAGS: Table = (("AT_REMOVEDIR", 0x200),)
LINKAT_FLAGS: Table = (("AT_SYMLINK_FOLLOW", 0x400), ("AT_EMPTY_PATH", 0x1000))
FCHOWNAT_FLAGS: Table = (("AT_SYMLINK_NOFOLLOW", 0x400), ("AT_EMPTY_PATH", 0x1000))
RENAMEAT2_FLAGS: Table = (("RENAME_NOREPLACE", 1), ("RENAME_EXCHANGE", 2), ("RENAME_WHITEOUT", 4))
OPENAT2_RESOLVE: Table = tuple(("RESOLVE_" + n, 1 << b) for b, n in enumerate(
    _names("BENEATH IN_ROOT NO_MAGICLINKS NO_SYMLINKS NO_XDEV CACHED")))
EXECVE_FLAGS: Table = (("EXE_WRITABLE", 1), ("EXE_UPPER_LAYER", 2), ("EXE_FROM_MEMFD", 4))
EXE_WRITABLE, EXE_UPPER_LAYER, EXE_FROM_MEMFD = 1, 2, 4
EXECVEAT_FLAGS: Table = (("AT_EMPTY_PATH", 1), ("AT_SYMLINK_NOFOLLOW", 2))
MEMFD_CREATE_FLAGS: Table = (("MFD_CLOEXEC", 1), ("MFD_ALLOW_SEALING", 2), ("MFD_HUGETLB", 4))
ACCESS_FLAGS: Table = (("F_OK", 0), ("R_OK", 4), ("W_OK", 2), ("X_OK", 1))
PROT_FLAGS: Table = (("PROT_READ", 1), ("PROT_WRITE", 2), ("PROT_EXEC", 4), ("PROT_SEM", 8),
                     ("PROT_GROWSDOWN", 16), ("PROT_GROWSUP", 32), ("PROT_SAO", 64), ("PROT_NONE", 0))
MMAP_FLAGS: Table = tuple(("MAP_" + n, 1 << b) for b, n in enumerate(_names(
    "SHARED PRIVATE FIXED ANONYMOUS 32BIT RENAME NORESERVE POPULATE NONBLOCK GROWSDOWN DENYWRITE "
    "EXECUTABLE INHERIT FILE LOCKED")))
SHUTDOWN_HOW: Table = (("SHUT_RDWR", 2), ("SHUT_WR", 1), ("SHUT_RD", 0))
LSEEK_WHENCE: Table = (("SEEK_END", 2), ("SEEK_CUR", 1), ("SEEK_SET", 0))
FLOCK_FLAGS: Table = (("LOCK_SH", 1), ("LOCK_EX", 2), ("LOCK_NB", 4), ("LOCK_UN", 8), ("LOCK_NONE", 0))
CHMOD_MODE: Table = tuple(("S_" + n, 1 << b) for b, n in enumerate(
    _names("IXOTH IWOTH IROTH IXGRP IWGRP IRGRP IXUSR IWUSR IRUSR ISVTX ISGID ISUID")))
MKNOD_MODE: Table = (*CHMOD_MODE, ("S_IFREG", 0o100000), ("S_IFCHR", 0o020000), ("S_IFBLK", 0o060000),
                     ("S_IFIFO", 0o010000), ("S_IFSOCK", 0o140000))

_BPF = _names(
    "MAP_CREATE MAP_LOOKUP_ELEM MAP_UPDATE_ELEM MAP_DELETE_ELEM MAP_GET_NEXT_KEY PROG_LOAD OBJ_PIN OBJ_GET "
    "PROG_ATTACH PROG_DETACH PROG_TEST_RUN PROG_GET_NEXT_ID MAP_GET_NEXT_ID PROG_GET_FD_BY_ID "
    "MAP_GET_FD_BY_ID OBJ_GET_INFO_BY_FD PROG_QUERY RAW_TRACEPOINT_OPEN BTF_LOAD BTF_GET_FD_BY_ID "
    "TASK_FD_QUERY MAP_LOOKUP_AND_DELETE_ELEM MAP_FREEZE BTF_GET_NEXT_ID MAP_LOOKUP_BATCH "
    "MAP_LOOKUP_AND_DELETE_BATCH MAP_UPDATE_BATCH MAP_DELETE_BATCH LINK_CREATE LINK_UPDATE "
    "LINK_GET_FD_BY_ID LINK_GET_NEXT_ID ENABLE_STATS ITER_CREATE LINK_DETACH PROG_BIND_MAP")
BPF_COMMANDS: Table = tuple(("BPF_" + n, v) for v, n in enumerate(_BPF))

# ---------------------------------------------------------------------------------------------
# Kernel (x86_64) values -> Falco's encoding, where they differ.

_LINUX_OPEN_BITS = (
    (0o100, 1 << 2), (0o200, 1 << 5), (0o1000, 1 << 8), (0o2000, 1 << 3), (0o4000, 1 << 6),
    (0o10000, 1 << 4), (0o40000, 1 << 9), (0o100000, 1 << 11), (0o200000, 1 << 10),
    (0o2000000, 1 << 12), (0o4000000, 1 << 7), (0o20000000, 1 << 13),
)


def open_flags_from_linux(flags: int) -> int:
    """open(2) flags as the kernel takes them -> Falco's O_* encoding (access mode becomes bits)."""
    acc = flags & 3
    out = 3 if acc == 2 else (2 if acc == 1 else 1)
    for linux, ppm in _LINUX_OPEN_BITS:
        if flags & linux:
            out |= ppm
    return out


_LINUX_CLONE_BITS = (
    (0x400, 1 << 0), (0x200, 1 << 1), (0x80000000, 1 << 2), (0x8000000, 1 << 3),
    (0x40000000, 1 << 4), (0x20000, 1 << 5), (0x20000000, 1 << 6), (0x4000000, 1 << 7),
    (0x8000, 1 << 8), (0x100000, 1 << 9), (0x2000, 1 << 10), (0x800, 1 << 11), (0x40000, 1 << 12),
    (0x10000, 1 << 13), (0x800000, 1 << 14), (0x100, 1 << 15), (0x10000000, 1 << 20),
    (0x200000, 1 << 23), (0x1000000, 1 << 24), (0x80000, 1 << 25), (0x4000, 1 << 27),
    (0x2000000, 1 << 28),
)


def clone_flags_from_linux(flags: int) -> int:
    """clone/unshare/setns CLONE_* bits -> Falco's encoding."""
    out = 0
    for linux, ppm in _LINUX_CLONE_BITS:
        if flags & linux:
            out |= ppm
    return out


_LINUX_PTRACE = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 26, 13: 27, 14: 28,
                 15: 29, 16: 11, 17: 12, 18: 30, 19: 31, 21: 32, 24: 13, 25: 33, 26: 34, 30: 35,
                 31: 36, 32: 37, 33: 38, 0x4200: 14, 0x4201: 15, 0x4202: 16, 0x4203: 17, 0x4204: 18,
                 0x4205: 19, 0x4206: 20, 0x4207: 21, 0x4208: 22, 0x4209: 23, 0x420A: 24, 0x420B: 25}


def ptrace_request_from_linux(request: int) -> int:
    return _LINUX_PTRACE.get(request, 0)


def mount_flags_from_linux(flags: int) -> int:
    """MS_* bits are Falco's already; only the historical magic number in the high half goes."""
    if flags & 0xFFFF0000 == 0xC0ED0000:
        flags &= 0xFFFF
    return flags & 0xFFFFFFFF



# Falco's encoding -> the kernel's, for a capture reader.

def open_flags_to_linux(flags: int) -> int:
    out = {3: 2, 2: 1}.get(flags & 3, 0)
    for linux, ppm in _LINUX_OPEN_BITS:
        if flags & ppm:
            out |= linux
    return out


def clone_flags_to_linux(flags: int) -> int:
    out = 0
    for linux, ppm in _LINUX_CLONE_BITS:
        if flags & ppm:
            out |= linux
    return out


_PTRACE_TO_LINUX = {ppm: linux for linux, ppm in _LINUX_PTRACE.items()}

# fcntl commands: the kernel's number -> Falco's (libs' fcntl_commands), and their names.
_LINUX_FCNTL = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 8, 7: 9, 8: 10, 9: 12, 10: 13, 11: 15, 15: 21,
                16: 22, 1024: 23, 1025: 24, 1029: 25, 1030: 26, 1026: 27, 1031: 28, 1032: 29, 36: 30,
                37: 31, 38: 32}
_FCNTL_TO_LINUX = {ppm: linux for linux, ppm in _LINUX_FCNTL.items()}
FCNTL_COMMANDS: Table = tuple(("F_" + n, v) for n, v in (
    ("DUPFD", 1), ("GETFD", 2), ("SETFD", 3), ("GETFL", 4), ("SETFL", 5), ("GETLK", 6), ("SETLK", 8),
    ("SETLKW", 9), ("SETOWN", 10), ("GETOWN", 12), ("SETSIG", 13), ("GETSIG", 15), ("SETOWN_EX", 21),
    ("GETOWN_EX", 22), ("SETLEASE", 23), ("GETLEASE", 24), ("CANCELLK", 25), ("DUPFD_CLOEXEC", 26),
    ("NOTIFY", 27), ("SETPIPE_SZ", 28), ("GETPIPE_SZ", 29), ("OFD_GETLK", 30), ("OFD_SETLK", 31),
    ("OFD_SETLKW", 32)))


def fcntl_cmd_from_linux(cmd: int) -> int:
    return _LINUX_FCNTL.get(cmd, 0)


def fcntl_cmd_to_linux(cmd: int) -> int:
    return _FCNTL_TO_LINUX.get(cmd, -1)


def ptrace_request_to_linux(request: int) -> int:
    return _PTRACE_TO_LINUX.get(request, -1)


# What evt.is_open_* test, on the kernel's open flags.
_O_ACCMODE, _O_CREAT, _O_TMPFILE_BIT = 3, 0o100, 0o20000000
_EXEC_BITS = 0o111  # S_IXUSR|S_IXGRP|S_IXOTH


def open_reads(flags: int) -> bool:
    return flags & _O_ACCMODE in (0, 2)


def open_writes(flags: int) -> bool:
    return flags & _O_ACCMODE in (1, 2)


def open_creates_executable(flags: int, mode: int) -> bool:
    """An open that may create a file (O_CREAT or O_TMPFILE) with an execute bit in its mode."""
    return bool(flags & (_O_CREAT | _O_TMPFILE_BIT)) and bool(mode & _EXEC_BITS)


# How each flag-like parameter renders: (table, kind, kernel -> Falco converter), by the name a
# syscall row's `render` gives it (events/syscalls.py).
FLAGS, ENUM, MODE = "flags", "enum", "mode"
USER, GROUP = "user", "group"     # a user or group id: Falco shows the name when it knows it
Convert = Callable[[int], int] | None
Rendering = tuple[Table, str, Convert]
RENDERINGS: dict[str, Rendering] = {
    "file_flags": (FILE_FLAGS, FLAGS, None),
    "open_flags": (FILE_FLAGS, FLAGS, open_flags_from_linux),
    "clone_flags": (CLONE_FLAGS, FLAGS, clone_flags_from_linux),
    "execve_flags": (EXECVE_FLAGS, FLAGS, None),
    "socket_family": (SOCKET_FAMILIES, ENUM, None),
    "ptrace_request": (PTRACE_REQUESTS, ENUM, ptrace_request_from_linux),
    "fcntl_cmd": (FCNTL_COMMANDS, ENUM, fcntl_cmd_from_linux),
    "bpf_cmd": (BPF_COMMANDS, ENUM, None),
    "mount_flags": (MOUNT_FLAGS, FLAGS, mount_flags_from_linux),
    "umount_flags": (UMOUNT_FLAGS, FLAGS, None),
    "unlinkat_flags": (UNLINKAT_FLAGS, FLAGS, None),
    "linkat_flags": (LINKAT_FLAGS, FLAGS, None),
    "fchownat_flags": (FCHOWNAT_FLAGS, FLAGS, None),
    "renameat2_flags": (RENAMEAT2_FLAGS, FLAGS, None),
    "openat2_resolve": (OPENAT2_RESOLVE, FLAGS, None),
    "memfd_create_flags": (MEMFD_CREATE_FLAGS, FLAGS, None),
    "access_mode": (ACCESS_FLAGS, FLAGS, None),
    "prot": (PROT_FLAGS, FLAGS, None),
    "shutdown_how": (SHUTDOWN_HOW, ENUM, None),
    "lseek_whence": (LSEEK_WHENCE, ENUM, None),
    "flock_operation": (FLOCK_FLAGS, FLAGS, None),
    "chmod_mode": (CHMOD_MODE, MODE, None),
    "mknod_mode": (MKNOD_MODE, MODE, None),
}
# Events of Falco's table that tiercel has no syscall row for: they come from .scap captures.
_CAPTURED_ONLY = {
    **{(e, "flags"): "file_flags" for e in _names("eventfd2 inotify_init1 pipe2 signalfd4 userfaultfd")},
    ("open_by_handle_at", "flags"): "open_flags",
    ("socketpair", "domain"): "socket_family",
    ("bpf", "cmd"): "bpf_cmd",
    ("access", "mode"): "access_mode",
    **{(e, "prot"): "prot" for e in _names("mmap mmap2 mprotect")},
    ("shutdown", "how"): "shutdown_how",
    ("lseek", "whence"): "lseek_whence",
    ("llseek", "whence"): "lseek_whence",
    ("flock", "operation"): "flock_operation",
    **{(e, "mode"): "mknod_mode" for e in _names("mknod mknodat")},
}
_ROW_RENDERS = {(sc.name, param): how for sc in SYSCALLS_X86_64 for param, how in sc.render}
# (event, parameter) -> its rendering
PARAM_TABLES: dict[tuple[str, str], Rendering] = {
    key: RENDERINGS[how] for key, how in {**_CAPTURED_ONLY, **_ROW_RENDERS}.items()
    if how not in (USER, GROUP)}


def falco_raw(event_type: str, name: str, value: Any) -> Any:
    """An argument's number in Falco's encoding (what Falco's evt.rawarg and evt.args show)."""
    spec = PARAM_TABLES.get((event_type, name))
    if spec is None or spec[2] is None or not isinstance(value, int):
        return value
    return spec[2](value)


# Parameters holding a user or group id.
UID_PARAMS = frozenset(key for key, how in _ROW_RENDERS.items() if how == USER)
GID_PARAMS = frozenset(key for key, how in _ROW_RENDERS.items() if how == GROUP)
# Parameters whose negative value is an error code (Falco shows the errno name).
ERRNO_PARAMS = frozenset({"res", "fd"})

_KERNEL_ERRNOS = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND",
                  515: "ENOIOCTLCMD", 516: "ERESTART_RESTARTBLOCK"}


def errno_name(res: int) -> str:
    """The name of a negative return value (-2 -> ENOENT); the number as text when unknown."""
    code = -res
    return errno.errorcode.get(code) or _KERNEL_ERRNOS.get(code) or str(res)


def render_flags(table: Table, value: int) -> str:
    """Bit flags as `A|B`: each entry whose bits are all still set, an exact entry alone."""
    names: list[str] = []
    rest = value
    for name, bits in table:
        if bits == value:
            return name
        if bits and rest and rest & bits == bits:
            names.append(name)
            rest &= ~bits
    return "|".join(names)


def render_enum(table: Table, value: int) -> str:
    for name, v in table:
        if v == value:
            return name
    return ""


def render_mode(table: Table, value: int) -> str:
    return "|".join(name for name, bits in table if bits and value & bits == bits)


_RENDERERS: dict[str, Callable[[Table, int], str]] = {FLAGS: render_flags, ENUM: render_enum,
                                                      MODE: render_mode}

NameOf = Callable[[int], "str | None"]


def render_arg(event_type: str, name: str, value: Any,
               uid_name: NameOf | None = None, gid_name: NameOf | None = None) -> str:
    """`evt.arg.<name>` as Falco shows it: names for flags and enums, errno names, user names."""
    if value.__class__ is int:
        if uid_name is not None and (event_type, name) in UID_PARAMS:
            return uid_name(value) or str(value)
        if gid_name is not None and (event_type, name) in GID_PARAMS:
            return gid_name(value) or str(value)
        return _render_int(event_type, name, value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _render_int(event_type, name, int(value))
    return render_value(value)


@lru_cache(maxsize=8192)
def _render_int(event_type: str, name: str, value: int) -> str:
    """Flag, enum and errno rendering, cached: the same few values recur on every event."""
    spec = PARAM_TABLES.get((event_type, name))
    if spec is not None:
        table, kind, convert = spec
        return _RENDERERS[kind](table, convert(value) if convert else value) or str(value)
    if value < 0 and name in ERRNO_PARAMS:
        return errno_name(value)
    return str(value)


def render_value(value: Any) -> str:
    """Strings, buffers, argv lists and socket addresses in Falco's notation."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return "".join(chr(b) if 32 <= b < 127 else "." for b in value)
    if isinstance(value, list):
        # argv-style lists: each element NUL-terminated in Falco's buffer, shown as '.'
        return "".join(f"{v}." for v in value)
    if isinstance(value, tuple):
        if len(value) == 3:                       # (family, address, port)
            return f"{value[1]}:{value[2]}"
        if len(value) == 2:                       # (family, unix path)
            return str(value[1])
        if len(value) == 4:                       # (client ip, client port, server ip, server port)
            return f"{value[0]}:{value[1]}->{value[2]}:{value[3]}"
    return str(value)
