"""`tiercel explain`: the condition tree with each part's value, the fields read, the exception that
removed the event; from field maps and from a capture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from tiercel.cli import app

RULES = """
- list: shells
  items: [bash, sh]
- macro: spawned
  condition: evt.type = execve and evt.dir = <
- rule: Shell in container
  desc: a shell
  condition: spawned and container.id != host and proc.name in (shells)
  output: shell %proc.name
  priority: NOTICE
  exceptions:
    - name: entrypoint
      fields: [proc.pname, proc.cmdline]
      comps: [=, startswith]
      values: [[runc, "sh -c /entry"]]
"""

EVENT = {"evt.num": 1, "evt.type": "execve", "evt.dir": "<", "container.id": "abc",
         "proc.name": "bash", "proc.pname": "sshd", "proc.cmdline": "bash -i"}


def explain(tmp_path: Path, events: list[dict[str, Any]], *args: str) -> tuple[int, str]:
    (tmp_path / "r.yaml").write_text(RULES)
    (tmp_path / "e.json").write_text(orjson.dumps(events).decode())
    result = CliRunner().invoke(app, ["explain", "Shell in container", "-r", str(tmp_path / "r.yaml"),
                                      "--events", str(tmp_path / "e.json"), *args])
    return result.exit_code, result.stdout


def test_matched_text(tmp_path: Path) -> None:
    code, out = explain(tmp_path, [EVENT])
    assert code == 0
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0] == "event 1 execve (proc.name=bash): matched"
    assert [(w, rest.split()[0]) for w, rest in (line.split(None, 1) for line in lines[1:] if line)] == [
        ("true", "and"), ("true", "evt.type"), ("true", "evt.dir"), ("true", "container.id"),
        ("true", "proc.name"), ("true", "not"), ("false", "and"), ("false", "proc.pname"),
        ("false", "proc.cmdline")]
    assert "proc.name=bash" in lines[5] and "exception 'entrypoint'" in lines[6]


def test_removed_by_exception_json(tmp_path: Path) -> None:
    ev = EVENT | {"evt.num": 9, "proc.pname": "runc", "proc.cmdline": "sh -c /entry.sh"}
    code, out = explain(tmp_path, [EVENT, ev], "--event", "9", "--json")
    (doc,) = orjson.loads(out)
    assert (code, doc["event"]["num"], doc["matched"], doc["removed_by"]) == (0, 9, False, ["entrypoint"])
    exception = doc["condition"]["children"][-1]
    assert exception["exception"] == "entrypoint" and exception["value"] is False
    check = exception["children"][0]["children"][1]
    assert check == {"node": "proc.cmdline startswith 'sh -c /entry'", "value": True,
                     "fields": {"proc.cmdline": "sh -c /entry.sh"}}


def test_why_not_a_field_missing(tmp_path: Path) -> None:
    ev = {k: v for k, v in EVENT.items() if k != "container.id"} | {"evt.num": 3}
    code, out = explain(tmp_path, [ev], "--all-events")
    assert code == 0 and out.startswith("event 3 execve (proc.name=bash): not matched")
    assert "false" in out and "container.id=<NA>" in out


def test_other_event_types_not_candidates(tmp_path: Path) -> None:
    code, out = explain(tmp_path, [EVENT | {"evt.type": "open"}], "--all-events")
    assert code == 0 and "no event to explain" in out
    code, out = explain(tmp_path, [EVENT | {"evt.type": "open"}], "--event", "1")
    assert "not a candidate" in out


SUITE = Path("/work/shared/oracles/falco-regression/test")


@pytest.mark.skipif(not (SUITE / "trace_files/cat_write.scap").is_file(), reason="oracle files absent")
def test_capture_first_matches() -> None:
    result = CliRunner().invoke(app, ["explain", "open_from_cat", "-r",
                                      str(SUITE / "rules/single_rule.yaml"),
                                      "-e", str(SUITE / "trace_files/cat_write.scap"), "--json"])
    docs = orjson.loads(result.stdout)
    assert result.exit_code == 0 and len(docs) == 5 and all(d["matched"] for d in docs)
    assert docs[0]["condition"]["children"][1]["fields"] == {"proc.name": "cat"}
