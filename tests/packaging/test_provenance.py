"""Provenance a user can check (ci/build-sbom.sh): SHA256SUMS beside the artefacts, and CycloneDX
SBOMs that name every Python distribution compiled into the binary and every Debian package it and
the image are made of, with versions, and the build's commit."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]
# distributions the agent imports at run time: the SBOM must name them, with the build venv's version
RUNTIME = ("orjson", "pyyaml", "typer", "docker", "grpcio", "protobuf", "google-re2", "prometheus-client")


def first_line(binary: Path) -> str:
    """The first line of `--version`: "tiercel 0.1.0 (commit 1b57ed4ae062)"."""
    return subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60,
                          check=True).stdout.splitlines()[0]


def test_checksums_cover_every_artefact(provenance: Path) -> None:
    sums = (provenance / "SHA256SUMS").read_text()
    named = {line.split()[1] for line in sums.splitlines()}
    assert "tiercel" in named
    assert any(n.endswith(".deb") for n in named) and any(n.endswith(".rpm") for n in named)
    assert any(n.endswith(".cdx.json") for n in named)
    check = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=provenance,
                           capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def components(sbom: Path) -> dict[str, str]:
    doc = json.loads(sbom.read_text())
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    return {c["purl"].split("@")[0]: c["version"] for c in doc["components"]}


def test_the_binarys_sbom_names_its_python_and_debian_packages(provenance: Path) -> None:
    line = first_line(provenance / "tiercel.dist" / "tiercel.bin")
    found = re.match(r"tiercel (\S+) \(commit ([^)]+)\)", line)
    assert found, line
    version, commit = found.groups()
    sbom = provenance / f"tiercel-{version}.cdx.json"
    doc = json.loads(sbom.read_text())
    root = doc["metadata"]["component"]
    assert root["name"] == "tiercel" and root["version"] == version
    assert {"name": "tiercel:commit", "value": commit} in root["properties"]
    comps = components(sbom)
    venv = Path(__file__).parents[2] / ".build" / "venv" / "bin" / "python"
    for dist in RUNTIME:
        # where the build venv has it: pip's (a PyPI component) or Debian's (the package's component)
        got = subprocess.run([str(venv), "-c", "import importlib.metadata as m; d = m.distribution("
                              f"{dist!r}); print(d.version, d.locate_file(''), d.metadata['Name'])"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.split()
        if "/dist-packages" in got[1]:
            owner = subprocess.run(["dpkg", "-S", f"*/{got[2]}-{got[0]}*-info"], capture_output=True,
                                   text=True, timeout=60, check=False).stdout
            assert any(f"pkg:deb/debian/{line.split(':')[0]}" in comps for line in owner.splitlines()), dist
        else:
            assert comps.get(f"pkg:pypi/{dist}") == got[0], dist
    assert "pkg:pypi/pydantic" not in comps and "pkg:pypi/numpy" not in comps  # left out of the build
    # the Python runtime and BCC's Python module are Debian's
    debs = {k.split("/")[-1]: v for k, v in comps.items() if k.startswith("pkg:deb/")}
    assert "python3-bpfcc" in debs and any(d.startswith("libpython3.11") for d in debs), sorted(debs)
    dpkg = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "python3-bpfcc"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    assert debs["python3-bpfcc"] == dpkg


def test_the_images_sbom_names_bcc_and_its_llvm(provenance: Path) -> None:
    images = sorted(provenance.glob("tiercel-image-*.cdx.json"))
    if not images:
        pytest.skip("no image of this build (the image test did not run)")
    debs = {k.split("/")[-1] for k in components(images[-1]) if k.startswith("pkg:deb/")}
    assert {"libbpfcc", "libllvm14", "libclang-cpp14", "libc6"} <= debs, sorted(debs)
    assert not debs & {"apt", "dpkg", "perl-base", "gcc-12"}
