"""Collector semantics: definition order, append, override, enabled, exceptions, priorities."""

from __future__ import annotations

import textwrap

import pytest

from tiercel.rules.files.collector import Collector
from tiercel.rules.files.diagnostics import LoadResult
from tiercel.rules.files.reader import read_items


def collect(*texts: str) -> Collector:
    result = LoadResult()
    col = Collector(result)
    for i, text in enumerate(texts):
        col.collect(read_items(f"f{i}.yaml", textwrap.dedent(text), result))
    return col


def errors(col: Collector) -> list[str]:
    return [d.message for d in col.result.errors]


RULE = """
- rule: r
  desc: d
  condition: evt.type=open
  output: out
  priority: WARNING
"""


def test_redefinition_keeps_place_and_takes_last_content() -> None:
    col = collect("""
    - list: a
      items: [x]
    - list: b
      items: [y]
    - list: a
      items: [z]
    """)
    assert list(col.lists) == ["a", "b"]
    assert col.lists["a"].items == ["z"]
    assert col.lists["a"].index < col.lists["b"].index < col.lists["a"].visibility


def test_list_append_and_override_append() -> None:
    col = collect("""
    - list: a
      items: [x]
    - list: a
      items: [y]
      append: true
    - list: a
      items: [z]
      override:
        items: append
    - list: a2
      items: [q]
    - list: a2
      items: [r]
      override:
        items: replace
    """)
    assert col.lists["a"].items == ["x", "y", "z"]
    assert col.lists["a2"].items == ["r"]
    assert not col.result.errors
    assert [w.code for w in col.result.warnings] == ["LOAD_DEPRECATED_ITEM"]


def test_macro_append_joins_with_a_space() -> None:
    col = collect("""
    - macro: m
      condition: evt.type=open
    - macro: m
      condition: and proc.name=cat
      append: true
    """)
    assert col.macros["m"].cond.text == "evt.type=open and proc.name=cat"


@pytest.mark.parametrize(("text", "message"), [
    ("- list: my_list\n  items: [x]\n  append: true\n",
     "List my_list has 'append' key but no list by that name already exists"),
    ("- macro: my_macro\n  condition: x\n  append: true\n",
     "Macro my_macro has 'append' key but no macro by that name already exists"),
    ("- rule: my_rule\n  condition: evt.type=open\n  append: true\n",
     "Rule my_rule has 'append' key but no rule by that name already exists"),
    ("- rule: my_rule\n  condition: evt.type=open\n  override:\n    condition: append\n",
     "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"),
    ("- rule: my_rule\n  enabled: false\n",
     "Rule has 'enabled' key but no rule by that name already exists"),
], ids=["list", "macro", "rule", "rule-override", "enabled-only"])
def test_dangling_appends_are_errors(text: str, message: str) -> None:
    assert errors(collect(text)) == [message]


def test_rule_append_condition_and_exceptions() -> None:
    col = collect(RULE + textwrap.dedent("""
    - rule: r
      condition: and proc.name=cat
      exceptions:
        - name: e
          fields: [proc.name]
          values: [[sh]]
      append: true
    """))
    r = col.rules["r"]
    assert r.cond.text == "evt.type=open and proc.name=cat"
    assert [e.name for e in r.exceptions] == ["e"]


def test_rule_append_without_condition_or_exceptions() -> None:
    col = collect(RULE + "\n- rule: r\n  append: true\n")
    assert errors(col) == ["Appended rule must have exceptions or condition property"]


def test_override_replace_and_append_per_key() -> None:
    col = collect(RULE + textwrap.dedent("""
    - rule: r
      condition: and proc.name=cat
      output: more
      priority: error
      tags: [b]
      enabled: false
      override:
        condition: append
        output: append
        priority: replace
        tags: replace
        enabled: replace
    """))
    r = col.rules["r"]
    assert (r.cond.text, r.output, r.priority, r.tags, r.enabled) == (
        "evt.type=open and proc.name=cat", "out more", 3, ("b",), False)


def test_override_key_without_entry_is_an_error() -> None:
    col = collect(RULE + "- rule: r\n  condition: x\n  output: y\n  override:\n    condition: append\n")
    assert errors(col) == ["Unexpected key 'output': no corresponding entry under 'override' is defined."]


def test_override_cannot_append_priority() -> None:
    col = collect(RULE + "- rule: r\n  priority: INFO\n  override:\n    priority: append\n")
    assert errors(col) == ["Key 'priority' cannot be appended to, use 'replace' instead"]


def test_enabled_only_item_switches_a_rule() -> None:
    col = collect(RULE + "- rule: r\n  enabled: false\n")
    assert col.rules["r"].enabled is False


@pytest.mark.parametrize("text", ["WARNING", "warning", "Warning", "wArNiNg"])
def test_priority_is_case_insensitive(text: str) -> None:
    col = collect(RULE.replace("WARNING", text))
    assert col.rules["r"].priority == 4


@pytest.mark.parametrize(("text", "level"), [
    ("emergency", 0), ("alert", 1), ("critical", 2), ("error", 3), ("warning", 4), ("notice", 5),
    ("informational", 6), ("info", 6), ("debug", 7)])
def test_eight_priorities(text: str, level: int) -> None:
    assert collect(RULE.replace("WARNING", text)).rules["r"].priority == level


def test_invalid_priority() -> None:
    col = collect(RULE.replace("WARNING", "LOUD"))
    assert col.result.errors[0].message.startswith("Invalid priority 'LOUD'")
    assert col.result.errors[0].span is not None and col.result.errors[0].span.line == 6


def test_tags_are_sorted_and_unique() -> None:
    col = collect(RULE + "  tags: [process, filesystem, process]\n")
    assert col.rules["r"].tags == ("filesystem", "process")


def test_defaults_and_optional_properties() -> None:
    col = collect(RULE + "  source: syscall\n  warn_evttypes: false\n  skip-if-unknown-filter: true\n")
    r = col.rules["r"]
    assert (r.enabled, r.warn_evttypes, r.skip_if_unknown_filter, r.source) == (True, False, True,
                                                                                "syscall")


def test_unknown_source_is_skipped_with_a_warning() -> None:
    col = collect(RULE + "  source: aws_cloudtrail\n")
    assert col.rules["r"].unknown_source
    assert [w.code for w in col.result.warnings] == ["LOAD_UNKNOWN_SOURCE"]


def test_wrong_types_are_reported_and_loading_goes_on() -> None:
    col = collect("""
    - list: l
      items: notalist
    - macro: m
      condition: [a, b]
    - rule: r
      desc: d
      condition: evt.type=open
      output: o
      priority: INFO
      enabled: maybe
    - list: ok
      items: [x]
    """)
    assert errors(col) == [
        "Value of 'items' must be a sequence, not a string",
        "Value of 'condition' must be a string, not a sequence",
        "Value of 'enabled' must be a boolean (true or false), not 'maybe'",
    ]
    assert "ok" in col.lists


def test_required_engine_version() -> None:
    assert not collect("- required_engine_version: 0.57.0\n").result.errors
    assert not collect("- required_engine_version: 7\n").result.errors
    assert errors(collect("- required_engine_version: not-a-number\n")) == [
        "Value of required_engine_version must be a number"]
    assert errors(collect("- required_engine_version: 9999999\n"))[0].startswith(
        "Rules require engine version 9999999, but engine version is")


def test_plugin_versions_accepted_with_a_note() -> None:
    col = collect("- required_plugin_versions:\n  - name: cloudtrail\n    version: 0.7.0\n")
    assert not col.result.errors
    assert [w.code for w in col.result.warnings] == ["LOAD_PLUGIN_VERSIONS_IGNORED"]


def test_built_in_plugins_satisfy_required_plugin_versions_once() -> None:
    item = "- required_plugin_versions:\n  - name: k8saudit\n    version: 0.18.0\n  - name: json\n"
    col = collect(item + item)
    assert not col.result.errors and not col.result.warnings
    assert len(col.result.notices) == 1 and "plugins k8saudit,json built in" in col.result.notices[0]


def test_exception_forms_are_read() -> None:
    col = collect(RULE + """
  exceptions:
    - name: tuple
      fields: [proc.name, fd.name]
      comps: [=, startswith]
      values:
        - [cat, /tmp]
    - name: single
      fields: proc.name
      values: [a, b]
    """)
    tup, single = col.rules["r"].exceptions
    assert (tup.fields, tup.comps, tup.values) == (["proc.name", "fd.name"], ["=", "startswith"],
                                                   [["cat", "/tmp"]])
    assert (single.fields, single.comps, single.values) == ("proc.name", None, ["a", "b"])


def test_exception_values_appended_to_existing_exception() -> None:
    col = collect(RULE + """
  exceptions:
    - name: e
      fields: [proc.name]
      values: [[a]]
- rule: r
  exceptions:
    - name: e
      values: [[b]]
  append: true
    """)
    assert col.rules["r"].exceptions[0].values == [["a"], ["b"]]


def test_unknown_keys_and_items_warn() -> None:
    col = collect(RULE + "  outptu: x\n- nothing: here\n")
    assert [w.code for w in col.result.warnings] == ["LOAD_UNKNOWN_KEY", "LOAD_UNKNOWN_ITEM"]


def test_appends_across_files_attribute_positions() -> None:
    col = collect("- macro: m\n  condition: evt.type=open\n",
                  "- macro: m\n  condition: and proc.name=cat\n  append: true\n")
    cond = col.macros["m"].cond
    span = cond.span_at(cond.text.index("proc.name"))
    assert (span.file, span.line, span.col) == ("f1.yaml", 2, 18)
