"""Loaded rules -> the kernel filter's tables (probe.filtertables): a sound over-approximation.

For each attached syscall, every rule that can match its event type gives one slot: from each of the
rule's conjuncts (its condition specialised to that event type), `necessary()` (the keys the rules
engine already computes) finds atoms on fields the probe can judge, such that the conjunct implies one
of them. Atoms on one field become one test of the slot; a conjunct whose atoms mix fields is left out
(the probe cannot test an `or` across tests), which only makes the slot hold more often. A rule with
no judgeable conjunct opens its syscall: every record of it leaves the kernel, with one notice.

Records the state needs pass whatever the rules say: exec, fork, exit and chdir always; the fd
creations (open, socket, accept, dup ...) when some rule reads an fd's fields on a later event type
(a `dup` rule printing fd.name needs the open that made the fd); and opens with O_DIRECTORY or O_PATH,
whose fds later paths are resolved against.

Truth of an atom on the return value or the open flags is found by evaluating it over the whole
domain that matters (every errno; every access mode with every open flag bit the field renders),
so it is exact; path and comm atoms are read from their constants (=, in, startswith, endswith,
glob prefix, pmatch), anything else is left untested.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import random
from collections.abc import Callable, Iterable, Sequence
from itertools import combinations
from typing import Any, Protocol, TypeVar

from tiercel.events.flags import ENUM, FLAGS, MODE, PARAM_TABLES
from tiercel.events.model import Event, Fd, Process
from tiercel.events.syscalls import NONE, STATE_SYSCALLS, SYSCALLS_X86_64, Fx, SyscallTable, having
from tiercel.probe.filtertables import (
    ACC_ALL,
    BITS_WIDTH,
    COMM_LEN,
    KIND_FAMILIES,
    L4_CODES,
    MAX_NEEDLES,
    MAX_PORTS,
    MAX_SLOTS,
    NEEDLE_LEN,
    OPEN_FAMILY,
    PATH_MAX_K,
    FilterTables,
    PathSet,
    Slot,
    SyscallFilter,
    is_local_addr,
    kind_of,
)
from tiercel.rules.language import syntax as ast
from tiercel.rules.matching.implied_checks import FieldKey, necessary
from tiercel.rules.matching.plan import conjuncts, specialise

Predicate = Callable[[Event], bool]
T = TypeVar("T")
Compile = Callable[[ast.Node], Any]     # condition -> its compiled record (.check)

# The fd roles, from the syscall table's rows (their Fx flags, like libscap's EF_* flags):
# the syscalls that make an fd, or name a socket, that the fd table then holds;
FD_MAKERS = having(Fx.CREATES_FD) | having(Fx.NAMES_SOCKET)
# those whose fd may be a socket (dup and fcntl copy any kind);
SOCKET_MAKERS = frozenset(n for n in FD_MAKERS if n in having(Fx.SOCKET) | having(Fx.COPIES_FD))
# whose return value is a new fd number (an entry of the state's fd table);
FD_RESULT = having(Fx.CREATES_FD)
# fd makers the state needs only for some values of an argument (fcntl copies an fd for two commands);
STATE_VALUES = {sc.name: sc.fd_values for sc in SYSCALLS_X86_64 if sc.fd_values}
# event types whose fd comes from the process's fd table (an fd argument), not from the event itself;
FD_READERS = frozenset(sc.name for sc in SYSCALLS_X86_64 if sc.uses_fd != NONE)
SOCKET_READERS = FD_READERS & having(Fx.SOCKET)
# Returns that are not "fd, 0 or -errno": no return-value test for them.
NO_RET_TEST = frozenset({"ptrace"})

# fd.nameraw is the argument as passed, which is fd.name for every path the probe judges.
PATH_FIELDS = frozenset({"fd.name", "fd.directory", "fd.nameraw"})
COMM_FIELDS = frozenset({"proc.name"})
RET_FIELDS = frozenset({"evt.res", "evt.rawres", "evt.failed"})
OPEN_RET_FIELDS = frozenset({"fd.num"})   # an open's fd.num is its return value
FLAG_FIELDS = frozenset({"evt.arg.flags", "evt.is_open_read", "evt.is_open_write"})
SOCKET_ONLY_FIELDS = frozenset({"fd.l4proto", "fd.sip", "fd.rip", "fd.cip", "fd.lip", "fd.sport",
                                "fd.rport", "fd.cport", "fd.lport", "fd.net", "fd.snet", "fd.cnet",
                                "fd.rnet", "fd.lnet", "fd.sockfamily", "fd.is_server", "fd.sip.name",
                                "fd.rip.name", "fd.cip.name", "fd.lip.name"})
SOCKET_TYPES = frozenset({"ipv4", "ipv6", "unix", "4", "6", "u", "netlink", "n"})
# Open flag bits (x86_64) whose presence changes what flag fields read (events/flags.py).
OPEN_BITS = (0o100, 0o200, 0o1000, 0o2000, 0o4000, 0o10000, 0o40000, 0o100000, 0o200000, 0o2000000,
             0o4000000, 0o20000000)
# What fds a rule may consult when its event type reads the table: fd fields, rendered fd arguments.
FD_FIELD_PREFIXES = ("fd.", "fs.path")
FD_FIELD_NAMES = frozenset({"evt.arg.fd", "evt.args", "evt.info", "evt.arg"})
# Fields of the process's container and pod: on the host (container.id "host") each has one value
# whatever the process and event (rules/fields/container.py), which the probe tells by exec_comm.host.
HOST_FIELD_PREFIXES = ("container.", "k8s.")


class Rule(Protocol):
    name: str
    node: ast.Node | None
    output: Any


class Rules(Protocol):
    def candidates(self, evttype: str) -> tuple[Any, ...]: ...

    def enabled_rules(self) -> list[Any]: ...


def derive(ruleset: Rules, compile_: Compile, table: SyscallTable, attached: Iterable[str],
           kernel_fds: bool = False) -> FilterTables:
    """The filter tables for these attached syscalls under these rules. `kernel_fds`: the probe
    describes the fd of each event whose row names one (Syscall.described_fd) from the task's own
    file table, so a rule reading those events' socket fields needs no earlier record."""
    notices: list[str] = []
    described = frozenset(sc.name for sc in table.entries if sc.described_fd != NONE) if kernel_fds \
        else frozenset()
    fd_needed = _fd_state_needs(ruleset.enabled_rules(), compile_, described)
    kinds = "" if not fd_needed else "any" if any(m not in SOCKET_MAKERS for m in fd_needed) else "socket"
    tracked = FD_RESULT if kinds == "any" else FD_RESULT & SOCKET_MAKERS if kinds else frozenset()
    out: dict[str, SyscallFilter] = {}
    opened_by: dict[str, list[str]] = {}
    for name in sorted(set(attached)):
        sc = table.by_name[name]
        if name in STATE_SYSCALLS:
            out[name] = SyscallFilter(name, sc.nr, True, "state", state=True)
            continue
        if name in fd_needed and name in STATE_VALUES:
            params = dict(sc.params)
            value_param = enum_param(name, params)
            assert value_param is not None
            out[name] = SyscallFilter(
                name, sc.nr, False, f"fd state for rule '{fd_needed[name]}'",
                (Slot(values=STATE_VALUES[name], rules=(fd_needed[name],)),),
                enum_arg=int(params[value_param][1]), state=True, fd_state=True, fd_result=True,
                fd_track=name in tracked)
            continue
        if name in fd_needed:
            out[name] = SyscallFilter(name, sc.nr, True, f"fd state for rule '{fd_needed[name]}'",
                                      state=True, fd_state=True, fd_result=name in FD_RESULT,
                                      fd_track=name in tracked)
            continue
        f = _syscall_filter(name, sc.nr, dict(sc.params), ruleset.candidates(name), compile_,
                            fd_result=bool(fd_needed) and name in FD_RESULT,
                            fd_close=bool(fd_needed) and Fx.DESTROYS_FD in sc.fx, fd_track=name in tracked,
                            sock=name in described and not sc.fd_values)
        if f.open and f.reason.startswith("rule "):
            opened_by.setdefault(f.reason, []).append(name)
        out[name] = f
    for reason, names in opened_by.items():
        notices.append(f"{reason} reads what the probe cannot judge: every {', '.join(names)} "
                       "record leaves the kernel")
    by_rule: dict[str, list[str]] = {}
    for name, rule in sorted(fd_needed.items()):
        if name in out and out[name].open:
            by_rule.setdefault(rule, []).append(name)
    for rule, names in by_rule.items():
        notices.append(f"rule '{rule}' reads fd fields on later events: every {', '.join(names)} "
                       "record leaves the kernel")
    return FilterTables(out, tuple(notices), kinds)


def _syscall_filter(name: str, nr: int, params: dict[str, str], rules: Sequence[Any],
                    compile_: Compile, fd_result: bool, fd_close: bool, fd_track: bool,
                    sock: bool = False) -> SyscallFilter:
    """`sock`: the probe describes this call's socket before it decides (its server port and kind
    can be tested)."""
    first = path_param(params)
    path_slot = 0 if first is not None else None
    flag_param, value_param = flags_param(name, params), enum_param(name, params)
    flags_arg = int(params[flag_param][1]) if flag_param is not None else None
    enum_arg = int(params[value_param][1]) if value_param is not None else None
    dims = _dimensions(name, first, flag_param, value_param)
    if sock:
        dims.update(SOCKET_DIMS)
    found: list[Slot] = []
    for rule in rules:
        if rule.node is None:
            return SyscallFilter(name, nr, True, f"rule '{rule.name}'")
        slot = _rule_slot(rule.node, name, frozenset(params), dims, compile_)
        if slot is None:
            continue                      # cannot match this event type at all
        if slot.key == Slot().key:
            return SyscallFilter(name, nr, True, f"rule '{rule.name}'")
        found.append(_replace(slot, rules=(rule.name,)))
    slots: dict[tuple[object, ...], Slot] = {}
    for slot in _fit_needles(found):
        if slot.key == Slot().key:
            return SyscallFilter(name, nr, True, f"rule '{slot.rules[0]}'")
        have = slots.get(slot.key)
        slots[slot.key] = _replace(slot, rules=(have.rules if have else ()) + slot.rules)
    if len(slots) > MAX_SLOTS:
        return SyscallFilter(name, nr, True, f"more than {MAX_SLOTS} distinct rule conditions")
    return SyscallFilter(name, nr, False, "", tuple(slots.values()), path_slot, flags_arg, enum_arg,
                         fd_result=fd_result, fd_close=fd_close, fd_track=fd_track,
                         sock_test=any(s.ports is not None or s.kinds is not None
                                       or not (s.local and s.local6) for s in slots.values()))


def path_param(params: dict[str, str]) -> str | None:
    """The argument the probe's path test reads: the call's first string (its string slot 0)."""
    return next((p for p, src in params.items() if src == "s0"), None)


def flags_param(name: str, params: dict[str, str]) -> str | None:
    """The argument the probe's flags test reads: an open's flags; for other calls, the first
    argument that holds bits (a flags or mode table renders it), e.g. chmod's mode, unshare's flags."""
    if name in OPEN_FAMILY:
        return "flags" if params.get("flags", "-").startswith("a") else None
    return next((p for p, src in params.items() if src.startswith("a") and src[1:].isdigit()
                 and PARAM_TABLES.get((name, p), (None, ""))[1] in (FLAGS, MODE)), None)


def enum_param(name: str, params: dict[str, str]) -> str | None:
    """The argument the probe's value-set test reads: the first one an enumeration renders (ptrace's
    request, socket's domain, ...)."""
    return next((p for p, src in params.items() if src.startswith("a") and src[1:].isdigit()
                 and PARAM_TABLES.get((name, p), (None, ""))[1] == ENUM), None)


def _dimensions(name: str, path_arg: str | None, flag_param: str | None,
                value_param: str | None = None) -> dict[str, str]:
    """Which fields of this event type each kind of test judges. The path test reads the first
    string argument: for an open, fd.name is made from it; for every call, evt.arg.<its name> is it
    as passed, equal to what the probe reads whenever the probe judges it (absolute and normal)."""
    dims = {f: "comm" for f in COMM_FIELDS}
    if name not in NO_RET_TEST:
        dims.update({f: "ret" for f in RET_FIELDS})
    if name in OPEN_FAMILY:
        dims.update({f: "ret" for f in OPEN_RET_FIELDS})
    if path_arg is not None:
        dims[f"evt.arg.{path_arg}"] = "path"
        if name in OPEN_FAMILY:
            dims.update({f: "path" for f in PATH_FIELDS})
    if flag_param is not None and name in OPEN_FAMILY:
        dims.update({f: "flags" for f in FLAG_FIELDS})
    elif flag_param is not None:
        dims[f"evt.arg.{flag_param}"] = f"bits:{flag_param}"
    if value_param is not None:
        dims[f"evt.arg.{value_param}"] = f"values:{value_param}"
    return dims


def _dim(key: FieldKey, dims: dict[str, str]) -> str | None:
    """Which test judges this field on this event type, if any."""
    if key[0].startswith(HOST_FIELD_PREFIXES):
        return "host"
    return dims.get(_field_name(key))


def _narrow_host(slot: Slot, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on the process's container: a host
    process's container fields are the same for every host process and event, so one event tells
    whether they can hold on the host at all."""
    def holds() -> bool:
        return _safe(_or_predicate([_check(compile_, a) for a in atoms]), _host_event(evttype))
    return slot if _memo(("host", tuple(atoms), evttype), holds) else _replace(slot, host=False)


def _host_event(evttype: str) -> Event:
    ev = _probe_event(evttype)
    ev.proc = Process(pid=1, ppid=0, comm="init")
    return ev


def _field_name(key: FieldKey) -> str:
    name, arg = key
    if arg is None:
        return name
    if name == "evt.arg" and not arg.isdigit():
        return f"evt.arg.{arg}"
    return f"{name}[{arg}]"


def _rule_slot(node: ast.Node, evttype: str, params: frozenset[str], dims: dict[str, str],
               compile_: Compile) -> Slot | None:
    spec = specialise(node, evttype, params)
    if spec is False:
        return None
    slot = Slot()
    local: list[tuple[ast.Node, ...]] = []      # the conjuncts on the server address, judged together

    def usable(key: FieldKey) -> bool:
        return _dim(key, dims) is not None

    for conj in conjuncts(spec):
        atoms = necessary(conj, usable)
        if not atoms:
            continue
        kinds = {_dim(k, dims) or "" for k, _ in atoms}
        if len(kinds) != 1:
            continue
        kind = kinds.pop()
        if kind.startswith("bits:"):
            slot = _narrow_bits(slot, kind[5:], [n for _, n in atoms], evttype, compile_)
            continue
        if kind.startswith("values:"):
            slot = _narrow_values(slot, kind[7:], [n for _, n in atoms], evttype, compile_)
            continue
        if kind == "local":
            local.append(tuple(n for _, n in atoms))
            continue
        if kind in ("port", "kind"):
            slot = _narrow_socket(slot, kind, [n for _, n in atoms], evttype, compile_)
            continue
        if kind == "host":
            slot = _narrow_host(slot, [n for _, n in atoms], evttype, compile_)
            continue
        if kind == "path" and any(k[0] == "fd.directory" for k, _ in atoms):
            # fd.name starts with fd.directory, so a prefix of the directory is one of the name
            atoms = [(k, n if k[0] != "fd.directory" else _directory_prefix(n)) for k, n in atoms]
        slot = _narrow(slot, kind, [n for _, n in atoms], evttype, compile_)
    return _narrow_local(slot, local, evttype, compile_) if local else slot


def _directory_prefix(node: ast.Node) -> ast.Node:
    """An fd.directory atom as the fd.name check it implies, where one is plain: `startswith D` or
    `contains C` (the directory is the start of the name)."""
    if isinstance(node, ast.Compare) and node.op in ("startswith", "contains"):
        return ast.Compare(ast.FieldRef("fd.name"), node.op, node.right)
    return ast.Identifier("unjudged")      # converts to "no path test"


def _fit_needles(slots: list[Slot]) -> list[Slot]:
    """The probe searches a path for at most MAX_NEEDLES strings per syscall: slots asking for more
    lose their needle test, those with the most needles first (fewer tests only let more through)."""
    order = sorted(range(len(slots)), key=lambda i: len(slots[i].needles or ()))
    kept: set[bytes] = set()
    out = list(slots)
    for i in order:
        want = out[i].needles
        if want is None:
            continue
        if len(kept | want) <= MAX_NEEDLES:
            kept |= want
        else:
            out[i] = _replace(out[i], needles=None)
    return out


def _narrow(slot: Slot, kind: str, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms, all on one kind of test."""
    s = slot
    if kind == "comm":
        comms = _union([_comm_set(a) for a in atoms])
        if comms is not None:
            return _replace(s, comms=comms if s.comms is None else s.comms & comms)
    elif kind == "path":
        paths = _union_paths([_path_set(a) for a in atoms])
        if paths is not None:
            if s.paths is None or _size(paths) < _size(s.paths):
                return _replace(s, paths=paths)
            return s
        needles = _union([_needles(a) for a in atoms])
        if needles is not None and (s.needles is None or len(needles) < len(s.needles)):
            return _replace(s, needles=needles)
    elif kind == "ret":
        ok, fail = False, False
        for a in atoms:
            o, f = _memo(("ret", a, evttype), functools.partial(_ret_truth, a, evttype, compile_))
            ok, fail = ok or o, fail or f
        return _replace(s, ret_ok=s.ret_ok and ok, ret_fail=s.ret_fail and fail)
    elif kind == "flags":
        as_type = _flags_alike(evttype)
        acc_ok, bits_any = _memo(("flags", tuple(atoms), as_type), lambda: _flag_test(
            _or_predicate([_check(compile_, a) for a in atoms]), as_type))
        if s.acc_ok == ACC_ALL:
            return _replace(s, acc_ok=acc_ok, bits_any=bits_any)
    return s


def _narrow_bits(slot: Slot, param: str, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on a bits argument: when they hold
    exactly for the values with one of some bits set, the probe tests those bits."""
    leaves = [leaf for a in atoms for leaf in _or_leaves(a)]
    if slot.acc_ok != ACC_ALL or not all(isinstance(a, ast.Compare) and a.op == "contains" for a in leaves):
        return slot                 # `contains NAME` holds for the values with NAME's bit: others may not
    bits = _memo(("bits", tuple(atoms), evttype, param), lambda: _bits_test(
        _or_predicate([_check(compile_, a) for a in atoms]), evttype, param))
    return slot if bits is None else _replace(slot, acc_ok=0, bits_any=bits)


def _narrow_values(slot: Slot, param: str, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on an enumerated argument: the values
    they hold for, when no value outside the enumeration can make them hold."""
    values = _memo(("values", tuple(atoms), evttype, param), lambda: _value_set(
        _or_predicate([_check(compile_, a) for a in atoms]), evttype, param))
    if values is None or (slot.values is not None and len(slot.values) <= len(values)):
        return slot
    return _replace(slot, values=values)


# Fields of a socket the probe reads from the kernel (fd_describe) before it decides: the server port,
# and what its family and l4 protocol make of fd.typechar, fd.type, fd.sockfamily and fd.l4proto.
SOCKET_DIMS = {"fd.sport": "port", "fd.sip": "local", "fd.snet": "local", "fd.ip": "local", "fd.net": "local",
               **dict.fromkeys(("fd.l4proto", "fd.typechar", "fd.type", "fd.sockfamily"), "kind")}
# Server addresses the probe calls local (filtertables.is_local_addr): each a sample of the class, to
# which every constant of an atom that lies in it is added, with its neighbours
LOCAL_SAMPLES = ("127.0.0.1", "127.0.0.0", "127.255.255.255", "127.0.0.53", "127.1.2.3", "0.0.0.0",
                 "::1", "::")
# Client addresses tried with each local server address, for atoms on either end (fd.ip, fd.net): the
# kernel's local bit says nothing of the client, so every class of client address is tried: none, these,
# and every constant an atom names with its neighbours.
CLIENT_SAMPLES = ("", "10.1.2.3", "172.16.0.9", "192.168.1.1", "192.0.2.1", "203.0.113.7", "8.8.8.8",
                  "2001:db8::1", "fe80::1", "fd00::1")
PORTS = range(65536)


def _narrow_socket(slot: Slot, kind: str, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on the socket's server port or its kind:
    the exact set of values they hold for, found by trying every port (every kind), when small."""
    def pred() -> Predicate:         # compiled only when the memo has not got the answer
        return _or_predicate([_check(compile_, a) for a in atoms])

    if kind == "port":
        ports = _memo(("ports", tuple(atoms), evttype), lambda: _port_set(pred(), evttype))
        if ports is None:
            return slot
        return _replace(slot, ports=ports if slot.ports is None else slot.ports & ports)
    kinds = _memo(("kinds", tuple(atoms), evttype), lambda: _kind_set(pred(), evttype))
    return _replace(slot, kinds=kinds if slot.kinds is None else slot.kinds & kinds)


def _narrow_local(slot: Slot, groups: list[tuple[ast.Node, ...]], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `and` of these conjuncts on the socket's addresses (each the
    `or` of its atoms): whether they can hold when the server address is an IPv4 local one, and when
    it is an IPv6 one. Judged together: `fd.ip != 0.0.0.0 and fd.net != 127.0.0.0/8` each leave
    part of the class, and only both leave none of it."""
    def holds() -> tuple[bool, bool]:
        preds = [_or_predicate([_check(compile_, a) for a in g]) for g in groups]
        atoms = [a for g in groups for a in g]
        return _holds_on_local(lambda ev: all(p(ev) for p in preds), evttype, atoms)
    v4, v6 = _memo(("local", tuple(groups), evttype), holds)
    return _replace(slot, local=slot.local and v4, local6=slot.local6 and v6)


def _holds_on_local(pred: Predicate, evttype: str, atoms: list[ast.Node]) -> tuple[bool, bool]:
    """Whether `pred` can hold on a socket whose server address is a local IPv4 one, a local IPv6 one;
    with any client address (fd.ip and fd.net read either end)."""
    clients = [*CLIENT_SAMPLES, *_named_addresses(atoms, lambda a: True)]

    def holds(v6: bool) -> bool:
        return any(_safe(pred, _socket_event(evttype, Fd(3, "6" if v6 else "4", l4proto="tcp", sip=s, cip=c)))
                   for s in _local_samples(atoms) if (":" in s) == v6
                   for c in clients if not c or (":" in c) == v6)
    return holds(False), holds(True)


def _kind_set(pred: Predicate, evttype: str) -> frozenset[int]:
    return frozenset(kind_of(tc, l4) for tc in KIND_FAMILIES for l4 in L4_CODES
                     if _safe(pred, _socket_event(evttype, Fd(3, tc, l4proto=l4))))


def _local_samples(atoms: list[ast.Node]) -> list[str]:
    """Addresses of the local class to try an atom on: the fixed samples, and each address an atom
    names (alone or as a network) that lies in the class, with the addresses on either side of it:
    an atom of =, in and network tests is constant between the addresses it names."""
    return [*LOCAL_SAMPLES, *_named_addresses(atoms, is_local_addr)]


def _named_addresses(atoms: list[ast.Node], keep: Callable[[str], bool]) -> list[str]:
    """Each address the atoms name (alone or as a network's ends), with its neighbours, that `keep`
    takes."""
    out: list[str] = []
    for atom in atoms:
        for node in ast.walk(atom):
            if not isinstance(node, ast.Value):
                continue
            try:
                net = ipaddress.ip_network(node.text, strict=False)
            except ValueError:
                continue
            top = (1 << net.max_prefixlen) - 1
            for edge in (int(net.network_address), int(net.broadcast_address)):
                for n in (edge - 1, edge, edge + 1):
                    if not 0 <= n <= top:
                        continue
                    a = str(ipaddress.IPv4Address(n) if net.version == 4 else ipaddress.IPv6Address(n))
                    if keep(a):
                        out.append(a)
    return out


def _port_set(pred: Predicate, evttype: str) -> frozenset[int] | None:
    fd = Fd(3, "4", l4proto="tcp")
    ev = _socket_event(evttype, fd)
    found = []
    for port in PORTS:
        fd.sport = port
        if _safe(pred, ev):
            found.append(port)
            if len(found) > MAX_PORTS:
                return None
    return frozenset(found)


def _socket_event(evttype: str, fd: Fd) -> Event:
    return Event(num=1, ts=0, type=evttype, dir="<", tid=1, pid=1, res=0, args={"fd": 3, "res": 0}, fd=fd)


# Every value an enumerated argument is rendered by name for is below 256 or a ptrace request
# (0x42xx); what lies outside renders as a number, as the sentinels do.
ENUM_DOMAIN = (*range(256), *range(0x4200, 0x4300))
ENUM_SENTINELS = (1 << 16, 0x7FFFFFFF, 0xFFFFFFFF, (1 << 63) - 1)
MAX_VALUES = 16             # values per slot (entries of the probe's kf_enums)


def _value_set(pred: Predicate, evttype: str, param: str) -> frozenset[int] | None:
    def holds(v: int) -> bool:
        return _safe(pred, _probe_event(evttype, args={param: v}))
    if any(holds(v) for v in ENUM_SENTINELS):
        return None
    values = frozenset(v for v in ENUM_DOMAIN if holds(v))
    return values if len(values) <= MAX_VALUES else None


def _or_leaves(node: ast.Node) -> list[ast.Node]:
    if isinstance(node, ast.Or):
        return [leaf for c in node.children for leaf in _or_leaves(c)]
    return [node]


def _bits_test(pred: Predicate, evttype: str, param: str) -> int | None:
    """The bits B such that the predicate (`contains NAME` atoms: each holds when NAME's bit is set)
    holds for a value exactly when it has one of B, checked on zero, every bit, every pair of bits and
    a fixed spread of other values; None if there are no such bits."""
    def holds(v: int) -> bool:
        return _safe(pred, _probe_event(evttype, args={param: v}))
    if holds(0):
        return None
    singles = [1 << b for b in range(BITS_WIDTH)]
    bits = sum(b for b in singles if holds(b))
    rng = random.Random(20261201)
    tries = [a | b for a, b in combinations(singles, 2)] + [rng.getrandbits(BITS_WIDTH) for _ in range(512)]
    if not bits or any(holds(v) != bool(v & bits) for v in tries):
        return None
    return bits


_MEMO: dict[tuple[Any, ...], Any] = {}


def _memo(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """Truth tables by atom and event type: the same few atoms (evt.is_open_write = true) recur in
    many rules and syscalls, and evaluating one over its domain takes milliseconds. The atoms' meaning
    depends only on the field table, so the memo holds across loads; it is bounded."""
    if key not in _MEMO:
        if len(_MEMO) > 4096:
            _MEMO.clear()
        _MEMO[key] = make()
    result = _MEMO[key]
    return result


def _replace(s: Slot, **kw: Any) -> Slot:
    return dataclasses.replace(s, **kw)


def _size(p: PathSet) -> int:
    return len(p.exact) + 4 * (len(p.prefix) + len(p.suffix))


def _union(sets: list[frozenset[bytes] | None]) -> frozenset[bytes] | None:
    out: frozenset[bytes] = frozenset()
    for s in sets:
        if s is None:
            return None
        out |= s
    return out


def _union_paths(sets: list[PathSet | None]) -> PathSet | None:
    out = PathSet()
    for s in sets:
        if s is None:
            return None
        out = out.union(s)
    return out


def _values(right: ast.Node | None) -> list[str] | None:
    if isinstance(right, ast.Value):
        return [right.text]
    if isinstance(right, ast.ListValue) and all(isinstance(i, ast.Value) for i in right.items):
        return [i.text for i in right.items if isinstance(i, ast.Value)]
    return None


def _over_atoms(node: ast.Node, leaf: Callable[[ast.Compare], T | None],
                union: Callable[[list[T | None]], T | None], size: Callable[[T], int]) -> T | None:
    """What an atom allows (the values, paths, ... it can hold for), read from its comparisons: an
    `or` allows what any of its parts does, an `and` what its narrowest part does; None: anything."""
    if isinstance(node, ast.Or):
        return union([_over_atoms(c, leaf, union, size) for c in node.children])
    if isinstance(node, ast.And):
        found = [s for s in (_over_atoms(c, leaf, union, size) for c in node.children) if s is not None]
        return min(found, key=size) if found else None
    return leaf(node) if isinstance(node, ast.Compare) else None


def _comm_set(node: ast.Node) -> frozenset[bytes] | None:
    """The comms (15 bytes) for which a proc.name atom can hold, if it names them all."""
    return _over_atoms(node, _comm_leaf, _union, len)


def _comm_leaf(node: ast.Compare) -> frozenset[bytes] | None:
    if node.op in ("=", "==", "in"):
        vals = _values(node.right)
        if vals is None or any("\\" in v for v in vals):
            return None
        return frozenset(v.encode()[:COMM_LEN] for v in vals)
    return None


def _path_set(node: ast.Node) -> PathSet | None:
    """The exact names, prefixes and suffixes an fd.name atom can hold for, if it says them all."""
    return _over_atoms(node, _path_leaf, _union_paths, _size)


def _path_leaf(node: ast.Compare) -> PathSet | None:
    vals = _values(node.right)
    if vals is None:
        return None
    raw = [v.encode() for v in vals]
    short = [v for v in raw if len(v) < PATH_MAX_K - 1]   # longer ones are never judged in the kernel
    if node.op in ("=", "==", "in"):
        return PathSet(exact=frozenset(short))
    if node.op == "startswith":
        return PathSet(prefix=frozenset(short))
    if node.op == "endswith":
        return PathSet(suffix=frozenset(short))
    if node.op == "pmatch":
        return PathSet(prefix=frozenset(short))
    if node.op == "glob" and len(raw) == 1:
        head = raw[0]
        for i, ch in enumerate(head):
            if ch in b"*?[\\":
                head = head[:i]
                break
        return PathSet(prefix=frozenset({head[:PATH_MAX_K]})) if head.startswith(b"/") else None
    return None


def _needles(node: ast.Node) -> frozenset[bytes] | None:
    """Pairs of bytes (needles), one of which a path the probe judges must contain for this fd.name
    atom to hold; None if the atom says none. A string with `//` or `/.` is in no judged path (they
    are normal), so it adds nothing: an empty set means no judged path holds."""
    return _over_atoms(node, _needle_leaf, _union, len)


def _needle_leaf(node: ast.Compare) -> frozenset[bytes] | None:
    vals = _values(node.right)
    if vals is None:
        return None
    if node.op in ("=", "==", "in", "startswith", "endswith", "contains", "pmatch"):
        runs = [[v.encode()] for v in vals]
    elif node.op == "glob" and len(vals) == 1:
        literal = _glob_runs(vals[0].encode())
        if literal is None:
            return None
        runs = [literal]
    else:
        return None
    out: set[bytes] = set()
    for parts in runs:                      # each value: all its parts are in the path
        if any(b"//" in p or b"/." in p for p in parts):
            continue                        # never in a judged path
        pairs = [p[i:i + NEEDLE_LEN] for p in parts for i in range(len(p) - NEEDLE_LEN + 1)]
        if not pairs:
            return None                     # too short to say: the atom holds for too much
        out.add(max(pairs, key=_rarity))
    return frozenset(out)


def _rarity(pair: bytes) -> int:
    """Pairs of bytes rarer in paths make better needles: `/` is in every path, lower-case letters in
    most names; dots, digits, `_`, `-` and capitals less often. The first of the rarest is taken."""
    return sum(0 if b == 0x2F else 1 if 0x61 <= b <= 0x7A else 2 for b in pair)


def _glob_runs(pattern: bytes) -> list[bytes] | None:
    """The literal runs of a glob pattern (each is in every name it matches), None if it escapes."""
    runs, cur, i = [], b"", 0
    while i < len(pattern):
        ch = pattern[i:i + 1]
        if ch == b"\\":
            return None
        if ch in (b"*", b"?", b"["):
            runs.append(cur)
            cur = b""
            if ch == b"[":              # a class: `[!]x]` is one character, not `x]`
                j = i + 1 + (pattern[i + 1:i + 2] in (b"!", b"^"))
                end = pattern.find(b"]", j + 1)
                if end < 0:
                    return None
                i = end
        else:
            cur += ch
        i += 1
    runs.append(cur)
    return [r for r in runs if r]


def _check(compile_: Compile, node: ast.Node) -> Predicate:
    """The compiled check of a condition (the compiler returns a record holding it)."""
    compiled: Any = compile_(node)
    check: Predicate = getattr(compiled, "check", compiled)
    return check


def _or_predicate(preds: list[Predicate]) -> Predicate:
    return lambda ev: any(p(ev) for p in preds)


def _probe_event(evttype: str, res: int = 0, flags: int = 0, args: dict[str, int] | None = None) -> Event:
    return Event(num=1, ts=0, type=evttype, dir="<", tid=1, pid=1, res=res,
                 args={"fd": res, "res": res, "flags": flags, "mode": 0, **(args or {})},
                 fd=Fd(num=res, typechar="f", openflags=flags))


def _safe(pred: Predicate, ev: Event) -> bool:
    try:
        return bool(pred(ev))
    except Exception:     # a check that cannot run here is taken as possibly true
        return True


ERRNOS = range(-4095, 0)
OK_VALUES = (*range(0, 4097), 1 << 20, (1 << 31) - 1)


def _ret_truth(atom: ast.Node, evttype: str, compile_: Compile) -> tuple[bool, bool]:
    """Whether the atom can hold for a successful call, and for a failed one (every -errno)."""
    pred = _check(compile_, atom)
    fail = any(_safe(pred, _probe_event(evttype, res=r)) for r in ERRNOS)
    ok = any(_safe(pred, _probe_event(evttype, res=r)) for r in OK_VALUES)
    return ok, fail


def _flag_values() -> list[int]:
    out: list[int] = []
    for n in range(len(OPEN_BITS) + 1):
        for combo in combinations(OPEN_BITS, n):
            bits = sum(combo)
            out.extend(acc | bits for acc in range(4))
    return out


_FLAG_VALUES = _flag_values()


def _flags_alike(evttype: str) -> str:
    """The event type whose flag truth table `evttype` shares: open, openat and openat2 render their
    flags with one table and are all open events (evt.is_open_*), so a flag atom holds for the same
    values in each, and the 16,384 values are tried once for the three (a third of start-up's
    derive with upstream's rules)."""
    return "openat" if PARAM_TABLES.get((evttype, "flags")) == PARAM_TABLES.get(("openat", "flags")) \
        and evttype in OPEN_FAMILY else evttype


def _flag_test(pred: Predicate, evttype: str) -> tuple[int, int]:
    """(acc_ok, bits_any) such that every flags value the predicate holds for passes the test."""
    true_values = [v for v in _FLAG_VALUES if _safe(pred, _probe_event(evttype, flags=v))]
    if not true_values:
        return 0, 0
    acc_ok = 0
    common = ~0
    for v in true_values:
        acc_ok |= 1 << (v & 3)
        common &= v & ~3
    if common and bin(acc_ok).count("1") > 1:
        return 0, common & -common          # one bit every true value has
    return acc_ok, 0


# -- what the fd state needs ----------------------------------------------------------------------

def _fd_state_needs(rules: Sequence[Any], compile_: Compile,
                    described: frozenset[str] = frozenset()) -> dict[str, str]:
    """fd-creating syscall -> the first rule that reads fd fields of an fd another event made. A rule
    that reads only socket fields, on events whose fd the probe describes itself (`described`), needs
    none: its events carry their socket as the kernel has it."""
    needs: dict[str, str] = {}
    for rule in rules:
        if rule.node is None:
            continue
        types = rule_types(rule)
        readers = FD_READERS if types is None else FD_READERS & types
        if not readers or not _reads_fds(rule.node):
            continue
        sockets_only = all(t in SOCKET_READERS or _socket_only(rule.node, t) for t in readers)
        if sockets_only and readers <= described:
            continue
        for maker in (SOCKET_MAKERS if sockets_only else FD_MAKERS):
            needs.setdefault(maker, rule.name)
    return needs


def rule_types(rule: Any) -> frozenset[str] | None:
    types = getattr(rule, "evttypes", None)
    return frozenset(types) if types is not None else None


def _reads_fds(node: ast.Node) -> bool:
    """Whether a condition reads fd fields. Outputs are not asked: an fd a filtered open made is
    filled from /proc when an alert's output needs it (state.fds)."""
    names = {n.name for n in ast.walk(node) if isinstance(n, ast.FieldRef)}
    return any(n.startswith(FD_FIELD_PREFIXES) or n in FD_FIELD_NAMES for n in names)


def _socket_only(node: ast.Node, evttype: str) -> bool:
    """Whether the rule, on this event type, can only match an fd that is a socket."""
    spec = specialise(node, evttype)
    if spec is False:
        return True
    for conj in conjuncts(spec):
        atoms = necessary(conj, lambda k: k[0] in SOCKET_ONLY_FIELDS or k[0] in ("fd.type", "fd.typechar"))
        if atoms and all(_socket_atom(k[0], n) for k, n in atoms):
            return True
    return False


def _socket_atom(field: str, node: ast.Node) -> bool:
    if field in SOCKET_ONLY_FIELDS:
        # these fields are <NA> for files: a check that holds must be a positive one
        return not any(isinstance(n, ast.Not) for n in ast.walk(node)) and all(
            n.op not in ("!=", "exists") for n in ast.walk(node) if isinstance(n, ast.Compare))
    if isinstance(node, ast.Compare) and node.op in ("=", "==", "in"):
        vals = _values(node.right)
        return vals is not None and all(v in SOCKET_TYPES for v in vals)
    return False
