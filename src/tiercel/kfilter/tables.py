"""The kernel-side filter as plain data: what the probe's maps hold, and the one model of its decision.

For each attached syscall the filter is either *open* (every record leaves the kernel: the state
needs it, or some rule reads what the probe cannot judge) or a list of *slots*. A slot is one rule's
necessary condition (several rules with the same condition share one), a conjunction of tests the
probe can decide on what it reads anyway:

    ret      the call succeeded (ret >= 0) / failed (-errno)
    comm     the comm the process had when it last exec'd (tiercel's proc.name), exact, 15 bytes
    path     the path argument, when it is absolute and already normal (fd.name equals it):
             exact names, prefixes, suffixes
    needles  ... and it contains one of these pairs of bytes (an empty set: no such path can
             match, only the paths the probe does not judge pass)
    flags    open flags: the access mode is one of `acc_ok`, or one of `bits_any` is set (for other
             calls, a bits argument such as chmod's mode: one of `bits_any` is set)
    values   an enumerated argument (ptrace's request, ...) is one of these values

A record leaves the kernel when some slot holds. A test the probe cannot decide for a record (no exec
comm known, a relative or non-normal path, a path longer than PATH_MAX_K) holds. `passes()` below is the
decision itself, in Python: the probe's C code mirrors it, and the tests prove the tables sound by
running captures through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PATH_MAX_K = 240            # the probe judges paths shorter than this (bytes, without the NUL)
COMM_LEN = 15               # bytes of a task's comm
MAX_SLOTS = 64              # one bit each in the probe's masks
NEEDLE_LEN = 2              # bytes of a needle: the probe looks for pairs, cheaply, a word at a time
MAX_NEEDLES = 4             # distinct needles per syscall (the probe searches for each)
ACC_ALL = 0b1111            # access modes 0 (O_RDONLY), 1 (O_WRONLY), 2 (O_RDWR), 3 (invalid)
O_DIRECTORY, O_PATH = 0o200000, 0o10000000
STATE_OPEN_FLAGS = O_DIRECTORY | O_PATH   # such opens make dirfds the state resolves paths against


@dataclass(frozen=True, slots=True)
class PathSet:
    exact: frozenset[bytes] = frozenset()
    prefix: frozenset[bytes] = frozenset()
    suffix: frozenset[bytes] = frozenset()

    def matches(self, path: bytes) -> bool:
        return (path in self.exact or any(path.startswith(p) for p in self.prefix)
                or any(path.endswith(s) for s in self.suffix))

    def union(self, other: PathSet) -> PathSet:
        return PathSet(self.exact | other.exact, self.prefix | other.prefix, self.suffix | other.suffix)


@dataclass(frozen=True, slots=True)
class Slot:
    """One conjunction of tests; None (or ACC_ALL) means the test always holds."""

    ret_ok: bool = True
    ret_fail: bool = True
    comms: frozenset[bytes] | None = None
    paths: PathSet | None = None
    acc_ok: int = ACC_ALL
    bits_any: int = 0
    rules: tuple[str, ...] = field(default=(), compare=False)
    needles: frozenset[bytes] | None = None
    values: frozenset[int] | None = None

    @property
    def key(self) -> tuple[object, ...]:
        return (self.ret_ok, self.ret_fail, self.comms, self.paths, self.acc_ok, self.bits_any,
                self.needles, self.values)


@dataclass(frozen=True, slots=True)
class SyscallFilter:
    name: str
    nr: int
    open: bool                      # every record passes
    reason: str = ""                # why it is open (a rule name, "state", ...)
    slots: tuple[Slot, ...] = ()
    path_slot: int | None = None    # which string slot holds fd.name's path (open family: 0)
    flags_arg: int | None = None    # which argument holds the open flags (or another call's bits)
    enum_arg: int | None = None     # which argument the value sets test
    state: bool = False             # the state needs these records (ring space is kept for them)
    fd_result: bool = False         # the return value is a new fd the state keeps, and some rule
    #                                 reads the fd table: a record reusing a known fd number passes
    fd_close: bool = False          # close: a record closing an fd the state knows passes
    fd_track: bool = False          # a passing record's fd becomes known (probe: known_fds)


@dataclass(frozen=True, slots=True)
class FilterTables:
    syscalls: dict[str, SyscallFilter]
    notices: tuple[str, ...] = ()
    fd_kinds: str = ""              # fds whose table entries later rules read: "", "socket" or "any"

    def summary(self) -> str:
        shut = sorted(n for n, f in self.syscalls.items() if not f.open)
        return f"{len(shut)} of {len(self.syscalls)} syscalls filtered in the kernel"


@dataclass(frozen=True, slots=True)
class KernelView:
    """What the probe knows of one syscall record when it decides."""

    name: str
    ret: int
    exec_comm: bytes | None = None  # None: the process exec'd before the agent started
    path: bytes | None = None       # the path argument as the process passed it
    flags: int = 0
    fd_known: bool = False          # the state holds an entry for the fd number returned
    arg_fd_known: bool = False      # ... for the fd argument (close)
    value: int | None = None        # the enumerated argument, where the call has one


def judgeable(path: bytes | None) -> bool:
    """Whether fd.name is the path argument itself: absolute, short, no `//`, `/.` or final `/`."""
    if path is None or not path.startswith(b"/") or len(path) >= PATH_MAX_K - 1:
        return False
    if b"//" in path or b"/." in path:
        return False
    return not (len(path) > 1 and path.endswith(b"/"))


def passes(tables: FilterTables, view: KernelView) -> bool:
    """The probe's decision for one record (probe/tiercel.bpf.c, kf_decide)."""
    f = tables.syscalls.get(view.name)
    if f is None or f.open:
        return True
    if f.fd_result and view.fd_known:
        return True                 # the state's entry for that number must be replaced
    if f.fd_close and view.arg_fd_known:
        return True                 # ... or removed
    if f.flags_arg is not None and view.flags & STATE_OPEN_FLAGS:
        return True
    path_ok = f.path_slot is not None and judgeable(view.path)
    acc = view.flags & 3
    for s in f.slots:
        if not (s.ret_ok if view.ret >= 0 else s.ret_fail):
            continue
        if s.comms is not None and view.exec_comm is not None and view.exec_comm[:COMM_LEN] not in s.comms:
            continue
        if s.paths is not None and path_ok and view.path is not None and not s.paths.matches(view.path):
            continue
        if s.needles is not None and path_ok and view.path is not None and not any(
                n in view.path for n in s.needles):
            continue
        if s.values is not None and f.enum_arg is not None and view.value not in s.values:
            continue
        if f.flags_arg is not None and s.acc_ok != ACC_ALL and not (
                s.acc_ok >> acc & 1 or view.flags & s.bits_any):
            continue
        return True
    return False
