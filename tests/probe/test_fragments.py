"""The probe is written as fragments (probe/*.bpf.c) that the loader joins in one order
(loader.FRAGMENTS): none is left out or joined twice, each stays small, and a compile error names
the fragment and its own line, not a place in the joined text."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tiercel.probe import loader

PROBE = Path(__file__).resolve().parents[2] / "probe"


def test_every_fragment_is_joined_once() -> None:
    assert len(set(loader.FRAGMENTS)) == len(loader.FRAGMENTS)
    assert set(loader.FRAGMENTS) == {p.name for p in PROBE.glob("*.bpf.c")}


@pytest.mark.parametrize("name", loader.FRAGMENTS)
def test_fragment_is_small(name: str) -> None:
    assert len((PROBE / name).read_text().splitlines()) <= 500


def test_the_source_is_the_fragments_in_order_each_after_its_line_directive() -> None:
    text = loader.probe_source(PROBE)
    expected = "".join(f'#line 1 "{PROBE / name}"\n' + (PROBE / name).read_text()
                       for name in loader.FRAGMENTS)
    assert text == expected


def test_probe_dir_wants_every_fragment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "probe"
    shutil.copytree(PROBE, copy)
    monkeypatch.setenv("TIERCEL_PROBE_DIR", str(copy))
    assert loader.probe_dir() == copy
    (copy / loader.FRAGMENTS[-1]).unlink()      # an incomplete copy is not the probe: the repo's is
    assert loader.probe_dir() != copy


@pytest.mark.live
def test_a_compile_error_names_the_fragment_and_its_line(tmp_path: Path) -> None:
    copy = tmp_path / "probe"
    shutil.copytree(PROBE, copy)
    fragment = copy / "kfilter_path.bpf.c"
    lines = fragment.read_text().splitlines(keepends=True)
    fragment.write_text("".join([*lines[:9], "int broken = undeclared_name;\n", *lines[9:]]))
    run = subprocess.run([sys.executable, "-m", "tiercel.cli", "capture", "--duration", "0",
                          "-w", str(tmp_path / "out.scap")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
                         env={**os.environ, "TIERCEL_PROBE_DIR": str(copy)})
    assert run.returncode == 2, run.stderr
    assert f"{fragment}:10:14: error: use of undeclared identifier 'undeclared_name'" in run.stderr
    assert "did not compile" in run.stderr
