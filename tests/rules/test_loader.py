"""The whole pipeline on Falco's regression rule files: what must (not) detect `cat` opening /dev/null.

Falco's tests replay cat_write.scap; the event that matters there is `cat /dev/null` opening
/dev/null, built here as the state stage would build it. Every falco_tests.yaml case on that capture
whose outcome depends only on the rule files is run (detect: True/False), plus the loader's
definition-order, warning and output behaviour.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tiercel.events.model import Event
from tiercel.outputs.alert import make_alert, to_json_falco031
from tiercel.rules.files.diagnostics import LOAD_UNKNOWN_FILTER, LOAD_UNUSED_LIST, LOAD_UNUSED_MACRO
from tiercel.rules.files.loader import load_rules, load_rules_text
from tiercel.testing.events import O_WRONLY, open_, process

FALCO_TEST = "falco-regression/test"  # under the oracle directory


class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def cat_opens_dev_null() -> Event:
    bash = process("bash", pid=1, exe="", exepath="")
    cat = process("cat", pid=2, exepath="/bin/cat", args=["/dev/null"], parent=bash)
    return open_("/dev/null", flags=O_WRONLY, res=3, proc=cat, num=5, ts=1470327477881781397)


def _detect_cases(oracles: Path) -> list[Any]:
    cases = []
    for name in ("falco_tests.yaml", "falco_tests_exceptions.yaml"):
        tests = yaml.load((oracles / FALCO_TEST / name).read_text(), Loader=_MuxLoader)["trace_files"]
        for test, t in tests.items():
            if "detect" not in t or t.get("trace_file") != "trace_files/cat_write.scap":
                continue
            if any(k in t for k in ("detect_counts", "priority", "disabled_rules", "all_events")):
                continue  # these depend on the whole capture or on command-line options
            files = t["rules_file"] if isinstance(t["rules_file"], list) else [t["rules_file"]]
            cases.append(pytest.param(files, t["detect"], id=test))
    return cases


@pytest.mark.oracle_cases(("files", "detect"), _detect_cases)
def test_falco_detect_cases(files: list[str], detect: bool, oracles: Path) -> None:
    ruleset, result = load_rules([oracles / FALCO_TEST / f for f in files])
    assert result.ok, result.render_text()
    assert bool(ruleset.match(cat_opens_dev_null())) is detect


def test_alert_from_loaded_rule_is_falcos_json_line(oracles: Path) -> None:
    ruleset, _ = load_rules([oracles / FALCO_TEST / "rules/single_rule_with_tags.yaml"])
    m = ruleset.match(cat_opens_dev_null())[0]
    alert = make_alert(m.rule, m.event, time_iso8601=True)
    expected = oracles / FALCO_TEST / "output_files/single_rule_with_cat_write.json"
    assert to_json_falco031(alert) == expected.read_text().splitlines()[0]


def test_null_output_field_renders_na(oracles: Path) -> None:
    ruleset, _ = load_rules([oracles / FALCO_TEST / "rules/null_output_field.yaml"])
    m = ruleset.match(cat_opens_dev_null())[0]
    assert make_alert(m.rule, m.event).output.endswith(
        "Warning An open was seen (cport=<NA> command=cat /dev/null)")


def test_skip_if_unknown_filter_downgrades_to_a_warning(oracles: Path) -> None:
    ruleset, result = load_rules([oracles / FALCO_TEST / "rules/skip_unknown_evt.yaml"])
    assert result.ok and not ruleset.rules
    assert [w.code for w in result.warnings] == [LOAD_UNKNOWN_FILTER]


def load(text: str) -> Any:
    return load_rules_text([("r.yaml", textwrap.dedent(text))])


def test_rules_may_use_macros_and_lists_defined_later() -> None:
    rs, result = load("""
    - rule: r
      desc: d
      condition: is_open and proc.name in (cats)
      output: o
      priority: INFO
    - macro: is_open
      condition: evt.type = open
    - list: cats
      items: [cat]
    """)
    assert result.ok, result.render_text()
    assert rs.match(cat_opens_dev_null())


def test_a_macro_cannot_use_a_macro_defined_after_it() -> None:
    _, result = load("""
    - macro: outer
      condition: inner
    - macro: inner
      condition: evt.type = open
    - rule: r
      desc: d
      condition: outer
      output: o
      priority: INFO
    """)
    assert [d.headline() for d in result.errors] == [
        "r.yaml:3:14: macro 'outer' -> condition: Undefined macro 'inner' used in filter."]


def test_unused_macros_and_lists_warn() -> None:
    _, result = load("""
    - list: l
      items: [a]
    - macro: m
      condition: proc.name in (l)
    - rule: r
      desc: d
      condition: evt.type = open
      output: o
      priority: INFO
    """)
    assert [w.code for w in result.warnings] == [LOAD_UNUSED_MACRO]
    _, result = load("- list: l\n  items: [a]\n")
    assert [w.code for w in result.warnings] == [LOAD_UNUSED_LIST]


def test_loading_goes_on_after_errors() -> None:
    rs, result = load("""
    - rule: broken
      desc: d
      condition: evt.type = open and (
      output: o
      priority: INFO
    - rule: also broken
      desc: d
      condition: evt.type = open and proc.nmae = cat
      output: o
      priority: INFO
    - rule: fine
      desc: d
      condition: evt.type = open
      output: o
      priority: INFO
    """)
    assert len(result.errors) == 2
    assert [r.name for r in rs.rules] == ["fine"]


def test_a_broken_macro_gives_one_error_not_one_per_rule() -> None:
    _, result = load("""
    - macro: m
      condition: evt.type = open and (
    - rule: a
      desc: d
      condition: m
      output: o
      priority: INFO
    - rule: b
      desc: d
      condition: m and proc.name = cat
      output: o
      priority: INFO
    """)
    assert [d.context for d in result.errors] == [("macro 'm'", "condition")]


def test_compile_error_inside_a_macro_points_into_the_macro() -> None:
    _, result = load("""
    - macro: m
      condition: evt.type = open and proc.pid contains 1
    - rule: a
      desc: d
      condition: m
      output: o
      priority: INFO
    """)
    (err,) = result.errors
    assert err.context == ("rule 'a'", "condition", "macro 'm'")
    assert err.span is not None and (err.span.line, err.span.col) == (3, 34)


def test_exception_text_is_attributed_to_the_exception() -> None:
    rs, result = load("""
    - rule: r
      desc: d
      condition: evt.type = open
      output: o
      priority: INFO
      exceptions:
        - name: cats
          fields: [proc.name, fd.name]
          comps: [=, startswith]
          values:
            - [cat, /dev]
    """)
    assert result.ok, result.render_text()
    assert rs.rules[0].condition == ("(evt.type = open) and not "
                                     "((proc.name = cat and fd.name startswith /dev))")
    assert not rs.match(cat_opens_dev_null())


def test_file_read_error() -> None:
    _, result = load_rules([Path("/nonexistent/rules.yaml")])
    assert result.errors[0].code == "LOAD_ERR_FILE_READ"
