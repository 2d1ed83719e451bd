"""Rule files made to hurt the loader: each fails fast with positioned errors, never a traceback,
a RecursionError, minutes of expansion or a file that is not a file read forever."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest

from tiercel.rules.files.loader import load_rules, load_rules_text
from tiercel.rules.files.validate import validate_command
from tiercel.testing.events import open_


def _rule(cond: str, extra: str = "") -> str:
    return f"- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n{extra}"


def _chain(n: int) -> str:
    macros = "".join(f"- macro: m{i}\n  condition: m{i - 1} and proc.name = x{i}\n" for i in range(1, n + 1))
    return "- macro: m0\n  condition: evt.type = open\n" + macros + _rule(f"m{n}")


def _doubling(n: int) -> str:
    return "- macro: m0\n  condition: evt.type = open\n" + "".join(
        f"- macro: m{i}\n  condition: m{i - 1} or m{i - 1}\n" for i in range(1, n + 1)) + _rule(f"m{n}")


def _doubling_lists(n: int) -> str:
    return "- list: l0\n  items: [a, b]\n" + "".join(
        f"- list: l{i}\n  items: [l{i - 1}, l{i - 1}]\n" for i in range(1, n + 1)) + _rule(
        f"evt.type = open and proc.name in (l{n})")


def _alias_bomb() -> str:
    return '- list: a0\n  items: &a0 ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"- list: a{i}\n  items: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10))


# name, file text, the error headlines expected (in order), the largest time allowed
CASES = [
    ("250_chained_macros", _chain(250),
     ["x.yaml:202:14: macro 'm100' -> condition: condition nested more than 100 levels deep through "
      "macro 'm99' -> macro 'm98' -> macro 'm97' -> ... (95 more) -> macro 'm1' -> macro 'm0'"]),
    ("macros_doubling", _doubling(40),
     ["x.yaml:30:14: macro 'm14' -> condition: condition expands to more than 20000 nodes through "
      "macro 'm13' -> macro 'm12' -> macro 'm11' -> ... (9 more) -> macro 'm1' -> macro 'm0'"]),
    ("lists_doubling", _doubling_lists(60),
     ["x.yaml:33:3: list 'l16': list expands to more than 100000 items through list 'l15'"]),
    ("alias_bomb", _alias_bomb(), ["x.yaml:12:10: expands to more than 200000 YAML nodes (through aliases)"]),
    ("alias_cycle", "- list: a\n  items: &x [*x]\n",
     ["x.yaml:2:10: a YAML alias refers to a node that contains it"]),
    ("duplicate_key", _rule("evt.type = open", "  condition: evt.type = close\n"),
     ["x.yaml:6:3: duplicate key 'condition' (first at line 3, column 3)"]),
    ("tags_are_text", _rule("!!python/name:os.system evt.type = open", "  tags: [!= a local tag]\n"), []),
    ("re2_refuses", _rule("evt.type = open and fd.name regex '(a)\\\\1'"),
     ["x.yaml:3:34: rule 'r' -> condition: invalid regular expression '(a)\\1': "
      "invalid escape sequence: \\1"]),
    ("deep_yaml", "- list: l\n  items: " + "[" * 500 + "]" * 500 + "\n",
     ["x.yaml:2:108: nested more than 100 levels deep"]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_rule_file(text: str, expected: list[str]) -> None:
    start = time.monotonic()
    _, result = load_rules_text([("x.yaml", text)])
    assert time.monotonic() - start < 5
    assert [d.headline() for d in result.errors] == expected
    assert not any("not referred to" in d.message for d in result.warnings)


def test_regex_is_linear_time() -> None:
    """15 s per event with Python's backtracking re (issue 16); RE2 is linear."""
    cond = "evt.type = open and fd.name regex '/tmp/([a-z0-9_]+[.]?)+'"
    rs, result = load_rules_text([("x.yaml", _rule(cond))])
    assert result.ok, result.render_text()
    ev = open_("/tmp/" + "a" * 5000 + "!")
    start = time.monotonic()
    assert not rs.match(ev)
    assert time.monotonic() - start < 0.5
    assert rs.match(open_("/tmp/abc.def"))


def test_macro_used_only_by_a_skipped_rule_is_not_unused() -> None:
    text = ("- macro: only_ct\n  condition: ct.name = CreateUser\n"
            + _rule("only_ct", "  source: aws_cloudtrail\n"))
    _, result = load_rules_text([("x.yaml", text)])
    assert [d.message for d in result.warnings] == ["Unknown source aws_cloudtrail, skipping"]


def _in_thread(fn: object) -> object:
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)  # type: ignore[operator]
    t.start()
    t.join(5)
    assert out, "blocked"
    return out[0]


def test_rules_file_that_is_a_fifo_or_a_device(tmp_path: Path) -> None:
    fifo = tmp_path / "r.yaml"
    os.mkfifo(fifo)
    out = io.StringIO()
    code = _in_thread(lambda: validate_command([fifo, Path("/dev/zero")], out=out))
    assert code == 1
    text = out.getvalue()
    assert f"{fifo}: Could not read rules file {fifo}: a FIFO, not a regular file" in text
    assert "/dev/zero: Could not read rules file /dev/zero: a device, not a regular file" in text
    assert "Ok" not in text and f"{fifo}: 1 errors, 0 warnings" in text


def test_unreadable_rules_file_names_the_file() -> None:
    _, result = load_rules([Path("/nonexistent/rules.yaml")])
    assert result.errors[0].headline() == (
        "/nonexistent/rules.yaml: Could not read rules file /nonexistent/rules.yaml: "
        "no such file or directory")
