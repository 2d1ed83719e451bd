"""The filter on socket calls, when the probe describes their sockets (kernel_fds): no record is
needed for the fd state, and the socket's server port and kind are tested in the kernel."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tiercel.events.syscalls import SyscallTable
from tiercel.kfilter.derive import derive
from tiercel.kfilter.offline import KernelView, passes
from tiercel.probe.filtertables import FilterTables, kind_of
from tiercel.rules.files.loader import load_rules

CHECKOUT = Path(__file__).resolve().parents[2]
TABLE = SyscallTable()
TCP4, UDP4, UNIX = kind_of("4", "tcp"), kind_of("4", "udp"), kind_of("u", "")


def _tables(paths: list[Path], kernel_fds: bool) -> tuple[Any, FilterTables]:
    rs, result = load_rules(paths)
    assert not result.errors
    return rs, derive(rs, rs.compiler, TABLE, set(TABLE.by_name), kernel_fds)


def test_socket_state_needs_no_record_when_the_kernel_describes_it() -> None:
    _rs, before = _tables([CHECKOUT / "rules"], kernel_fds=False)
    assert before.syscalls["socket"].open and before.syscalls["accept4"].open
    assert any("reads fd fields on later events" in n for n in before.notices)
    _rs, after = _tables([CHECKOUT / "rules"], kernel_fds=True)
    assert not after.syscalls["socket"].open and not after.syscalls["accept4"].open
    assert not any("reads fd fields on later events" in n for n in after.notices)
    assert after.fd_kinds == ""


def test_server_port_and_kind_are_tested(oracles: Path) -> None:
    rules = [oracles / "rules" / f for f in ("falco_rules.yaml", "falco-incubating_rules.yaml")]
    _rs, tables = _tables(rules, kernel_fds=True)
    accept4 = tables.syscalls["accept4"]
    assert not accept4.open and accept4.sock_test
    # a web server's accepts: TCP on port 80, by nginx, stay in the kernel; a port or kind the
    # kernel could not tell lets it leave; UDP leaves on a connect (Unexpected UDP Traffic)
    assert not passes(tables, KernelView("accept4", 5, b"nginx", port=80, kind=TCP4))
    assert passes(tables, KernelView("connect", 0, b"nginx", port=9999, kind=None))
    assert passes(tables, KernelView("connect", 0, b"nginx", port=9999, kind=UDP4))
    # no successful accept is UDP (the syscall table: Fx.CONNECTION): that rule's slot holds only on
    # a failed one, so a success needs no description at all
    udp = next(s for s in accept4.slots if "Unexpected UDP Traffic" in s.rules)
    assert not udp.ret_ok and udp.ret_fail
    assert passes(tables, KernelView("accept4", -95, b"nginx"))


def test_crypto_pool_ports(tmp_path: Path) -> None:
    _rs, tables = _tables([CHECKOUT / "rules"], kernel_fds=True)
    connect = tables.syscalls["connect"]
    assert any(s.ports and 4444 in s.ports for s in connect.slots)
    # `ab` to a web server: no slot holds but those that cannot test the address (loopback)
    port_slots = [s for s in connect.slots if s.ports is not None]
    assert port_slots and all(80 not in s.ports for s in port_slots if s.ports is not None)
    assert passes(tables, KernelView("connect", 0, b"ab", port=4444, kind=TCP4))


def test_an_empty_list_holds_nothing(tmp_path: Path) -> None:
    """`x in ()` (a template list left empty, as upstream's namespace_scope_network_only_subnet) can
    never hold: the rule cannot match, and it opens nothing."""
    f = tmp_path / "r.yaml"
    f.write_text("""
- list: scope
  items: []
- rule: Only in scope
  desc: d
  condition: evt.type = accept4 and k8s.ns.name in (scope)
  output: o
  priority: WARNING
""")
    _rs, tables = _tables([f], kernel_fds=True)
    assert not tables.syscalls["accept4"].open
    assert not passes(tables, KernelView("accept4", 5, b"nginx", port=80, kind=TCP4))


@pytest.mark.parametrize(("typechar", "l4proto"), [("4", "tcp"), ("6", "udp"), ("u", ""), ("n", ""),
                                                   ("o", "")])
def test_kinds_are_distinct(typechar: str, l4proto: str) -> None:
    kinds = {kind_of(t, p) for t in "46uno" for p in ("", "tcp", "udp", "raw", "icmp")}
    assert len(kinds) == 25 and kind_of(typechar, l4proto) in kinds


def test_rules_for_containers_hold_nothing_on_the_host(oracles: Path) -> None:
    """Upstream's `container` rules on connect (K8s API server, cloud metadata) cannot match a host
    process: `ab` on the host connecting to a local web server stays in the kernel, the same connect
    from a container leaves."""
    rules = [oracles / "rules" / f for f in ("falco_rules.yaml", "falco-incubating_rules.yaml")]
    _rs, tables = _tables(rules, kernel_fds=True)
    connect = tables.syscalls["connect"]
    k8s = next(s for s in connect.slots if "Contact K8S API Server From Container" in s.rules)
    assert not k8s.host
    assert all(s.host for s in connect.slots if "System procs network activity" in s.rules)
    ab = KernelView("connect", 0, b"ab", port=80, kind=TCP4, local=True, host=True)
    assert not passes(tables, ab)
    assert passes(tables, dataclasses.replace(ab, host=False))


def test_address_conjuncts_are_judged_together(tmp_path: Path) -> None:
    """`fd.ip != 0.0.0.0 and fd.net != 127.0.0.0/8` (upstream's outbound macro) excludes every local
    IPv4 server address only as a whole, and none of the IPv6 ones (::1 is outside both)."""
    f = tmp_path / "r.yaml"
    f.write_text("""
- rule: Out
  desc: d
  condition: evt.type = connect and fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8" and proc.name = ssh
  output: o
  priority: WARNING
""")
    _rs, tables = _tables([f], kernel_fds=True)
    (slot,) = tables.syscalls["connect"].slots
    assert not slot.local and slot.local6
    tcp6 = kind_of("6", "tcp")
    assert not passes(tables, KernelView("connect", 0, b"ssh", port=22, kind=TCP4, local=True))
    assert passes(tables, KernelView("connect", 0, b"ssh", port=22, kind=tcp6, local=True))
    assert passes(tables, KernelView("connect", 0, b"ssh", port=22, kind=TCP4, local=False))
