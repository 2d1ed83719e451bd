"""The syscalls tiercel watches: one table for the probe and the decoder.

Each entry names the syscall (its Falco event name), its x86_64 number, how the probe reads its user
memory (the `shape` sent to the kernel) and how its exit event's parameters, in Falco's order and with
Falco's names, are built from the record. A parameter source is one of:

    res        the return value            a0..a5   a raw argument
    s0 s1 s2   a string slot               addr     the sockaddr read into slot 0
    argv       the argv slot (execve)      -        not captured (left out of evt.args)
"""

from __future__ import annotations

from dataclasses import dataclass

SHAPE_PLAIN, SHAPE_EXEC, SHAPE_CLONE, SHAPE_EXIT = 0, 1, 2, 3
NONE = 0xFF


@dataclass(frozen=True, slots=True)
class Syscall:
    name: str
    nr: int
    params: tuple[tuple[str, str], ...]
    kind: int = SHAPE_PLAIN
    str0: int = NONE
    str1: int = NONE
    str2: int = NONE
    sock: int = NONE
    socklen: int = NONE
    socklen_ptr: bool = False
    tracepoint: str = ""  # the kernel's tracepoint name when it differs (umount2 -> umount)

    @property
    def tp(self) -> str:
        return self.tracepoint or self.name

    def shape_bytes(self) -> bytes:
        """The probe's `struct shape` for this syscall (probe/events.h)."""
        return bytes([self.kind, self.str0, self.str1, self.str2, self.sock, self.socklen,
                      int(self.socklen_ptr), 0])


def _sc(name: str, nr: int, params: str, **shape: int | bool | str) -> Syscall:
    pairs = tuple(tuple(p.split("=", 1)) for p in params.split())
    return Syscall(name, nr, pairs, **shape)  # type: ignore[arg-type]


_PATH0 = {"str0": 0}
_PATH1 = {"str0": 1}

# Where the shapes say `str0: 1`, argument 1 is read as a string into slot 0, and so on.
SYSCALLS_X86_64: tuple[Syscall, ...] = (
    _sc("open", 2, "fd=res name=s0 flags=a1 mode=a2", **_PATH0),
    _sc("openat", 257, "fd=res dirfd=a0 name=s0 flags=a2 mode=a3", **_PATH1),
    # the probe puts open_how's flags, mode and resolve in arguments 2-4 (probe: read_open_how)
    _sc("openat2", 437, "fd=res dirfd=a0 name=s0 flags=a2 mode=a3 resolve=a4", **_PATH1),
    _sc("creat", 85, "fd=res name=s0 mode=a1", **_PATH0),
    _sc("close", 3, "res=res fd=a0"),
    _sc("dup", 32, "res=res oldfd=a0"),
    _sc("dup2", 33, "res=res oldfd=a0 newfd=a1"),
    _sc("dup3", 292, "res=res oldfd=a0 newfd=a1 flags=a2"),
    _sc("fcntl", 72, "res=res fd=a0 cmd=a1 arg=a2"),
    _sc("socket", 41, "fd=res domain=a0 type=a1 proto=a2"),
    _sc("connect", 42, "res=res tuple=- fd=a0 addr=addr", sock=1, socklen=2),
    _sc("bind", 49, "res=res addr=addr fd=a0", sock=1, socklen=2),
    _sc("listen", 50, "res=res fd=a0 backlog=a1"),
    _sc("accept", 43, "fd=res tuple=addr", sock=1, socklen=2, socklen_ptr=True),
    _sc("accept4", 288, "fd=res tuple=addr flags=a3", sock=1, socklen=2, socklen_ptr=True),
    _sc("execve", 59, "res=res exe=- args=argv filename=s0", kind=SHAPE_EXEC, str0=0, str1=1),
    _sc("execveat", 322, "res=res exe=- args=argv dirfd=a0 filename=s0 flags=a4",
        kind=SHAPE_EXEC, str0=1, str1=2),
    _sc("clone", 56, "res=res flags=a0", kind=SHAPE_CLONE),
    _sc("clone3", 435, "res=res", kind=SHAPE_CLONE),
    _sc("fork", 57, "res=res", kind=SHAPE_CLONE),
    _sc("vfork", 58, "res=res", kind=SHAPE_CLONE),
    _sc("exit", 60, "status=a0", kind=SHAPE_EXIT),
    _sc("exit_group", 231, "status=a0", kind=SHAPE_EXIT),
    _sc("unlink", 87, "res=res path=s0", **_PATH0),
    _sc("unlinkat", 263, "res=res dirfd=a0 name=s0 flags=a2", **_PATH1),
    _sc("rename", 82, "res=res oldpath=s0 newpath=s1", str0=0, str1=1),
    _sc("renameat", 264, "res=res olddirfd=a0 oldpath=s0 newdirfd=a2 newpath=s1", str0=1, str1=3),
    _sc("renameat2", 316, "res=res olddirfd=a0 oldpath=s0 newdirfd=a2 newpath=s1 flags=a4",
        str0=1, str1=3),
    _sc("mkdir", 83, "res=res path=s0 mode=a1", **_PATH0),
    _sc("mkdirat", 258, "res=res dirfd=a0 path=s0 mode=a2", **_PATH1),
    _sc("rmdir", 84, "res=res path=s0", **_PATH0),
    _sc("symlink", 88, "res=res target=s0 linkpath=s1", str0=0, str1=1),
    _sc("symlinkat", 266, "res=res target=s0 linkdirfd=a1 linkpath=s1", str0=0, str1=2),
    _sc("link", 86, "res=res oldpath=s0 newpath=s1", str0=0, str1=1),
    _sc("linkat", 265, "res=res olddir=a0 oldpath=s0 newdir=a2 newpath=s1 flags=a4", str0=1, str1=3),
    _sc("chmod", 90, "res=res filename=s0 mode=a1", **_PATH0),
    _sc("fchmod", 91, "res=res fd=a0 mode=a1"),
    _sc("fchmodat", 268, "res=res dirfd=a0 filename=s0 mode=a2", **_PATH1),
    _sc("chown", 92, "res=res path=s0 uid=a1 gid=a2", **_PATH0),
    _sc("lchown", 94, "res=res path=s0 uid=a1 gid=a2", **_PATH0),
    _sc("fchown", 93, "res=res fd=a0 uid=a1 gid=a2"),
    _sc("fchownat", 260, "res=res dirfd=a0 pathname=s0 uid=a2 gid=a3 flags=a4", **_PATH1),
    _sc("setuid", 105, "res=res uid=a0"),
    _sc("setgid", 106, "res=res gid=a0"),
    _sc("setreuid", 113, "res=res ruid=a0 euid=a1"),
    _sc("setregid", 114, "res=res rgid=a0 egid=a1"),
    _sc("setresuid", 117, "res=res ruid=a0 euid=a1 suid=a2"),
    _sc("setresgid", 119, "res=res rgid=a0 egid=a1 sgid=a2"),
    _sc("ptrace", 101, "res=res addr=a2 data=a3 request=a0 pid=a1"),
    _sc("mount", 165, "res=res dev=s0 dir=s1 type=s2 flags=a3", str0=0, str1=1, str2=2),
    _sc("umount2", 166, "res=res name=s0 flags=a1", str0=0, tracepoint="umount"),
    _sc("chdir", 80, "res=res path=s0", **_PATH0),
    _sc("fchdir", 81, "res=res fd=a0"),
    _sc("memfd_create", 319, "fd=res name=s0 flags=a1", **_PATH0),
    _sc("init_module", 175, "res=res length=a1 uargs=s0", str0=2),
    _sc("finit_module", 313, "res=res fd=a0 uargs=s0 flags=a2", str0=1),
    _sc("setns", 308, "res=res fd=a0 nstype=a1"),
    _sc("unshare", 272, "res=res flags=a0"),
)

# Syscalls the process and fd state needs whatever the rules ask for.
STATE_SYSCALLS = frozenset({
    "execve", "execveat", "clone", "clone3", "fork", "vfork", "exit", "exit_group",
    "chdir", "fchdir",
})
FD_STATE_SYSCALLS = frozenset({
    "open", "openat", "openat2", "creat", "close", "dup", "dup2", "dup3", "fcntl", "socket",
    "connect", "bind", "accept", "accept4", "memfd_create",
})


# Fd-state syscalls `tiercel run` leaves out when no rule asks for them.
FD_OPTIONAL_SYSCALLS = frozenset({"close"})


class SyscallTable:
    """Lookup by number and by name for one architecture."""

    def __init__(self, entries: tuple[Syscall, ...] = SYSCALLS_X86_64) -> None:
        self.entries = entries
        self.by_nr = {s.nr: s for s in entries}
        self.by_name = {s.name: s for s in entries}

    def nr(self, name: str) -> int:
        return self.by_name[name].nr
