r"""The `-o` forms Falco 0.44's parser takes, beside tiercel's own.

Falco's set_cmdline_option (userspace/falco/configuration.cpp) reads `key={yaml}` as an object and
hands the key to yaml_helper::get_node (userspace/engine/yaml_helper.h), whose grammar is
`NodeKey ('.' NodeKey)*`, `NodeKey := (any)+ ('[' (integer)+? ']')*`, an empty `[]` appending "a new
entry to the sequence"; get_sequence_from_node reads a scalar as a one-item sequence. Falco 0.44
added backslash escapes to the key path (falcosecurity/falco PR #3835, release note: "backslash
escaping support to `-o` key-path parser for literal dots and brackets in YAML key names (e.g.,
-o 'my\.dotted\.key=val')"). Falco's own test of the append form is
unit_tests/falco/test_configuration_output_options.cpp (`cli_options`: `append_output[]={...}`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tiercel.config import ConfigError, load_config


def test_append_output_entries_appended_with_brackets_as_falcos_test() -> None:
    """test_configuration_output_options.cpp `cli_options`: three `append_output[]={...}` options
    give three entries, the JSON objects read as YAML objects."""
    cfg = load_config(None, [
        'append_output[]={"match": {"source": "syscall", "tags": ["persistence"], "rule": "some rule name"},'
        ' "extra_output": "gparent=%proc.aname[2]"}',
        'append_output[]={"match": {"tags": ["persistence", "execution"]}, "extra_fields":'
        ' [{"proc.aname[2]": "%proc.aname[2]"}]}',
        'append_output[]={"match": {"source": "k8s_audit"},'
        ' "extra_fields": ["ka.verb", {"static_field": "static content"}]}',
    ])
    assert len(cfg.append_output) == 3
    first, second, third = cfg.append_output
    assert (first.match.source, first.match.tags) == ("syscall", ("persistence",))
    assert first.match.rule == "some rule name"
    assert first.extra_output == "gparent=%proc.aname[2]"
    assert second.match.tags == ("persistence", "execution")
    assert second.extra_fields == ({"proc.aname[2]": "%proc.aname[2]"},)
    assert third.extra_fields == ("ka.verb", {"static_field": "static content"})


def test_brackets_append_to_the_files_list(tmp_path: Path) -> None:
    """yaml_helper get_node: "an empty NodeKey will append a new entry to the sequence"."""
    f = tmp_path / "falco.yaml"
    (tmp_path / "a.yaml").write_text("")
    f.write_text("rules_files:\n  - a.yaml\n")
    cfg = load_config(f, ["rules_files[]=/etc/b.yaml", "rules_files[]=/etc/c.yaml"])
    assert [Path(p).name for p in cfg.rules_files] == ["a.yaml", "b.yaml", "c.yaml"]


def test_brackets_on_a_value_that_is_not_a_list_is_one_clear_error(tmp_path: Path) -> None:
    """get_node appends only where the node is a sequence (or missing); else the option fails."""
    f = tmp_path / "falco.yaml"
    f.write_text("json_output: true\n")
    with pytest.raises(ConfigError) as e:
        load_config(f, ["json_output[]=false"])
    line = next(x for x in str(e.value).splitlines() if "json_output[]" in x)
    assert "cannot append with '[]'" in line and "not a list" in line


def test_an_object_value(tmp_path: Path) -> None:
    """set_cmdline_option: a value `{...}` is loaded as YAML and set as an object."""
    cfg = load_config(None, ["static_fields={cluster: prod, zone: eu-1}"])
    assert cfg.static_fields == {"cluster": "prod", "zone": "eu-1"}


def test_a_scalar_for_a_list_key_is_a_one_item_list(tmp_path: Path) -> None:
    """get_sequence_from_node: a scalar where a sequence is read gives a sequence of that one item;
    both for a key the file has as a list and for one it does not have."""
    f = tmp_path / "falco.yaml"
    f.write_text("rules_files:\n  - /etc/one.yaml\n  - /etc/two.yaml\n")
    cfg = load_config(f, ["rules_files=/etc/only.yaml"])
    assert cfg.rules_files == ("/etc/only.yaml",)
    cfg = load_config(None, ["syscall_event_drops.actions=alert"])
    assert cfg.syscall_event_drops.actions == ("alert",)


def test_escaped_dots_and_brackets_are_part_of_the_name() -> None:
    r"""Falco PR #3835: `-o 'my\.dotted\.key=val'` names the key `my.dotted.key`; `\[` and `\]`
    are literal brackets."""
    cfg = load_config(None, [r"static_fields.my\.dotted\.key=val", r"static_fields.a\[0\]=b"])
    assert cfg.static_fields == {"my.dotted.key": "val", "a[0]": "b"}


def test_todays_forms_still_work() -> None:
    """Indexes, nested names and YAML list values, as before."""
    cfg = load_config(None, ["append_output[0].match.tag=shell", "append_output[0].extra_fields[0]=proc.name",
                             "syscall_event_drops.actions=[alert, exit]"])
    assert cfg.append_output[0].match.tag == "shell"
    assert cfg.append_output[0].extra_fields == ("proc.name",)
    assert cfg.syscall_event_drops.actions == ("alert", "exit")


@pytest.mark.parametrize("key", ["a..b", "a.", "[0]", "a[x]", "a[1]b", "a\\"])
def test_a_malformed_key_is_one_line(key: str) -> None:
    """A key get_node cannot parse fails the option ("Parsing error"), in one line."""
    with pytest.raises(ConfigError) as e:
        load_config(None, [f"{key}=1"])
    assert f"-o {key}=1: expected -o key=value" in str(e.value)


def test_an_empty_value_for_a_list_key_is_still_an_error() -> None:
    """Only a scalar with content becomes a one-item list: `-o rules_files=` names no file."""
    with pytest.raises(ConfigError, match="rules_files: expected a list"):
        load_config(None, ["rules_files="])
