"""Issue 27 row 4: a YAML file of millions of nodes (a 12 MB flow list, no aliases) is refused while
libyaml reads it, at the node past the limit, with a message naming that limit; a config file, a
rules file and an `-o` value alike. Before, it was composed first: 54 s and 3.8 GB."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.conftest import bounded, one_line
from tiercel.common.safeyaml import MAX_NODES
from tiercel.config import ConfigError, load_config
from tiercel.rules import load_rules

FLOW = "[" + ",".join(["ab"] * 4_000_000) + "]\n"           # 12 MB, 4 million scalars
BLOCK = "".join(f"- {i}\n" for i in range(MAX_NODES + 10))   # just past the limit, block style
LIMIT = f"more than {MAX_NODES} YAML nodes"


@pytest.mark.parametrize("text", [FLOW, BLOCK], ids=["flow_12MB", "block_past_limit"])
def test_config_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("rules_files: " + text if text is FLOW else "rules_files:\n" + text)
    with bounded(seconds=10, megabytes=300), pytest.raises(ConfigError) as e:
        load_config(path)
    assert LIMIT in str(e.value) and "refused while reading" in str(e.value)
    for line in str(e.value).splitlines():
        one_line(line)


def test_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("- list: x\n  items: " + FLOW)
    with bounded(seconds=10, megabytes=300):
        _, result = load_rules([str(path)])
        shown = result.render_text()
    assert len(result.errors) == 1 and LIMIT in shown
    assert len(shown) < 1000          # the caret's line is a window, not the 12 MB line


def test_override_value() -> None:
    with bounded(seconds=10, megabytes=300), pytest.raises(ConfigError) as e:
        load_config(None, ["rules_files=" + FLOW])
    assert LIMIT in str(e.value) and len(str(e.value)) < 1000


def test_under_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("rules_files: [" + ",".join(["/nonexistent"] * 1000) + "]\n")
    assert len(load_config(path).rules_files) == 1000
