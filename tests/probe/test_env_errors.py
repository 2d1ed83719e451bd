"""A host that cannot run the probe gets one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TIERCEL = [sys.executable, "-m", "tiercel.cli"]
CAPTURE = [*TIERCEL, "capture", "--duration", "0"]


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def assert_one_line(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("tiercel:")]
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_headers_missing(tmp_path: Path) -> None:
    assert_one_line(run([*CAPTURE, "--kernel-headers", str(tmp_path / "none")]), "kernel headers not found")


def test_not_root() -> None:
    # nobody must be able to read the interpreter and the project to get as far as our check
    result = run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", *CAPTURE])
    if "Permission denied" in result.stderr and "tiercel:" not in result.stderr:
        pytest.skip("this checkout is not readable by nobody")
    assert_one_line(result, "must run as root")


def test_bpf_denied() -> None:
    # root, but without the capabilities bpf() needs
    result = run(["setpriv", "--bounding-set", "-sys_admin,-bpf,-perfmon", *CAPTURE])
    assert_one_line(result, "refused bpf()")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_tracefs_absent() -> None:
    # a private mount namespace where tracefs and debugfs are unmounted; the host keeps them
    script = ("umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; "
              'exec "$@"')
    result = run(["unshare", "-m", "sh", "-c", script, "sh", *CAPTURE])
    assert_one_line(result, "tracefs is not mounted")
