"""`run -L -o json_output=true`: rules, macros and lists with their details under Falco's key names."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from tiercel.cli import app

RULES = """
- required_engine_version: 0.26.0
- list: shells
  items: [bash, sh]
- list: all_shells
  items: [shells, zsh]
- list: unused_list
  items: [x]
- macro: spawned
  condition: evt.type = execve and evt.dir = <
- macro: unused_macro
  condition: proc.name = x
- rule: Shell
  desc: a shell
  condition: spawned and proc.name in (all_shells) and not proc.pname startswith run
  output: shell %proc.name (parent %proc.pname)
  priority: WARNING
  tags: [shell]
  exceptions:
    - name: cron
      fields: [proc.pname, user.name]
      comps: [=, in]
      values: [[cron, [root]]]
"""


def describe(tmp_path: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    f = tmp_path / "r.yaml"
    f.write_text(RULES)
    result = CliRunner().invoke(app, ["run", "-L", "-r", str(f), "-o", "json_output=true", *extra])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def test_lists_macros_rules(tmp_path: Path) -> None:
    doc = describe(tmp_path)
    assert doc["required_engine_version"] == "0.26.0"
    lists = {x["info"]["name"]: x for x in doc["lists"]}
    assert lists["all_shells"]["details"] == {"used": True, "lists": ["shells"], "items_plain": ["zsh"]}
    assert lists["shells"]["details"]["used"] and not lists["unused_list"]["details"]["used"]
    macros = {x["info"]["name"]: x for x in doc["macros"]}
    assert macros["spawned"]["details"] == {
        "used": True, "macros": [], "operators": ["="], "condition_fields": ["evt.dir", "evt.type"],
        "lists": [], "events": ["execve"]}
    assert not macros["unused_macro"]["details"]["used"]
    (rule,) = doc["rules"]
    assert rule["info"]["priority"] == "Warning" and rule["info"]["tags"] == ["shell"]
    assert rule["details"] == {
        "macros": ["spawned"], "operators": ["in", "startswith"],
        "condition_fields": ["proc.name", "proc.pname"],
        "lists": ["all_shells"], "output_fields": ["proc.name", "proc.pname"],
        "exception_fields": ["proc.pname", "user.name"], "exceptions": ["cron"],
        "exception_operators": ["=", "in"], "events": ["execve"]}


def test_l_one_rule(tmp_path: Path) -> None:
    doc = describe(tmp_path, "-l", "Shell")
    assert [r["info"]["name"] for r in doc["rules"]] == ["Shell"]
