"""The alert: what a matching rule produces, and Falco's JSON line for it.

Falco's JSON alert has the keys `hostname, output, output_fields, priority, rule, source, tags, time`
in that (sorted) order, compact separators, `time` in RFC 3339 UTC with nanoseconds, and `output`
being the message prefixed by the event time and the priority:

    {"hostname":"h","output":"16:17:57.881781397: Warning An open was seen (command=cat /dev/null)",
     "output_fields":{"evt.time":1470327477881781397,"proc.cmdline":"cat /dev/null"},
     "priority":"Warning","rule":"open_from_cat","source":"syscall","tags":["filesystem"],
     "time":"2016-08-04T16:17:57.881781397Z"}

`to_json_falco031` writes the exact line Falco 0.31 wrote (no hostname, output_fields last), which is
what the upstream regression file `single_rule_with_cat_write.json` holds; the config key
`json_format: falco-0.31` selects it for every JSON output but HTTP (Falcosidekick's body).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from tiercel.common.priority import NAMES
from tiercel.events.model import Event
from tiercel.rules import format_time


class _Rule(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...

    def render_output(self, event: Event) -> tuple[str, dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. `time` is the event's timestamp in ns since the epoch; `priority` is Falco's name."""

    time: int
    rule: str
    priority: str
    source: str
    output: str
    output_fields: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    hostname: str = ""


def rfc3339(ns: int) -> str:
    """`2016-08-04T16:17:57.881781397Z`: UTC, always nine fractional digits."""
    secs, frac = divmod(ns, 1_000_000_000)
    try:
        return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"
    except (OverflowError, ValueError, OSError):  # beyond year 9999 (a crafted capture): kept as text
        return str(ns)


def make_alert(rule: _Rule, event: Event, hostname: str = "", time_iso8601: bool = False) -> Alert:
    """Build the alert for `rule` matching `event`: Falco's prefix (time, priority) plus the message.

    The prefix's time field joins output_fields, as in Falco (`evt.time`, or `evt.time.iso8601` when
    ISO 8601 output times are configured).
    """
    time_field = "evt.time.iso8601" if time_iso8601 else "evt.time"
    priority = NAMES[rule.priority]
    message, values = rule.render_output(event)
    output = f"{format_time(event.ts, time_field)}: {priority} {message}"
    values = {**values, time_field: event.ts}
    if event.count > 1:         # the kernel coalesced identical repeats into this one event
        values["evt.count"] = event.count
    return Alert(time=event.ts, rule=rule.name, priority=priority, source=rule.source, output=output,
                 output_fields=dict(sorted(values.items())), tags=rule.tags, hostname=hostname)


def to_json(alert: Alert, include_output: bool = True, include_tags: bool = True,
            include_message: bool = False, include_output_fields: bool = True) -> str:
    """Falco's JSON alert, one line (keys sorted, as Falco's JSON library writes them)."""
    doc: dict[str, Any] = {"hostname": alert.hostname}
    if include_message:  # json_include_message_property: the output without time and priority
        doc["message"] = message_of(alert)
    if include_output:
        doc["output"] = alert.output
    if include_output_fields:
        doc["output_fields"] = dict(alert.output_fields)
    doc["priority"] = alert.priority
    doc["rule"] = alert.rule
    doc["source"] = alert.source
    if include_tags:
        doc["tags"] = list(alert.tags)
    doc["time"] = rfc3339(alert.time)
    return orjson.dumps(doc).decode()


def message_of(alert: Alert) -> str:
    """The rule's message: the output after its `time: Priority ` prefix."""
    _, sep, message = alert.output.partition(f": {alert.priority} ")
    return message if sep else alert.output


def to_json_falco031(alert: Alert, include_output: bool = True, include_tags: bool = True) -> str:
    """The line Falco 0.31 printed: no hostname, and `, "output_fields": {...}` appended last."""
    doc: dict[str, Any] = {"output": alert.output} if include_output else {}
    doc |= {"priority": alert.priority, "rule": alert.rule, "source": alert.source}
    if include_tags:
        doc["tags"] = list(alert.tags)
    doc["time"] = rfc3339(alert.time)
    head = orjson.dumps(doc).decode()
    fields = orjson.dumps(dict(alert.output_fields)).decode()
    return f'{head[:-1]}, "output_fields": {fields}}}'
