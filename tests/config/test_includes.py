"""`config_files` (Falco's includes): `-o config_files=...` is taken before the files are included,
as Falco's load_cmdline_config_files; what cannot be read is one clear line each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiercel.config import ConfigError, load_config


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_o_config_files_is_taken(tmp_path: Path) -> None:
    main = _write(tmp_path / "main.yaml", "priority: warning\n")
    inc = _write(tmp_path / "inc.yaml", "priority: debug\n")
    assert load_config(main, [f"config_files={inc}"]).priority == "debug"
    assert load_config(main, [f"config_files=[{inc}]"]).priority == "debug"
    assert load_config(main, [f"config_files[0]={inc}"]).priority == "debug"
    assert load_config(None, [f"config_files={inc}"]).priority == "debug"
    # -o keys still win over what the included files say (they are applied after)
    assert load_config(main, [f"config_files={inc}", "priority=error"]).priority == "error"


def test_included_errors_are_lines_of_their_own(tmp_path: Path) -> None:
    inc = _write(tmp_path / "inc.yaml", "priority: [\n")
    main = _write(tmp_path / "main.yaml", f"config_files: [{inc}]\n")
    with pytest.raises(ConfigError) as e:
        load_config(main)
    assert "\\x0a" not in str(e.value)
    assert f"{inc}:2:1: not valid YAML" in str(e.value).splitlines()[1]


@pytest.mark.parametrize(("name", "expected"), [
    ("", "an empty path"),
    ("loop", "Too many levels of symbolic links"),
    ("x" * 300, "File name too long"),
    ("fifo", "a FIFO, not a regular file"),
])
def test_unreadable_includes(tmp_path: Path, name: str, expected: str) -> None:
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    os.mkfifo(tmp_path / "fifo")
    _write(tmp_path / "beside.yaml", "priority: debug\n")   # `""` must not include this
    main = _write(tmp_path / "main.yaml", f"config_files: ['{name}']\n")
    with pytest.raises(ConfigError) as e:
        load_config(main)
    lines = str(e.value).splitlines()
    assert len(lines) == 2 and expected in lines[1] and "Traceback" not in str(e.value)


def test_missing_is_a_warning(tmp_path: Path) -> None:
    main = _write(tmp_path / "main.yaml", "config_files: [nope.yaml]\n")
    cfg = load_config(main)
    assert any("nope.yaml does not exist; skipped" in w for w in cfg.warnings)
