"""The wheel (`pip install .`) carries the probe source and the default rules, and the installed
code finds them there: tiercel/probe/bpf/ and tiercel/default_rules/ (setup.py, MANIFEST.in).

Built from a copy of the checkout, so the build's own files never land in the working tree; run
from the unpacked wheel, which is what a non-editable install puts in site-packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tiercel.probe.loader import FRAGMENTS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", "probe", "rules")
SHIPPED = {
    **{f"tiercel/probe/bpf/{name}": ROOT / "probe" / name for name in FRAGMENTS},
    "tiercel/probe/bpf/events.h": ROOT / "probe" / "events.h",
    "tiercel/default_rules/tiercel_rules.yaml": ROOT / "rules" / "tiercel_rules.yaml",
    "tiercel/default_rules/incubating/tiercel_incubating_rules.yaml":
        ROOT / "rules" / "incubating" / "tiercel_incubating_rules.yaml",
}
FIND = """
import tiercel.config.schema as schema, tiercel.probe.loader as loader
print(loader.probe_dir()); print(schema.DEFAULT_RULES)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("setuptools")
    tmp = tmp_path_factory.mktemp("wheel")
    tree = tmp / "tree"
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            tree.mkdir(exist_ok=True)
            shutil.copy2(src, tree / name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                          "--no-index", "--disable-pip-version-check", "-w", str(tmp / "dist"), str(tree)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    (found,) = (tmp / "dist").glob("tiercel-*.whl")
    return found


def test_the_wheel_ships_the_probe_and_the_default_rules(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        for name, source in SHIPPED.items():
            assert z.read(name) == source.read_bytes(), name


def test_the_installed_code_finds_them_in_the_package(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    run = subprocess.run([sys.executable, "-c", FIND], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, check=False)
    assert run.returncode == 0, run.stderr
    probe, rules = map(Path, run.stdout.splitlines())
    assert probe == site / "tiercel" / "probe" / "bpf"
    assert all((probe / name).is_file() for name in FRAGMENTS)
    assert rules == site / "tiercel" / "default_rules" and (rules / "tiercel_rules.yaml").is_file()
