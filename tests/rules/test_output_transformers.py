"""Transformers in output templates (`%toupper(fd.name)`), as libsinsp's formatter takes them.

Falco 0.44's libsinsp formats transformers in outputs (falcosecurity/libs PR #1847, "support field
transformers in formatters"); its formatter tests (`sinsp_formatter_test.field_with_transformer_and_arg`,
`field_with_nested_transformer`) fix the shape: the message shows the transformed value, and the
field map holds both the expression (`toupper(evt.arg[1])`) and the field it reads (`evt.arg[1]`).
"""

from __future__ import annotations

import base64
import textwrap

import pytest

from tiercel.events.model import Event
from tiercel.outputs.alert import make_alert
from tiercel.rules import FieldTable
from tiercel.rules.files.loader import load_rules_text
from tiercel.rules.output import OutputFormatError, compile_output
from tiercel.testing.events import event, file_fd, process

TABLE = FieldTable()


def _event() -> Event:
    proc = process("Cat", pid=42, args=["/etc/Shadow"])
    return event("open", {"flags": "O_RDONLY"}, res=3, fd=file_fd("/etc/Shadow"), proc=proc)


def test_toupper_in_the_message_and_both_keys_in_output_fields() -> None:
    """libsinsp field_with_transformer_and_arg: "start %toupper(evt.arg[1]) end" gives
    "start /TEST/DIR end" and field values {evt.arg[1]: /test/dir, toupper(evt.arg[1]): /TEST/DIR}."""
    fmt = compile_output("start %toupper(fd.name) end", TABLE)
    ev = _event()
    assert fmt.render(ev) == "start /ETC/SHADOW end"
    assert fmt.fields(ev) == {"toupper(fd.name)": "/ETC/SHADOW", "fd.name": "/etc/Shadow"}


def test_nested_transformers_key_is_the_whole_expression() -> None:
    """libsinsp field_with_nested_transformer: "%tolower(toupper(proc.name))" renders the value and
    keys it "tolower(toupper(proc.name))", beside "proc.name"."""
    fmt = compile_output("start %tolower(toupper(proc.name)) end", TABLE)
    ev = _event()
    assert fmt.render(ev) == "start cat end"
    assert fmt.fields(ev) == {"tolower(toupper(proc.name))": "cat", "proc.name": "Cat"}


def test_each_single_transformer_renders_as_in_a_condition() -> None:
    """The transformers Falco's rule language documents (tolower, toupper, b64, basename, len) each
    give in an output what they give in a condition; b64 decodes, len is a number in output_fields."""
    ev = _event()
    cases = {
        "%tolower(fd.name)": "/etc/shadow",
        "%basename(fd.name)": "Shadow",
        "%len(fd.name)": "11",
    }
    for template, text in cases.items():
        assert compile_output(template, TABLE).render(ev) == text, template
    assert compile_output("%len(fd.name)", TABLE).fields(ev)["len(fd.name)"] == 11
    encoded = base64.b64encode(b"hello").decode()
    proc = process("sh", pid=7, args=[encoded])
    ev2 = event("open", {"flags": "O_RDONLY"}, res=3, fd=file_fd(f"/tmp/{encoded}"), proc=proc)
    assert compile_output("x=%b64(basename(fd.name))", TABLE).render(ev2) == "x=hello"


def test_join_of_several_fields() -> None:
    """Falco 0.44's `join(sep, (a, b))` transformer, as the conditions take it."""
    fmt = compile_output('%join("/", (proc.name, basename(fd.name)))', TABLE)
    ev = _event()
    assert fmt.render(ev) == "Cat/Shadow"
    assert set(fmt.fields(ev)) == {'join("/", (proc.name, basename(fd.name)))', "proc.name", "fd.name"}


def test_a_width_and_plain_fields_still_work_beside_transformers() -> None:
    """The old forms are unchanged: `%proc.name` and text around a transformer."""
    fmt = compile_output("(%proc.name) %toupper(proc.name).", TABLE)
    assert fmt.render(_event()) == "(Cat) CAT."


@pytest.mark.parametrize(("template", "why"), [
    ("%toupper(no.such)", "unknown field"),
    ("%toupper(proc.name", "expected a ')'"),
    ("%len(proc.pid)", "does not support field type"),
])
def test_a_bad_transformer_is_refused_at_load_with_the_reason(template: str, why: str) -> None:
    """A template libsinsp cannot compile fails the rule's load; the message names the token."""
    with pytest.raises(OutputFormatError) as e:
        compile_output(template, TABLE)
    assert e.value.message.startswith("invalid formatting token ")
    assert why in e.value.message


def test_a_rule_file_with_a_transformer_in_its_output_loads_and_alerts() -> None:
    """Issue 25 item 6: a rule whose `output:` uses `%toupper(...)` loaded as "unknown field
    'toupper'"; Falco 0.44 loads it (libs PR #1847) and the alert carries both keys."""
    ruleset, result = load_rules_text([("r.yaml", textwrap.dedent("""
    - rule: shadow
      desc: d
      condition: evt.type = open and fd.name startswith /etc/
      output: read of %toupper(fd.name) by %proc.name
      priority: WARNING
    """))])
    assert result.ok, result.render_text()
    matches = ruleset.match(_event())
    assert len(matches) == 1
    m = matches[0]
    alert = make_alert(m.rule, m.event)
    assert alert.output.endswith("read of /ETC/SHADOW by Cat")
    assert alert.output_fields["toupper(fd.name)"] == "/ETC/SHADOW"
    assert alert.output_fields["fd.name"] == "/etc/Shadow"
