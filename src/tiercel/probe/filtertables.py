"""The kernel filter's tables as plain data: what the probe's maps hold (filtermaps writes them).

This is the probe's contract: kfilter.derive makes these tables from the rules, probe.filtermaps
loads them, and kfilter.offline models the probe's decision on them. It imports nothing of the rules
engine, so the probe does not depend on it.

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
    ports    the socket's server port (fd.sport), as the kernel has it, is one of these
    kinds    the socket's kind (its family and l4 protocol: sock_kind) is one of these
    local    the server address (fd.sip) may be an IPv4 loopback or the unspecified address
             (is_local_addr); local6: the same for IPv6 (::1, ::)
    host     the process may be on the host (container.id host): False when the rule asks for a
             container

A record leaves the kernel when some slot holds. A test the probe cannot decide for a record (no exec
comm known, a relative or non-normal path, a path longer than PATH_MAX_K, a socket end not yet known)
holds
(kfilter.offline.passes is the decision in Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tiercel.events.model import Fd, KernelFd

PATH_MAX_K = 240            # the probe judges paths shorter than this (bytes, without the NUL)
COMM_LEN = 15               # bytes of a task's comm
MAX_SLOTS = 64              # one bit each in the probe's masks
NEEDLE_LEN = 2              # bytes of a needle: the probe looks for pairs, cheaply, a word at a time
MAX_NEEDLES = 4             # distinct needles per syscall (the probe searches for each)
ACC_ALL = 0b1111            # access modes 0 (O_RDONLY), 1 (O_WRONLY), 2 (O_RDWR), 3 (invalid)
O_DIRECTORY, O_PATH = 0o200000, 0o10000000
STATE_OPEN_FLAGS = O_DIRECTORY | O_PATH   # such opens make dirfds the state resolves paths against
BITS_WIDTH = 32             # the probe's bits test holds 32 bits (kf_class.bit_slots)
# Calls whose path argument names the file they open (fd.name): the probe may find it by inode.
OPEN_FAMILY = frozenset({"open", "openat", "openat2", "creat"})
SOCKET_CHARS = frozenset("46un")   # fd.typechar of sockets (ipv4, ipv6, unix, netlink)
MAX_PORTS = 64              # server ports per slot (entries of the probe's kf_enums)
# A socket's kind (probe: sock_kind): family << 8 | l4 code, families as the kernel numbers them
# (any other: 0), l4 codes as fd.l4proto reads them
KIND_FAMILIES = {"u": 1, "4": 2, "6": 10, "n": 16, "o": 0}
L4_CODES = {"": 0, "tcp": 1, "udp": 2, "raw": 3, "icmp": 4}
ROLE_CLIENT, ROLE_SERVER = 1, 2


def kind_of(typechar: str, l4proto: str) -> int:
    """The kind of a socket fd.typechar and fd.l4proto describe."""
    return KIND_FAMILIES[typechar] << 8 | L4_CODES[l4proto]


FAMILY_INET6 = KIND_FAMILIES["6"]


def is_local_addr(addr: str) -> bool:
    """127.0.0.0/8, ::1, 0.0.0.0 or :: (the probe's KF_SOCK_LOCAL)."""
    return addr.startswith("127.") or addr in ("0.0.0.0", "::", "::1")


def sock_values(k: KernelFd | None) -> tuple[int | None, int | None, bool | None]:
    """(server port, kind, server address is local) of a socket the kernel described, as the probe's
    sock_values reads them; None where it cannot tell (not a socket, an end not known yet)."""
    if k is None or not k.is_socket:
        return None, None, None
    port = k.lport if k.role == ROLE_SERVER else k.rport if k.role == ROLE_CLIENT else 0
    addr = k.laddr if k.role == ROLE_SERVER else k.raddr
    # as the probe reads the address: four bytes of an IPv4 socket's, sixteen of an IPv6 one's
    local = bool(port) and k.family in (2, 10) and is_local_addr(addr) and (":" in addr) == (k.family == 10)
    return port or None, kind_of(k.typechar, k.l4proto), local


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
    ports: frozenset[int] | None = None
    kinds: frozenset[int] | None = None
    local: bool = True
    local6: bool = True
    host: bool = True               # False: cannot hold for a process on the host (its rule asks
    #                                 for a container; the probe: kf_class.not_host)

    @property
    def key(self) -> tuple[object, ...]:
        return (self.ret_ok, self.ret_fail, self.comms, self.paths, self.acc_ok, self.bits_any,
                self.needles, self.values, self.ports, self.kinds, self.local, self.local6,
                self.host)


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
    state: bool = False             # the state needs these records (not coalesced)
    fd_state: bool = False          # ... only the fd state: they may fill less of the ring (probe: send)
    fd_result: bool = False         # the return value is a new fd the state keeps, and some rule
    #                                 reads the fd table: a record reusing a known fd number passes
    fd_close: bool = False          # close: a record closing an fd the state knows passes
    fd_track: bool = False          # a passing record's fd becomes known (probe: known_fds)
    sock_test: bool = False         # some slot tests its socket (ports, kinds): the probe reads it


@dataclass(frozen=True, slots=True)
class FilterTables:
    syscalls: dict[str, SyscallFilter]
    notices: tuple[str, ...] = ()
    fd_kinds: str = ""              # fds whose table entries later rules read: "", "socket" or "any"

    def summary(self) -> str:
        shut = sorted(n for n, f in self.syscalls.items() if not f.open)
        return f"{len(shut)} of {len(self.syscalls)} syscalls filtered in the kernel"


def tracked(fd: Fd, fd_kinds: str) -> bool:
    """Whether the probe's known_fds holds this kind of fd (FilterTables.fd_kinds)."""
    return fd_kinds == "any" or fd.typechar in SOCKET_CHARS
