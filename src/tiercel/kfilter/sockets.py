"""The socket and host tests of kfilter.derive's slots, found by trying the atoms on sample events.

On a call whose socket the probe describes before it decides (fd_describe): the server ports and the
socket kinds an atom holds for (every port, every kind tried), and whether the server address can be a
local one (IPv4, IPv6), judged on samples of the local classes and every address an atom names. On
any call: whether the process's container fields can hold on the host, which one event tells.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from tiercel.events.model import Event, Fd, Process
from tiercel.events.syscalls import Fx, having
from tiercel.kfilter.judge import Compile, Predicate, check, memo, or_predicate, probe_event, replace, safe
from tiercel.probe.filtertables import KIND_FAMILIES, L4_CODES, MAX_PORTS, Slot, is_local_addr, kind_of
from tiercel.rules.language import syntax as ast
from tiercel.rules.matching.implied_checks import FieldKey

# Fields of the process's container and pod: on the host (container.id "host") each has one value
# whatever the process and event (rules/fields/container.py), which the probe tells by exec_comm.host.
HOST_FIELD_PREFIXES = ("container.", "k8s.")

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


def dim(key: FieldKey, dims: dict[str, str]) -> str | None:
    """Which test judges this field on this event type, if any."""
    if key[0].startswith(HOST_FIELD_PREFIXES):
        return "host"
    return dims.get(_field_name(key))


def _field_name(key: FieldKey) -> str:
    name, arg = key
    if arg is None:
        return name
    if name == "evt.arg" and not arg.isdigit():
        return f"evt.arg.{arg}"
    return f"{name}[{arg}]"


def narrow_host(slot: Slot, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on the process's container: a host
    process's container fields are the same for every host process and event, so one event tells
    whether they can hold on the host at all."""
    def holds() -> bool:
        return safe(or_predicate([check(compile_, a) for a in atoms]), _host_event(evttype))
    return slot if memo(("host", tuple(atoms), evttype), holds) else replace(slot, host=False)


def _host_event(evttype: str) -> Event:
    ev = probe_event(evttype)
    ev.proc = Process(pid=1, ppid=0, comm="init")
    return ev


# The calls whose new socket is a connection's end (accept), and the kinds such a socket can have:
# any family, with no l4 protocol or tcp (a stream or seqpacket socket: TCP, SCTP, MPTCP, unix).
CONNECTION_MAKERS = having(Fx.CONNECTION)
CONNECTION_KINDS = frozenset(kind_of(tc, l4) for tc in KIND_FAMILIES for l4 in ("", "tcp"))


def narrow_socket(slot: Slot, kind: str, atoms: list[ast.Node], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `or` of these atoms on the socket's server port or its kind:
    the exact set of values they hold for, found by trying every port (every kind), when small."""
    def pred() -> Predicate:         # compiled only when the memo has not got the answer
        return or_predicate([check(compile_, a) for a in atoms])

    if kind == "port":
        ports = memo(("ports", tuple(atoms), evttype), lambda: _port_set(pred(), evttype))
        if ports is None:
            return slot
        return replace(slot, ports=ports if slot.ports is None else slot.ports & ports)
    kinds = memo(("kinds", tuple(atoms), evttype), lambda: _kind_set(pred(), evttype))
    kinds = kinds if slot.kinds is None else slot.kinds & kinds
    if evttype in CONNECTION_MAKERS and not kinds & CONNECTION_KINDS:
        # a successful accept's socket is never of these kinds: the slot holds only on a failure
        # (whose kind the kernel cannot tell), and the probe need not describe a success for it
        return replace(slot, kinds=kinds, ret_ok=False)
    return replace(slot, kinds=kinds)


def narrow_local(slot: Slot, groups: list[tuple[ast.Node, ...]], evttype: str, compile_: Compile) -> Slot:
    """`slot` further restricted by the `and` of these conjuncts on the socket's addresses (each the
    `or` of its atoms): whether they can hold when the server address is an IPv4 local one, and when
    it is an IPv6 one. Judged together: `fd.ip != 0.0.0.0 and fd.net != 127.0.0.0/8` each leave
    part of the class, and only both leave none of it."""
    def holds() -> tuple[bool, bool]:
        preds = [or_predicate([check(compile_, a) for a in g]) for g in groups]
        atoms = [a for g in groups for a in g]
        return _holds_on_local(lambda ev: all(p(ev) for p in preds), evttype, atoms)
    v4, v6 = memo(("local", tuple(groups), evttype), holds)
    return replace(slot, local=slot.local and v4, local6=slot.local6 and v6)


def _holds_on_local(pred: Predicate, evttype: str, atoms: list[ast.Node]) -> tuple[bool, bool]:
    """Whether `pred` can hold on a socket whose server address is a local IPv4 one, a local IPv6 one;
    with any client address (fd.ip and fd.net read either end)."""
    clients = [*CLIENT_SAMPLES, *_named_addresses(atoms, lambda a: True)]

    def holds(v6: bool) -> bool:
        return any(safe(pred, _socket_event(evttype, Fd(3, "6" if v6 else "4", l4proto="tcp", sip=s, cip=c)))
                   for s in _local_samples(atoms) if (":" in s) == v6
                   for c in clients if not c or (":" in c) == v6)
    return holds(False), holds(True)


def _kind_set(pred: Predicate, evttype: str) -> frozenset[int]:
    return frozenset(kind_of(tc, l4) for tc in KIND_FAMILIES for l4 in L4_CODES
                     if safe(pred, _socket_event(evttype, Fd(3, tc, l4proto=l4))))


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
        if safe(pred, ev):
            found.append(port)
            if len(found) > MAX_PORTS:
                return None
    return frozenset(found)


def _socket_event(evttype: str, fd: Fd) -> Event:
    return Event(num=1, ts=0, type=evttype, dir="<", tid=1, pid=1, res=0, args={"fd": 3, "res": 0}, fd=fd)
