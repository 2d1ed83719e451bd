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

from tiercel.events.model import DIR_ENTER, Event, Fd, Process
from tiercel.events.syscalls import SyscallTable
from tiercel.kfilter.derive import enum_param, flags_param, path_param
from tiercel.kfilter.tables import FilterTables, KernelView, passes

Alert = tuple[int, str, str]            # evt.num, rule name, rendered output


SOCKET_CHARS = frozenset("46un")
_TABLE = SyscallTable()


def tracked(fd: Fd, fd_kinds: str) -> bool:
    """Whether the probe's known_fds holds this kind of fd (FilterTables.fd_kinds)."""
    return fd_kinds == "any" or fd.typechar in SOCKET_CHARS


def view_of(ev: Event, proc: Process | None, fd_kinds: str = "any") -> KernelView:
    """`fd_kinds`: which of the state's fd entries the probe tracks (kfilter.tables.FilterTables)."""
    path_arg, flags_arg, value_arg = _probe_params(ev.type)
    raw = ev.args.get(path_arg)
    path = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else None
    flags = ev.args.get(flags_arg)
    comm = proc.comm.encode("utf-8", "surrogateescape") if proc is not None else None
    res = ev.res if ev.res is not None else 0
    fds = proc.fds if proc is not None else {}
    fd = fds.get(res) if res >= 0 else None
    known = fd is not None and tracked(fd, fd_kinds)
    arg = ev.args.get("fd")
    arg_fd = fds.get(arg) if isinstance(arg, int) else None
    arg_known = arg_fd is not None and tracked(arg_fd, fd_kinds)
    value = ev.args.get(value_arg)
    return KernelView(ev.type, res, comm, path, flags if isinstance(flags, int) else 0, known, arg_known,
                      value & (1 << 64) - 1 if isinstance(value, int) else None)


@functools.cache
def _probe_params(evttype: str) -> tuple[str, str, str]:
    """The arguments the probe's path, flags and value-set tests read (kfilter.derive); "": none."""
    sc = _TABLE.by_name.get(evttype)
    if sc is None:
        return "", "", ""
    params = dict(sc.params)
    return (path_param(params) or "", flags_param(evttype, params) or "",
            enum_param(evttype, params) or "")


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
