"""`tiercel explain RULE`: the events to explain, from a capture or a field-map file, and the report.

    tiercel explain 'Terminal shell in container' -r rules/ -e shell.scap            the first 5 matches
    tiercel explain RULE -e shell.scap --event 1203 --event 1250                      these events
    tiercel explain RULE -e shell.scap --all-events                                   every candidate
    tiercel explain RULE --events events.json [--json]                                field maps

A capture is replayed through the same state stage as `run -e`, and each event asked about is
explained as it is handed on (while the process table is as the rules saw it). A field-map file is
JSON: one object (an event), a list of them, or JSON lines; `evt.num` names an event, else its
position (from 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from tiercel.common.errors import TiercelError, printable
from tiercel.common.files import Unreadable, read_regular
from tiercel.events.model import Event
from tiercel.rules.explain import Explainer, Explanation, exception_offsets

DEFAULT_MATCHES = 5
MAX_EVENTS_BYTES = 16 << 20


class ExplainError(TiercelError):
    exit_code = 2


@dataclass
class Selection:
    """Which events to explain: these evt.nums, or every candidate, or the first matches."""

    nums: frozenset[int] = frozenset()
    all_events: bool = False
    limit: int = DEFAULT_MATCHES
    found: list[Explanation] = field(default_factory=list)
    failure: str | None = None          # why the capture ended early (after `found` was gathered)

    def done(self) -> bool:
        return not self.nums and not self.all_events and len(self.found) >= self.limit

    def offer(self, x: Explainer, event: Any, num: int, evttype: str, who: str) -> None:
        if self.nums:
            if num in self.nums:
                self.found.append(x.explain(event, num, evttype, who))
            return
        types = x.rule.evttypes
        if (types is not None and evttype not in types) or self.done():
            return
        explained = x.explain(event, num, evttype, who)
        if self.all_events or explained.matched:
            self.found.append(explained)


def read_field_maps(path: Path) -> list[dict[str, Any]]:
    """One JSON object, a list of them, or JSON lines (a regular file of at most MAX_EVENTS_BYTES)."""
    try:
        text = read_regular(path, MAX_EVENTS_BYTES)
    except Unreadable as e:
        raise ExplainError(f"cannot read the events file {path}: {e.why}") from None
    try:
        doc = orjson.loads(text)
        maps = doc if isinstance(doc, list) else [doc]
    except orjson.JSONDecodeError:
        try:
            maps = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError as e:
            raise ExplainError(f"{path}: not JSON or JSON lines: {e}") from None
    if not all(isinstance(m, dict) for m in maps):
        raise ExplainError(f"{path}: each event is a JSON object of field values")
    return maps


def explain_maps(x: Explainer, maps: Sequence[dict[str, Any]], sel: Selection) -> None:
    for i, m in enumerate(maps, 1):
        num = _event_number(m.get("evt.num", i), i)
        who = f"proc.name={m.get('proc.name', '<NA>')}"
        sel.offer(x, m, num, str(m.get("evt.type", "")), who)
        if sel.done():
            break


def _event_number(value: Any, position: int) -> int:
    if type(value) is not int or not 0 <= value < 1 << 64:   # bool is no number here
        if isinstance(value, list | dict):
            shown = "a list" if isinstance(value, list) else "an object"
        else:  # at most a few dozen characters of it are shown: never serialise all of it
            shown = orjson.dumps(value[:41] if isinstance(value, str) else value).decode()
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ExplainError(f"event {position}: evt.num must be a whole number from 0 to 2^64-1, "
                           f"not {printable(shown)}")
    return value


def explain_capture(x: Explainer, capture: Path, sel: Selection) -> None:
    from tiercel.sources.base import CaptureOptions
    from tiercel.sources.replay import ReplaySource

    source: ReplaySource

    def sink(ev: Event) -> None:
        who = f"proc.name={ev.proc.comm if ev.proc else ev.comm} pid={ev.pid}"
        sel.offer(x, ev, ev.num, ev.type, who)
        if sel.done():
            source.interrupt()

    source = ReplaySource(capture, CaptureOptions(containers=False), sink)
    try:
        source.start()
        source.run()
    except TiercelError as e:  # a damaged capture: what was explained before it still counts
        sel.failure = str(e)
    finally:
        source.stop()


def explain_audit(x: Explainer, trace: Path, sel: Selection) -> None:
    """The same over a file of Kubernetes audit events (a k8s_audit rule)."""
    from tiercel.k8saudit.replay import AuditFileSource

    source: AuditFileSource

    def sink(ev: Event) -> None:
        doc = getattr(ev, "doc", {})
        who = f"ka.user.name={doc.get('user', {}).get('username')} ka.verb={doc.get('verb')}"
        sel.offer(x, ev, ev.num, ev.type, who)
        if sel.done():
            source.interrupt()

    def stop_with(message: str) -> None:
        sel.failure = message

    source = AuditFileSource(trace, sink, stop_with)
    try:
        source.start()
        source.run(None)
    except TiercelError as e:
        sel.failure = str(e)
    finally:
        source.stop()


def run_explain(rule_name: str, rules: Iterable[Path | str], *, capture: Path | None,
                events_file: Path | None, nums: Sequence[int], all_events: bool, as_json: bool,
                out: IO[str]) -> int:
    from tiercel.rules import load_rules, rule_files
    from tiercel.rules.fieldmap import MapFields
    from tiercel.rules.fields.table import FieldTable
    from tiercel.rules.files.describe import read_sources
    from tiercel.rules.files.diagnostics import LoadResult

    if (capture is None) == (events_file is None):
        raise ExplainError("explain: give a capture (-e FILE) or field maps (--events FILE)")
    paths = list(rules)
    ruleset, result = load_rules(paths)
    if result.errors:
        raise ExplainError(result.render_text())
    rule = next((r for r in ruleset.rules if r.name == rule_name), None)
    if rule is None:
        raise ExplainError(f"explain: no rule named '{rule_name}'")
    offsets = exception_offsets(read_sources(rule_files(paths, LoadResult())), rule_name)
    sel = Selection(frozenset(nums), all_events)
    if capture is not None and rule.source != "syscall":
        explain_audit(Explainer(rule, FieldTable().for_source(rule.source), offsets), capture, sel)
    elif capture is not None:
        explain_capture(Explainer(rule, FieldTable(), offsets), capture, sel)
    else:
        assert events_file is not None
        table = FieldTable(hostname="").for_source(rule.source)
        explain_maps(Explainer(rule, MapFields(table), offsets), read_field_maps(events_file), sel)
    if as_json:
        out.write(orjson.dumps([e.as_json() for e in sel.found], option=orjson.OPT_INDENT_2).decode()
                  + "\n")
    else:
        missing = sorted(sel.nums - {e.num for e in sel.found})
        for e in sel.found:
            out.write(e.render_text() + "\n\n")
        if not sel.found:
            names = sorted(rule.evttypes or ())
            types = f" of its event types: {', '.join(names)}" if names else ""
            out.write(f"rule '{rule_name}': no event to explain (it matched none{types}; ask with "
                      "--event N or --all-events)\n")
        if missing:
            out.write(f"no event numbered {', '.join(map(str, missing))}\n")
    if sel.failure is not None:
        raise ExplainError(sel.failure)
    return 0
