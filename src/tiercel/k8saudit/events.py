"""Kubernetes audit events (`audit.k8s.io/v1` Event objects) as the engine sees them.

The API server writes them as one JSON object per event (`"kind": "Event"`), or batches them in an
`EventList` (`"items": [...]`): its webhook backend posts an EventList, its log backend writes one
Event per line. `parse_document` accepts either, and a JSON array of them; `parse_lines` reads a
file of them one per line (Falco 0.31's `-e FILE.json`), `parse_text` a whole file of either form,
`parse_body` one webhook request body.

Anything else (`{"kind": 0}`, an array of numbers) is not an audit event: `NotAuditEvent`, with
Falco's words. Sizes and counts are bounded by `Limits` before anything is kept.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from tiercel.common.errors import TiercelError
from tiercel.events.model import Event
from tiercel.sources.base import Counters, Sink

SOURCE = "k8s_audit"
# The plugin's own default (its init_config's webhookMaxBatchSize).
MAX_BATCH_SIZE = 12_582_912
MAX_BATCH_EVENTS = 10_000
_NS = 1_000_000_000


class NotAuditEvent(TiercelError):
    """A JSON value that is not an audit Event or EventList (or not JSON at all)."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch_size: int = MAX_BATCH_SIZE      # bytes of one request body or one line of a file
    max_batch_events: int = MAX_BATCH_EVENTS  # events of one body or one line


@dataclass(slots=True, eq=False)
class AuditEvent(Event):
    """One audit event: the parsed object (`doc`) and its time (`ts`, from `stageTimestamp`).

    An Event, so that outputs, alerts and the `evt.*` fields that make sense for every source
    (evt.time, evt.num) work unchanged; `type` is the source's name.
    """

    doc: dict[str, Any] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)   # field values, once per event (fields.py)


_counter = itertools.count(1)


def make_event(doc: dict[str, Any], num: int | None = None) -> AuditEvent:
    """An AuditEvent for one Event object."""
    ts = event_time(doc)
    return AuditEvent(num=next(_counter) if num is None else num, ts=ts, type=SOURCE, dir="",
                      tid=0, pid=0, doc=doc)


def deliver(doc: dict[str, Any], counters: Counters, sink: Sink) -> None:
    """One Event object to the sink as an event, counted; what the sink raises is counted, never
    fatal (one bad event never stops a source)."""
    counters.events += 1
    try:
        sink(make_event(doc, counters.events))
    except Exception:
        counters.event_errors += 1


def event_time(doc: dict[str, Any]) -> int:
    """ns since the epoch: `stageTimestamp`, else `requestReceivedTimestamp`, else `timestamp`
    (v1beta1); 0 when none parses."""
    for key in ("stageTimestamp", "requestReceivedTimestamp", "timestamp"):
        value = doc.get(key)
        if isinstance(value, str):
            ns = parse_rfc3339(value)
            if ns is not None:
                return ns
    return 0


def parse_rfc3339(text: str) -> int | None:
    """`2018-10-25T14:09:12.581541Z` (any number of fractional digits, Z or an offset) in ns."""
    m = _RFC3339.fullmatch(text.strip())
    if m is None:
        return None
    try:
        whole = datetime.fromisoformat(f"{m[1]}T{m[2]}{'+00:00' if m[4] in 'Zz' else m[4]}")
    except ValueError:
        return None
    return int(whole.timestamp()) * _NS + int(((m[3] or "") + "000000000")[:9])


_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


def events_of(value: Any, limits: Limits) -> list[dict[str, Any]]:
    """The Event objects of one JSON value: an Event, an EventList, or an array of those."""
    if isinstance(value, list):
        out: list[dict[str, Any]] = []
        for item in value:
            out.extend(events_of_object(item))
            if len(out) > limits.max_batch_events:
                raise NotAuditEvent(f"more than {limits.max_batch_events} events in one batch")
        return out
    out = events_of_object(value)
    if len(out) > limits.max_batch_events:
        raise NotAuditEvent(f"more than {limits.max_batch_events} events in one batch")
    return out


def events_of_object(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        raise NotAuditEvent("Data not recognized as a k8s audit event")
    kind = value.get("kind")
    if kind == "Event":
        return [value]
    if kind == "EventList":
        items = value.get("items")
        if not isinstance(items, list) or not all(
                isinstance(i, dict) and i.get("kind", "Event") == "Event" for i in items):
            raise NotAuditEvent("Data not recognized as a k8s audit event")
        return items
    raise NotAuditEvent("Data not recognized as a k8s audit event")


def parse_document(data: bytes | str, limits: Limits = Limits()) -> list[dict[str, Any]]:
    """One JSON value (a request body, a whole file) -> its Event objects."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise NotAuditEvent(f"not JSON: {str(e).splitlines()[0]}") from None
    return events_of(value, limits)


def parse_body(body: bytes, limits: Limits = Limits()) -> list[dict[str, Any]]:
    """A webhook request body: one JSON value, or JSON lines (as a log shipper may post them)."""
    if len(body) > limits.max_batch_size:
        raise NotAuditEvent(f"body of {len(body)} bytes is over the limit of {limits.max_batch_size}")
    try:
        return parse_document(body, limits)
    except NotAuditEvent:
        if body.count(b"\n") < 1:
            raise
    out: list[dict[str, Any]] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        out.extend(parse_document(line, limits))
        if len(out) > limits.max_batch_events:
            raise NotAuditEvent(f"more than {limits.max_batch_events} events in one batch")
    return out


@dataclass(frozen=True, slots=True)
class LineError:
    """Where reading a file stopped, in Falco 0.31's words."""

    line_num: int
    line: str
    why: str

    @property
    def message(self) -> str:
        return f'Could not read k8s audit event line #{self.line_num}, "{self.line}": {self.why}, stopping'


def parse_text(text: str, limits: Limits = Limits()) -> Iterator[list[dict[str, Any]] | LineError]:
    """A whole file's text: one JSON value over several lines (an indented EventList, a JSON
    array), else one JSON value per line (`parse_lines`)."""
    stripped = text.strip()
    if stripped[:1] in ("[", "{") and "\n" in stripped:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = None
        if value is not None:
            try:
                yield events_of(value, limits)
            except NotAuditEvent as e:
                yield LineError(1, _shown(text), str(e))
            return
    yield from parse_lines(text.splitlines(), limits)


def parse_lines(lines: Iterable[str | bytes], limits: Limits = Limits()
                ) -> Iterator[list[dict[str, Any]] | LineError]:
    """One JSON value per line (blank lines skipped), as the API server's log backend writes them:
    each line's events, then a LineError and nothing more at the first line that is not one (or
    is longer than max_batch_size)."""
    for num, line in enumerate(lines, 1):
        item = parse_line(num, line, limits)
        if item is not None:
            yield item
            if isinstance(item, LineError):
                return


def parse_line(num: int, line: str | bytes, limits: Limits = Limits()
               ) -> list[dict[str, Any]] | LineError | None:
    """Line `num` of a file: its events, a LineError, or None for a blank line."""
    if not line.strip():
        return None
    if len(line) > limits.max_batch_size:
        return LineError(num, _shown(line), f"a line over {limits.max_batch_size} bytes")
    try:
        return parse_document(line, limits)
    except NotAuditEvent as e:
        return LineError(num, _shown(line), str(e))


def _shown(line: str | bytes) -> str:
    """A line as the error message quotes it: whole when short, else its start."""
    text = (line.decode("utf-8", "replace") if isinstance(line, bytes) else line).strip()
    return text if len(text) <= 200 else text[:200] + "..."
