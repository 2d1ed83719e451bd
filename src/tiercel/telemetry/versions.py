"""`/versions`: what is running, as JSON (Falco's web server has the same endpoint).

    {"version": "0.1.0", "tiercel_version": "0.1.0", "engine_version": "0.57.0",
     "engine_version_semver": "0.57.0", "git_commit": "3644e01a2b3c", "python_version": "3.11.2"}

`engine_version` is the Falco rules engine version whose rule files tiercel loads unchanged (what a
rules file's `required_engine_version` is checked against); `git_commit` is the build's commit
(written into the binary by ci/build-binary.sh), else the checkout's, else "unknown".
"""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path

import tiercel
from tiercel.rules.files.definitions import ENGINE_VERSION


@functools.cache
def git_commit() -> str:
    try:
        from tiercel_build_info import COMMIT
        return str(COMMIT)
    except ImportError:
        pass
    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def engine_version() -> str:
    return ".".join(str(n) for n in ENGINE_VERSION)


def versions() -> dict[str, str]:
    return {"version": tiercel.__version__, "tiercel_version": tiercel.__version__,
            "engine_version": engine_version(), "engine_version_semver": engine_version(),
            "git_commit": git_commit(), "python_version": platform.python_version()}
