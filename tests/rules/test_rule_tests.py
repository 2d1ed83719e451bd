"""`tiercel test`: rule unit tests beside the rule files; failures positioned, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiercel.cli import app

ROOT = Path(__file__).resolve().parents[2]

RULES = """
- rule: Cat opens
  desc: cat opens something
  condition: evt.type = openat and proc.name = cat
  output: "%proc.name %fd.name"
  priority: WARNING
  exceptions:
    - name: motd
      fields: fd.name
      values: [/etc/motd]
"""

TESTS = """\
tests:
  - name: cat opens passwd
    events:
      - {evt.type: openat, proc.name: cat, fd.name: /etc/passwd}
    fire: [Cat opens]
  - name: the exception
    events:
      - {evt.type: openat, proc.name: cat, fd.name: /etc/motd}
    fire: [Cat opens]
  - name: another program
    events:
      - {evt.type: openat, proc.name: cat, fd.name: /etc/passwd}
    not_fire: [Cat opens, Dog opens]
"""


def run(*paths: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["test", *map(str, paths)])
    return result.exit_code, result.stdout


def test_shipped_rule_tests_pass() -> None:
    code, out = run(ROOT / "rules")
    assert code == 0, out
    assert out.endswith(" failures\n") and ", 0 failures" in out


def test_failures_positioned(tmp_path: Path) -> None:
    (tmp_path / "cat.yaml").write_text(RULES)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "cat.yaml").write_text(TESTS)
    code, out = run(tmp_path / "cat.yaml")
    f = tmp_path / "tests" / "cat.yaml"
    assert code == 1
    assert out.splitlines() == [
        f"{f}:9:12: test 'the exception': rule 'Cat opens' did not fire "
        "(tiercel explain 'Cat opens' ... --all-events says why)",
        f"{f}:13:27: test 'another program': no rule named 'Dog opens'",
        "tiercel test: 3 tests, 2 failures"]


def test_malformed_test_file(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "r.yaml").write_text(RULES)
    (tmp_path / "tests" / "r.yaml").write_text("tests:\n  - name: x\n    fires: [a]\n")
    code, out = run(tmp_path)
    assert code == 1 and f"{tmp_path / 'tests' / 'r.yaml'}:2:5: unknown key 'fires'" in out


SUITE = Path("/work/shared/oracles/falco-regression/test")


@pytest.mark.skipif(not (SUITE / "trace_files/cat_write.scap").is_file(), reason="oracle files absent")
def test_capture_slice(tmp_path: Path) -> None:
    t = tmp_path / "capture.tests.yaml"
    t.write_text(f"rules: [{SUITE / 'rules/single_rule.yaml'}]\ntests:\n"
                 f"  - name: cat's opens\n    capture: {SUITE / 'trace_files/cat_write.scap'}\n"
                 "    events: [140]\n    fire: [open_from_cat]\n"
                 f"  - name: before cat\n    capture: {SUITE / 'trace_files/cat_write.scap'}\n"
                 "    events: [1, 2, 3]\n    not_fire: [open_from_cat]\n")
    assert run(t) == (0, "tiercel test: 2 tests, 0 failures\n")
