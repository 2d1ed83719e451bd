"""Event data cannot forge a line or hide text in an alert: in the text line and in JSON's `output`
(the same text), a newline is `\\x0a` and a name holding those four characters is `\\\\x0a`; ANSI
escapes, direction overrides and zero-width characters are shown as escapes. output_fields keep
the values as they are (JSON readers parse JSON)."""

from __future__ import annotations

import json

import pytest

from tiercel.outputs.alert import Alert, make_alert
from tiercel.outputs.base import Format, Item
from tiercel.rules import load_rules_text
from tiercel.testing import events as E

RULE = """
- rule: Hostile open
  desc: d
  condition: evt.type = openat
  output: "open file=%fd.name by %proc.name"
  priority: WARNING
"""

# name -> (the file name a process chose, how the text line shows it)
CASES = [
    ("forged_newline", "/tmp/x\n12:00:00.0: Critical fake", "/tmp/x\\x0a12:00:00.0: Critical fake"),
    ("literal_backslash_x0a", "/tmp/x\\x0ay", "/tmp/x\\\\x0ay"),
    ("real_newline", "/tmp/x\ny", "/tmp/x\\x0ay"),
    ("rlo_override", "/tmp/\u202etxt.exe", "/tmp/\\u202etxt.exe"),
    ("isolates", "/tmp/\u2066a\u2069", "/tmp/\\u2066a\\u2069"),
    ("zero_width", "/etc/pass\u200bwd", "/etc/pass\\u200bwd"),
    ("bom_and_marks", "/\ufeffa\u200e\u200f", "/\\ufeffa\\u200e\\u200f"),
    ("line_separators", "/a\u2028b\u2029c", "/a\\u2028b\\u2029c"),
    ("ansi_escape", "/tmp/\x1b[2K\x1b[1Ahidden", "/tmp/\\x1b[2K\\x1b[1Ahidden"),
    ("c1_and_del", "/a\x85b\x9bc\x7fd", "/a\\x85b\\x9bc\\x7fd"),
    ("nul_cr_tab", "/a\x00b\rc\td", "/a\\x00b\\x0dc\\x09d"),
    ("not_utf8", "/a" + b"\xff".decode("utf-8", "surrogateescape"), "/a\\xff"),
    ("plain_unicode", "/tmp/caf\u00e9 \u65e5\u672c", "/tmp/caf\u00e9 \u65e5\u672c"),
]


def _alert(name: str) -> Alert:
    ruleset, result = load_rules_text([("r.yaml", RULE)])
    assert result.ok, result.render_text()
    proc = E.process("cat\u202e")
    ev = E.openat(name, proc=proc)
    [m] = list(ruleset.match(ev))
    return make_alert(m.rule, ev, hostname="h")


@pytest.mark.parametrize(("name", "shown"), [(n, s) for _, n, s in CASES], ids=[c[0] for c in CASES])
def test_text_line_and_json_output_show_data_escaped(name: str, shown: str) -> None:
    alert = _alert(name)
    item = Item(alert)
    text = item.text().decode()
    assert text.endswith(f": Warning open file={shown} by cat\\u202e")
    assert "\n" not in text and "\r" not in text
    doc = json.loads(item.json(Format()))
    assert doc["output"] == text                       # the same text in JSON
    assert doc["output_fields"]["fd.name"] == name.encode("utf-8", "surrogateescape").decode(
        "utf-8", "backslashreplace")                   # the value itself, for JSON readers
    assert json.loads(Item(alert).json(Format(falco031=True)))["output"] == text
    message = json.loads(Item(alert).json(Format(include_message=True)))["message"]
    assert text.endswith(message)


def test_a_literal_escape_and_the_byte_it_names_differ() -> None:
    literal = Item(_alert("/tmp/a\\x0ab")).text()
    newline = Item(_alert("/tmp/a\nb")).text()
    assert literal != newline


def test_template_text_keeps_its_backslashes_but_not_its_controls() -> None:
    """Only event data has its backslashes doubled; the rule's own text is shown as written, its
    control and direction characters escaped like the data's."""
    alert = Alert(time=0, rule="r", priority="Warning", source="syscall",
                  output="00:00:00.0: Warning C:\\dir \u202e\n")
    item = Item(alert)
    assert item.text() == b"00:00:00.0: Warning C:\\dir \\u202e\\x0a"
    assert json.loads(item.json(Format()))["output"] == item.text().decode()
