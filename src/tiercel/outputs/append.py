"""`append_output` and `static_fields`: extra text and fields added to the alerts of some rules.

Each `append_output` entry matches rules by `source`, `tag` and `rule` name (all given must hold;
none given matches every rule) and adds `extra_output` (a template, `%field`s rendered) to the end of
the message, and `extra_fields` to output_fields: a field name takes the event's value, a
`{name: value}` mapping a fixed one; `suggested_output: true` appends the fields the rule language
suggests (`SUGGESTED`: the container and Kubernetes ones, as Falco's container plugin marks them), as
`container_id=%container.id ...` in the message and in output_fields. `static_fields` are fixed
fields added to every alert. Which entries apply to a rule is worked out once per rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tiercel.config import AppendOutput, ConfigError
from tiercel.events.model import Event
from tiercel.outputs.alert import Alert
from tiercel.rules import OutputFormat, OutputFormatError, compile_output

# The fields Falco marks as suggested output (EPF_FORMAT_SUGGESTED; its container plugin's addOutput).
SUGGESTED = ("container.id", "container.name", "container.image.repository", "container.image.tag",
             "k8s.pod.name", "k8s.ns.name")


@dataclass(frozen=True)
class _Entry:
    source: str | None
    tag: str | None
    rule: str | None
    text: OutputFormat | None
    fields: OutputFormat | None
    fixed: dict[str, str]

    def applies(self, rule: Any) -> bool:
        return ((self.source is None or rule.source == self.source)
                and (self.tag is None or self.tag in rule.tags)
                and (self.rule is None or rule.name == self.rule))


class Extras:
    """Applies the configured additions to an alert; falsy when there is nothing to add."""

    def __init__(self, entries: Sequence[AppendOutput], static: dict[str, str],
                 field_table: Any = None) -> None:
        self.static = dict(static)
        self.entries = [_compile(i, e, field_table) for i, e in enumerate(entries)] if entries else []
        self._by_rule: dict[str, list[_Entry]] = {}

    def __bool__(self) -> bool:
        return bool(self.entries or self.static)

    def apply(self, alert: Alert, rule: Any, event: Event) -> Alert:
        entries = self._by_rule.get(rule.name)
        if entries is None:
            entries = self._by_rule[rule.name] = [e for e in self.entries if e.applies(rule)]
        output, fields = alert.output, dict(alert.output_fields)
        for e in entries:
            if e.text is not None:
                output = f"{output} {e.text.render(event)}"
            if e.fields is not None:
                fields.update(e.fields.fields(event))
            fields.update(e.fixed)
        fields.update(self.static)
        return dataclasses.replace(alert, output=output, output_fields=dict(sorted(fields.items())))


def _compile(index: int, entry: AppendOutput, table: Any) -> _Entry:
    if table is None:
        from tiercel.rules import FieldTable
        table = FieldTable()
    names = [f for f in entry.extra_fields if isinstance(f, str)]
    fixed = {k: v for f in entry.extra_fields if isinstance(f, dict) for k, v in f.items()}
    extra = entry.extra_output
    if entry.suggested_output:
        names += [f for f in SUGGESTED if f not in names]
        suggested = " ".join(f"{f.replace('.', '_')}=%{f}" for f in SUGGESTED)
        extra = f"{extra} {suggested}" if extra else suggested
    try:
        text = compile_output(extra, table) if extra else None
        fields = compile_output(" ".join(f"%{n}" for n in names), table) if names else None
    except OutputFormatError as e:
        raise ConfigError(f"append_output[{index}]: {e.message}") from e
    m = entry.match
    return _Entry(m.source, m.tag, m.rule, text, fields, fixed)
