"""Alerts with and without the kernel filter: the two runs the soundness tests compare.

`replay_alerts` replays a .scap capture as the live agent sees syscalls (one record per syscall: enter
events are left out), `stream_alerts` applies synthetic exit events; both drop what the probe would
keep in the kernel (kfilter.offline.kept) before the state sees it, and return the alerts. Same alerts
with and without the filter is what "sound" means.

With `kernel_fds`, each event whose row names an fd the probe describes (Syscall.described_fd) carries
that fd as the kernel would (Event.kfd): from a second state that sees every event, the kernel's own
fd table, as the live probe reads it at the event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tiercel.events.model import DIR_ENTER, S_IFSOCK, Event, Fd, KernelFd
from tiercel.events.syscalls import NONE, RET, ROLE_CLIENT, ROLE_SERVER, SyscallTable
from tiercel.kfilter.offline import kept
from tiercel.probe.filtertables import FilterTables
from tiercel.scap.convert import Converter, after_apply
from tiercel.scap.reader import CaptureReader
from tiercel.scap.state import table_from_header
from tiercel.state.enrich import Enricher

Alert = tuple[int, str, str]            # evt.num, rule name, rendered output


def replay_alerts(path: Path, ruleset: Any, tables: FilterTables | None,
                  kernel_fds: bool = False) -> list[Alert]:
    """Alerts of a capture replayed through state and rules, syscall exits only."""
    reader = CaptureReader(path)
    try:
        table = table_from_header(reader.header)
        enricher = Enricher(table=table)
        truth = _Truth(Enricher(table=table_from_header(reader.header))) if kernel_fds else None
        converter = Converter(table)
        out: list[Alert] = []
        for raw in reader.events():
            try:
                ev = converter.convert(raw)
            except (ValueError, IndexError, KeyError, TypeError):
                continue
            if ev is None or raw.flags & 1 or (ev.dir == DIR_ENTER and ev.type != "procexit"):
                continue
            if truth is not None:
                truth.describe(ev)
            if ev.type != "procexit" and not kept(ev, table.lookup(ev), tables):
                continue
            tup = ev.args.get("tuple")
            enricher.apply(ev)
            after_apply(ev, tup, table.threads)
            out.extend(_alerts(ruleset, ev))
        return out
    finally:
        reader.close()


def stream_alerts(events: Iterable[Event], ruleset: Any, tables: FilterTables | None,
                  enricher: Any, truth: Enricher | None = None) -> list[Alert]:
    """Alerts of synthetic exit events applied to `enricher`'s state, filtered or not; with `truth`
    (an Enricher of its own, seeing every event), events carry their fd as the kernel would."""
    out: list[Alert] = []
    kernel = _Truth(truth) if truth is not None else None
    for ev in events:
        if kernel is not None:
            kernel.describe(ev)
        if ev.type != "procexit" and not kept(ev, enricher.table.lookup(ev), tables):
            continue
        try:                # as the live source: one bad event is counted, never fatal
            enricher.apply(ev)
        except Exception:
            out.append((ev.num, "<state error>", ""))
            continue
        out.extend(_alerts(ruleset, ev))
    return out


def _alerts(ruleset: Any, ev: Event) -> list[Alert]:
    return [(ev.num, m.rule.name, m.rule.render_output(ev)[0]) for m in ruleset.match(ev)]


_TABLE = SyscallTable()
_FAMILY = {"4": 2, "6": 10, "u": 1, "n": 16}
_PROTO = {"tcp": (1, 6), "udp": (2, 17), "raw": (3, 0), "icmp": (3, 1)}
S_IFREG = 0o100000


class _Truth:
    """The kernel's fd tables: a state that sees every event (a copy of it), whose fd after the event
    is what the probe's fd_describe reads then."""

    def __init__(self, enricher: Enricher) -> None:
        self.enricher = enricher

    def describe(self, ev: Event) -> None:
        row = _TABLE.by_name.get(ev.type)
        copy = dataclasses.replace(ev, args=dict(ev.args), proc=None, fd=None, kfd=None)
        tup = copy.args.get("tuple")
        try:
            self.enricher.apply(copy)
            after_apply(copy, tup, self.enricher.table.threads)
        except Exception:       # as the live source: one bad event is counted, never fatal
            return
        if row is None or row.described_fd == NONE or copy.fd is None:
            return
        num = ev.res if row.described_fd == RET else copy.args.get(row.fd_param or "", -1)
        if isinstance(num, int) and num >= 0:
            ev.kfd = kernel_fd_of(copy.fd, num)


def kernel_fd_of(fd: Fd, num: int) -> KernelFd:
    """What the probe's fd_describe would read of an fd the state knows."""
    family = _FAMILY.get(fd.typechar)
    if family is None:
        return KernelFd(num, S_IFREG)
    sock_type, proto = _PROTO.get(fd.l4proto, (0, 0))
    near, far = ((fd.sip, fd.sport), (fd.cip, fd.cport)) if fd.is_server else \
        ((fd.cip, fd.cport), (fd.sip, fd.sport))
    role = ROLE_SERVER if fd.is_server else ROLE_CLIENT
    if family not in (2, 10):
        return KernelFd(num, S_IFSOCK, family, sock_type, role=role)
    return KernelFd(num, S_IFSOCK, family, sock_type, proto, near[0], near[1], far[0], far[1], role)
