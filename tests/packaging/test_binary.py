"""The Nuitka binary (ci/build-binary.sh), run as users run it: --version, validate, replay of a
Falco regression capture (same alerts as the Python package), and a live run as root."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.agentproc import AgentProcess
from tests.packaging.readme import install_line
from tiercel.probe.loader import FRAGMENTS

pytestmark = [pytest.mark.slow, pytest.mark.live]

ROOT = Path(__file__).resolve().parents[2]
REGRESSION = "falco-regression/test"  # under the oracle directory
FORBIDDEN = ("rich", "pygments", "markdown_it", "cryptography", "numpy", "pydantic", "pydantic_core")


def run(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(params=["onefile", "standalone"])
def tiercel(request: pytest.FixtureRequest, binary_dist: Path) -> str:
    onefile = request.param == "onefile"
    return str(binary_dist / "tiercel" if onefile else binary_dist / "tiercel.dist" / "tiercel.bin")


def test_version_reports_commit_bcc_and_kernel(tiercel: str) -> None:
    p = run([tiercel, "--version"])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("tiercel 0.") and "(commit " in lines[0] and "unknown" not in lines[0]
    assert lines[1].startswith("bcc: 0.") and "loaded" in lines[1]
    assert lines[2].startswith(f"kernel: {platform.release()}")


def test_the_binary_leaves_out_what_it_does_not_need(binary_dist: Path) -> None:
    names = {p.name.split(".")[0] for p in (binary_dist / "tiercel.dist").iterdir()}
    assert not names & set(FORBIDDEN)
    probe = binary_dist / "tiercel.dist" / "tiercel" / "probe" / "bpf"
    assert all((probe / name).is_file() for name in (*FRAGMENTS, "events.h"))
    assert (binary_dist / "tiercel.dist" / "tiercel" / "default_rules").is_dir()
    # libbcc stays the system's library (the image and the .deb depend on libbpfcc).
    assert not list((binary_dist / "tiercel.dist").glob("libbcc*"))


def test_validate_default_rules(tiercel: str) -> None:
    p = run([tiercel, "validate", str(ROOT / "rules")])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 errors" in p.stdout + p.stderr


def test_help_is_plain_text_without_rich(tiercel: str) -> None:
    p = run([tiercel, "run", "--nonexistent-flag"])
    assert p.returncode == 2 and "No such option" in p.stderr
    assert "╭" not in p.stderr


def test_replay_matches_the_python_package(oracles: Path, binary_dist: Path) -> None:
    suite = oracles / REGRESSION
    argv = ["run", "-e", str(suite / "trace_files" / "cat_write.scap"),
            "-r", str(suite / "rules" / "single_rule.yaml")]
    got = run([str(binary_dist / "tiercel"), *argv])
    want = run([sys.executable, "-m", "tiercel.cli", *argv])
    assert got.returncode == 0, got.stderr
    assert "Events detected: 8" in got.stderr
    alerts = [json.loads(x) for x in got.stdout.splitlines()]
    assert alerts == [json.loads(x) for x in want.stdout.splitlines()]


def test_live_run_alerts_on_reading_etc_shadow(binary_dist: Path) -> None:
    program, *args = install_line("./tiercel")  # the README's line, run from dist/
    agent = AgentProcess([str(binary_dist / program), *args, "--duration", "60"])
    try:
        agent.wait_ready()
        subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        _, alert = agent.wait_alert("Read sensitive file untrusted", timeout=10,
                                    **{"fd.name": "/etc/shadow", "proc.cmdline": "cat /etc/shadow"})
        assert alert["priority"] == "Warning" and alert["source"] == "syscall"
    finally:
        agent.stop()
