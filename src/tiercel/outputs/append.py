"""`append_output` and `static_fields`: extra text and fields added to the alerts of some rules.

Each `append_output` entry matches rules by `source`, `tags` (the rule has every one; `tag`, one,
is tiercel's older form) and `rule` name (all given must hold; none given matches every rule) and
adds `extra_output` (a template, `%field`s rendered) to the end of the message, its fields also to
output_fields, as Falco does; and `extra_fields` to output_fields: a field name takes the event's
value, a `{name: template}` mapping the template rendered (`{file: "%fd.name"}`, or fixed text: Falco
formats it like an output); a name given twice is an error, as in Falco. `suggested_output: true`
appends the fields the rule language
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
    tags: frozenset[str]
    rule: str | None
    text: OutputFormat | None
    fields: OutputFormat | None
    formatted: dict[str, OutputFormat]

    def applies(self, rule: Any) -> bool:
        return ((self.source is None or rule.source == self.source)
                and self.tags.issubset(rule.tags)
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
                fields.update(e.text.fields(event))
            if e.fields is not None:
                fields.update(e.fields.fields(event))
            for name, template in e.formatted.items():
                fields[name] = template.render(event)
        fields.update(self.static)
        return dataclasses.replace(alert, output=output, output_fields=dict(sorted(fields.items())))


def _compile(index: int, entry: AppendOutput, table: Any) -> _Entry:
    if table is None:
        from tiercel.rules import FieldTable
        table = FieldTable()
    names: list[str] = []
    formatted: dict[str, str] = {}
    for f in entry.extra_fields:
        for name in ([f] if isinstance(f, str) else list(f)):
            if name in names or name in formatted:   # Falco: "an error to redefine an existing key"
                raise ConfigError(f"append_output[{index}].extra_fields: '{name}' is given twice")
            if isinstance(f, str):
                names.append(name)
            else:
                formatted[name] = f[name]
    extra = entry.extra_output
    if entry.suggested_output:
        names += [f for f in SUGGESTED if f not in names]
        suggested = " ".join(f"{f.replace('.', '_')}=%{f}" for f in SUGGESTED)
        extra = f"{extra} {suggested}" if extra else suggested
    try:
        text = compile_output(extra, table) if extra else None
        fields = compile_output(" ".join(f"%{n}" for n in names), table) if names else None
        templates = {k: compile_output(v, table) for k, v in formatted.items()}
    except OutputFormatError as e:
        raise ConfigError(f"append_output[{index}]: {e.message}") from e
    m = entry.match
    tags = frozenset(m.tags) | ({m.tag} if m.tag is not None else set())
    return _Entry(m.source, tags, m.rule, text, fields, templates)
