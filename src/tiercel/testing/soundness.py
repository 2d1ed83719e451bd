"""Alerts with and without the kernel filter: the two runs the soundness tests compare.

`replay_alerts` replays a .scap capture as the live agent sees syscalls (one record per syscall: enter
events are left out), `stream_alerts` applies synthetic exit events; both drop what the probe would
keep in the kernel (kfilter.offline.kept) before the state sees it, and return the alerts. Same alerts
with and without the filter is what "sound" means.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tiercel.events.model import DIR_ENTER, Event
from tiercel.kfilter.offline import kept
from tiercel.probe.filtertables import FilterTables
from tiercel.scap.convert import Converter, after_apply
from tiercel.scap.reader import CaptureReader
from tiercel.scap.state import table_from_header
from tiercel.state.enrich import Enricher

Alert = tuple[int, str, str]            # evt.num, rule name, rendered output


def replay_alerts(path: Path, ruleset: Any, tables: FilterTables | None) -> list[Alert]:
    """Alerts of a capture replayed through state and rules, syscall exits only."""
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
