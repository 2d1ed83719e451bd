"""`append_output` as Falco 0.44 documents it: `match.tags`, `extra_fields` and `extra_output`.

The expectations are Falco's: its falco.yaml comments (../shared/oracles/falco-config/falco.yaml,
"[Sandbox] `append_output`"), its config parser (userspace/falco/configuration.h,
`convert<append_output_config>`) and its test unit_tests/falco/test_configuration_output_options.cpp.
The config goes through the real loader; the alert through the real Extras.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tiercel.config import ConfigError, load_config
from tiercel.events.model import Event
from tiercel.outputs.alert import Alert
from tiercel.outputs.append import Extras
from tiercel.testing.events import event, file_fd, process


class _Rule:
    def __init__(self, name: str, tags: tuple[str, ...], source: str = "syscall") -> None:
        self.name, self.tags, self.source = name, tags, source


BASE = Alert(time=1, rule="r", priority="Notice", source="syscall", output="msg",
             output_fields={"proc.name": "cat"})


def _event() -> Event:
    proc = process("cat", pid=42, args=["/etc/shadow"])
    return event("open", {"flags": "O_RDONLY"}, res=3, fd=file_fd("/etc/shadow"), proc=proc, cpu=3)


def _extras(tmp_path: Path, text: str) -> Extras:
    f = tmp_path / "falco.yaml"
    f.write_text(text)
    cfg = load_config(f)
    return Extras(cfg.append_output, cfg.static_fields)


def test_match_tags_is_a_list_and_every_tag_must_be_on_the_rule(tmp_path: Path) -> None:
    """falco.yaml: "`tags`: append output only to rules that have all of the specified tags";
    configuration.h reads `match.tags` as a sequence into a set."""
    extras = _extras(tmp_path, """
append_output:
  - match:
      tags: [persistence, execution]
    extra_output: "(both)"
""")
    ev = _event()
    both = extras.apply(BASE, _Rule("a", ("execution", "persistence", "T1")), ev)
    one = extras.apply(BASE, _Rule("b", ("persistence",)), ev)
    assert both.output == "msg (both)"
    assert one.output == "msg"


def test_match_tag_singular_still_works(tmp_path: Path) -> None:
    """tiercel's older `match.tag:` (one tag) keeps working beside Falco's `tags:`."""
    extras = _extras(tmp_path, "append_output:\n  - match: {tag: shell}\n    extra_output: x\n")
    assert extras.apply(BASE, _Rule("a", ("shell",)), _event()).output == "msg x"
    assert extras.apply(BASE, _Rule("b", ("net",)), _event()).output == "msg"


def test_extra_fields_mapping_is_formatted_not_literal(tmp_path: Path) -> None:
    """falco.yaml: extra_fields "can be specified as a custom name with a custom format or as any
    supported field"; test_configuration_output_options.cpp: `{proc.aname[2]: "%proc.aname[2]"}` is
    a formatted field, `{static_field: "static content"}` formats to its text, `ka.verb` a raw field."""
    extras = _extras(tmp_path, """
append_output:
  - extra_fields:
      - myfile: "%fd.name"
      - who: "%proc.name(%proc.pid)"
      - static_field: "static content"
      - evt.type
""")
    fields = extras.apply(BASE, _Rule("a", ()), _event()).output_fields
    assert fields["myfile"] == "/etc/shadow"
    assert fields["who"] == "cat(42)"
    assert fields["static_field"] == "static content"
    assert fields["evt.type"] == "open"


def test_a_field_of_extra_output_joins_output_fields(tmp_path: Path) -> None:
    """falco.yaml's example: with `extra_output: "on CPU %evt.cpu"`, "in the output_fields property
    you will find three new ones: evt.cpu, ..." (the appended format is formatted with the rule's)."""
    extras = _extras(tmp_path, """
append_output:
  - match: {source: syscall}
    extra_output: "on CPU %evt.cpu"
""")
    alert = extras.apply(BASE, _Rule("a", ()), _event())
    assert alert.output == "msg on CPU 3"
    assert alert.output_fields == {"evt.cpu": 3, "proc.name": "cat"}


def test_a_name_given_twice_in_extra_fields_is_an_error(tmp_path: Path) -> None:
    """configuration.h: "it is an error to redefine an existing key" (the entry fails to parse)."""
    with pytest.raises(ConfigError, match=r"'evt\.type' is given twice"):
        _extras(tmp_path, """
append_output:
  - extra_fields:
      - evt.type
      - evt.type: "%evt.type"
""")


def test_a_bad_template_in_extra_fields_is_refused_with_its_entry(tmp_path: Path) -> None:
    """An unknown field in a formatted extra field fails the config, naming the entry."""
    with pytest.raises(ConfigError, match=r"append_output\[0\]: invalid formatting token"):
        _extras(tmp_path, "append_output:\n  - extra_fields:\n      - f: \"%no.such\"\n")


def test_transformers_in_extra_output_and_extra_fields(tmp_path: Path) -> None:
    """Transformers are formatted wherever libsinsp's formatter is used (falcosecurity/libs PR #1847,
    "support field transformers in formatters"), append_output's formats included."""
    extras = _extras(tmp_path, """
append_output:
  - extra_output: "file=%toupper(fd.name)"
    extra_fields:
      - base: "%basename(fd.name)"
      - len(fd.name)
""")
    alert = extras.apply(BASE, _Rule("a", ()), _event())
    assert alert.output == "msg file=/ETC/SHADOW"
    assert alert.output_fields["toupper(fd.name)"] == "/ETC/SHADOW"
    assert alert.output_fields["base"] == "shadow"
    assert alert.output_fields["len(fd.name)"] == 11
