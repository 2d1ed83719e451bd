"""Output templates and Falco's JSON alert."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tiercel.events.model import Event
from tiercel.outputs.alert import Alert, make_alert, rfc3339, to_json, to_json_falco031
from tiercel.rules.output import (
    NA,
    OutputFormat,
    OutputFormatError,
    RawToken,
    compile_output,
    format_time,
    render_value,
    tokenize,
)
from tiercel.testing.events import event, file_fd, process

ORACLE = "falco-regression/test/output_files/single_rule_with_cat_write.json"  # under the oracle directory
TS = 1470327477881781397


@dataclass
class _Def:
    name: str
    extract: Any
    type: str = "CHARBUF"


class FakeFields:
    """A tiny field table: enough fields to exercise the formatter without the real one."""

    def resolve(self, name: str, arg: str | None) -> _Def:
        def aname(e: Event) -> str | None:
            p = e.proc.ancestor(int(arg or 1)) if e.proc else None
            return p.comm if p else None
        table: dict[str, Any] = {
            "proc.cmdline": lambda e: e.proc.cmdline if e.proc else None,
            "proc.name": lambda e: e.proc.comm if e.proc else None,
            "proc.aname": aname,
            "fd.cport": lambda e: e.fd.cport if e.fd and e.fd.typechar in "46" else None,
            "fd.name": lambda e: e.fd.name if e.fd else None,
            "evt.time": lambda e: e.ts,
            "evt.time.iso8601": lambda e: e.ts,
            "evt.arg.flags": lambda e: e.args.get("flags"),
            "evt.is_open_write": lambda e: True,
            "user.uid": lambda e: e.uid,
            "container.id": lambda e: "host",
            "container.name": lambda e: "host",
        }
        if name not in table:
            raise KeyError(name)
        return _Def(name, table[name])


def cat_event() -> Event:
    parent = process("bash", pid=1, exe="", exepath="")
    proc = process("cat", pid=42, exe="", exepath="", args=["/dev/null"], parent=parent)
    return event("open", {"flags": "O_RDONLY"}, res=None, fd=file_fd("/dev/null"), proc=proc, ts=TS)


@pytest.mark.parametrize(("template", "expected"), [
    ("plain text", ["plain text"]),
    ("a %proc.name b", ["a ", ("proc.name", None, 0), " b"]),
    ("(command=%proc.cmdline)", ["(command=", ("proc.cmdline", None, 0), ")"]),
    ("%proc.aname[2]:x", [("proc.aname", "2", 0), ":x"]),
    ("file %fd.name.", ["file ", ("fd.name", None, 0), "."]),
    ("%evt.arg.flags", [("evt.arg.flags", None, 0)]),
    ("%10proc.name|", [("proc.name", None, 10), "|"]),
    ("*%proc.name", [("proc.name", None, 0)]),
])
def test_tokenize(template: str, expected: list[Any]) -> None:
    got = [p if isinstance(p, str) else (p.name, p.arg, p.width) for p in tokenize(template)]
    assert got == expected


def test_container_info_expands_at_its_position() -> None:
    parts = tokenize("x %container.info")
    fields = [p for p in parts if isinstance(p, RawToken)]
    assert [f.name for f in fields] == ["container.id", "container.name"]
    assert {f.pos for f in fields} == {2}


def test_unknown_field_is_falco_message_with_position() -> None:
    with pytest.raises(OutputFormatError) as e:
        compile_output("An open was seen %not_a_real_field", FakeFields())
    assert e.value.message == "invalid formatting token not_a_real_field"
    assert e.value.pos == 17


def test_dangling_percent() -> None:
    with pytest.raises(OutputFormatError, match="cannot end with a %"):
        tokenize("100%")


def test_render_and_fields() -> None:
    fmt = compile_output("open (command=%proc.cmdline parent=%proc.aname[1] port=%fd.cport)",
                         FakeFields())
    assert isinstance(fmt, OutputFormat)
    ev = cat_event()
    assert fmt.render(ev) == "open (command=cat /dev/null parent=bash port=<NA>)"
    assert fmt.fields(ev) == {"proc.cmdline": "cat /dev/null", "proc.aname[1]": "bash",
                              "fd.cport": None}


@pytest.mark.parametrize(("value", "text"), [
    (None, NA), (True, "true"), (False, "false"), (12, "12"), ("s", "s"), (b"ab", "ab"),
    (["a", "b"], "(a,b)")])
def test_render_value(value: Any, text: str) -> None:
    assert render_value(value) == text


def test_times() -> None:
    assert format_time(TS, "evt.time.iso8601") == "2016-08-04T16:17:57.881781397+0000"
    assert rfc3339(TS) == "2016-08-04T16:17:57.881781397Z"
    assert format_time(TS, "evt.time").endswith(":17:57.881781397")


class _Rule:
    name = "open_from_cat"
    priority = 4
    source = "syscall"
    tags = ("filesystem", "process", "testing")

    def __init__(self) -> None:
        self.fmt = compile_output("An open was seen (command=%proc.cmdline)", FakeFields())

    def render_output(self, event: Event) -> tuple[str, dict[str, Any]]:
        return self.fmt.render(event), self.fmt.fields(event)


def test_falco_031_json_line_is_byte_exact(oracles: Path) -> None:
    alert = make_alert(_Rule(), cat_event(), time_iso8601=True)
    expected = (oracles / ORACLE).read_text().splitlines()[0]
    assert to_json_falco031(alert) == expected


def test_json_alert_keys_and_values(oracles: Path) -> None:
    alert = make_alert(_Rule(), cat_event(), hostname="node-1", time_iso8601=True)
    line = to_json(alert)
    doc = json.loads(line)
    assert list(doc) == ["hostname", "output", "output_fields", "priority", "rule", "source", "tags",
                         "time"]
    oracle = json.loads((oracles / ORACLE).read_text().splitlines()[0])
    assert {k: v for k, v in doc.items() if k != "hostname"} == oracle
    assert doc["hostname"] == "node-1"
    assert "\n" not in line and ", " not in line.split('"output":')[0]


def test_json_alert_options_and_default_time_prefix() -> None:
    alert = make_alert(_Rule(), cat_event())
    assert alert.output.endswith(":17:57.881781397: Warning An open was seen (command=cat /dev/null)")
    assert alert.output_fields["evt.time"] == TS
    doc = json.loads(to_json(alert, include_output=False, include_tags=False))
    assert "output" not in doc and "tags" not in doc


def test_empty_tags_render_as_empty_list() -> None:
    alert = Alert(time=TS, rule="r", priority="Warning", source="syscall", output="o")
    assert '"tags":[]' in to_json(alert)
