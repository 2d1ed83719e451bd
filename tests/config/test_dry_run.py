"""--dry-run says what a run would load: Falco's `rules:` selection from the config, -D, -T, -t and
--priority applied as `run` applies them (issue 27 row 9: "25 rules loaded" under
`rules: [{disable: {rule: '*'}}]` while a replay ran 0)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiercel.cli import app

RULES = Path(__file__).parents[2] / "rules" / "tiercel_rules.yaml"


def _dry(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", "--dry-run", "-r", str(RULES), *args])
    return result.exit_code, result.output.strip().splitlines()[-1]


def _enabled(line: str) -> int:
    assert line.startswith("tiercel: dry run: "), line
    return int(line.split()[3])


def test_selection_from_the_config(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("rules:\n  - disable:\n      rule: '*'\n")
    code, line = _dry("-c", str(conf))
    assert code == 0 and _enabled(line) == 0
    conf.write_text("rules:\n  - disable:\n      rule: '*'\n  - enable:\n      rule: 'Run shell*'\n")
    assert _enabled(_dry("-c", str(conf))[1]) == 1


@pytest.mark.parametrize(("flags", "fewer"), [(("-D", "shell"), True), (("--priority", "error"), True),
                                              ((), False)])
def test_command_line_selection(flags: tuple[str, ...], fewer: bool) -> None:
    everything = _enabled(_dry()[1])
    code, line = _dry(*flags)
    assert code == 0 and (_enabled(line) < everything) is fewer


def test_t_with_d_is_refused() -> None:
    code, line = _dry("-t", "shell", "-D", "x")
    assert code == 1 and "cannot be combined" in line
