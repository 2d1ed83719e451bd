"""The kernel filter's decision applied offline, to prove its tables sound on captures and streams.

`view_of` builds what the probe would know of an event (kfilter.tables.KernelView) from the event and
the state just before it; `replay_alerts` replays a .scap capture as the live agent sees syscalls (one
record per syscall: enter events are left out) with or without the filter, and returns the alerts.
Same alerts with and without the filter is what "sound" means.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tiercel.events.model import DIR_ENTER, Event, Process
from tiercel.events.syscalls import SyscallTable
from tiercel.kfilter.derive import enum_param, flags_param
from tiercel.kfilter.tables import FilterTables, KernelView, passes

Alert = tuple[int, str, str]            # evt.num, rule name, rendered output


SOCKET_CHARS = frozenset("46un")
_TABLE = SyscallTable()


def view_of(ev: Event, proc: Process | None, fd_kinds: str = "any") -> KernelView:
    """`fd_kinds`: which of the state's fd entries the probe tracks (kfilter.tables.FilterTables)."""
    raw = ev.args.get(_first_string(ev.type))
    path = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else None
    flags = ev.args.get(_flags_param(ev.type))
    comm = proc.comm.encode("utf-8", "surrogateescape") if proc is not None else None
    res = ev.res if ev.res is not None else 0
    fds = proc.fds if proc is not None else {}
    fd = fds.get(res) if res >= 0 else None
    known = fd is not None and (fd_kinds == "any" or fd.typechar in SOCKET_CHARS)
    arg = ev.args.get("fd")
    arg_fd = fds.get(arg) if isinstance(arg, int) else None
    arg_known = arg_fd is not None and (fd_kinds == "any" or arg_fd.typechar in SOCKET_CHARS)
    value = ev.args.get(_enum_param(ev.type))
    return KernelView(ev.type, res, comm, path, flags if isinstance(flags, int) else 0, known, arg_known,
                      value & (1 << 64) - 1 if isinstance(value, int) else None)


@functools.cache
def _first_string(evttype: str) -> str:
    """The argument the probe reads its path from: the event type's first string (slot s0)."""
    sc = _TABLE.by_name.get(evttype)
    return next((p for p, src in sc.params if src == "s0"), "") if sc is not None else ""


@functools.cache
def _flags_param(evttype: str) -> str:
    """The argument the probe's flags test reads (kfilter.derive.flags_param)."""
    sc = _TABLE.by_name.get(evttype)
    return (flags_param(evttype, dict(sc.params)) or "") if sc is not None else ""


@functools.cache
def _enum_param(evttype: str) -> str:
    """The argument the probe's value-set test reads (kfilter.derive.enum_param)."""
    sc = _TABLE.by_name.get(evttype)
    return (enum_param(evttype, dict(sc.params)) or "") if sc is not None else ""


def kept(ev: Event, proc: Process | None, tables: FilterTables | None) -> bool:
    return tables is None or passes(tables, view_of(ev, proc, tables.fd_kinds))


def replay_alerts(path: Path, ruleset: Any, tables: FilterTables | None) -> list[Alert]:
    """Alerts of a capture replayed through state and rules, syscall exits only."""
    from tiercel.scap.convert import Converter, after_apply
    from tiercel.scap.reader import CaptureReader
    from tiercel.scap.state import table_from_header
    from tiercel.state.enrich import Enricher

    reader = CaptureReader(path)
    try:
        table = table_from_header(reader.header)
        enricher = Enricher(table=table)
        converter = Converter(table)
        out: list[Alert] = []
        for raw in reader.events():
            try:
                ev = converter.convert(raw)
            except (ValueError, IndexError, KeyError, TypeError):
                continue
            if ev is None or raw.flags & 1 or (ev.dir == DIR_ENTER and ev.type != "procexit"):
                continue
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
                  enricher: Any) -> list[Alert]:
    """Alerts of synthetic exit events applied to `enricher`'s state, filtered or not."""
    out: list[Alert] = []
    for ev in events:
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
