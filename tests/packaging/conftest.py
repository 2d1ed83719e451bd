"""Slow packaging tests: build the binary once per run, pack it as the .deb, the .rpm and the image,
and test each.

They run last, and only when the time budget allows (CI stops a run after 90 minutes on a fresh
machine): before each artifact is built, the time already spent plus the build's expected cost is
compared with the budget, and a test that does not fit is skipped with a reason saying so (`-ra`
prints it, and a summary line lists what ran and what was skipped).

  TIERCEL_SLOW_TESTS=auto (default) | 1 (always) | 0 (never)
  TIERCEL_TIME_BUDGET=5400   seconds the whole CI run may take
  TIERCEL_SETUP_ALLOWANCE=900   seconds the run spent before pytest started (set-up on a fresh machine)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / ".build" / "test-logs"
SESSION_START = time.monotonic()
# Measured on the 2-core VM (docs/deploy.md): a cold Nuitka build, one with a warm ccache, the image once
# the binary exists (its base made by debootstrap, Debian's packages fetched, the root assembled), the
# .deb once the binary exists.
COLD_BINARY = 25 * 60
WARM_BINARY = 12 * 60
IMAGE = 6 * 60
DEB = 60
RPM = 60  # packing only, twice (the upgrade test's second release)
SBOM = 60  # the SBOMs and checksums, once the artefacts exist
RESERVE = 5 * 60  # what the slow tests themselves and the report need after the last build
ORDER = ("test_binary.py", "test_deb.py", "test_rpm.py", "test_image.py", "test_provenance.py")


@dataclass
class Budget:
    mode: str = field(default_factory=lambda: os.environ.get("TIERCEL_SLOW_TESTS", "auto"))
    total: float = field(default_factory=lambda: float(os.environ.get("TIERCEL_TIME_BUDGET", 90 * 60)))
    before: float = field(default_factory=lambda: float(os.environ.get("TIERCEL_SETUP_ALLOWANCE", 15 * 60)))
    notes: list[str] = field(default_factory=list)

    def left(self) -> float:
        return self.total - self.before - (time.monotonic() - SESSION_START)

    def require(self, what: str, cost: float) -> None:
        """Skip the calling test unless `what` (expected to take `cost` seconds) fits the budget."""
        if self.mode == "0":
            self.skip(f"{what}: TIERCEL_SLOW_TESTS=0")
        if self.mode != "1" and cost + RESERVE > self.left():
            self.skip(f"{what}: time budget: needs ~{cost / 60:.0f} min (+{RESERVE / 60:.0f} reserve), "
                      f"{max(self.left(), 0) / 60:.0f} min left of {self.total / 60:.0f} "
                      "(TIERCEL_SLOW_TESTS=1 runs it anyway)")

    def skip(self, reason: str) -> None:
        self.notes.append(f"SKIPPED {reason}")
        pytest.skip(reason)


BUDGET = Budget()
BUILD_TIMEOUT = 75 * 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Packaging tests last (binary, .deb, image), so the budget check sees the rest's time."""
    def key(item: pytest.Item) -> int:
        name = item.path.name if item.path.parent.name == "packaging" else ""
        return ORDER.index(name) + 1 if name in ORDER else 0
    items.sort(key=key)  # stable: everything else keeps its order
    for item in items:
        if key(item):
            # a build runs inside the first test that needs it (a session fixture), and a cold image
            # build takes longer than the suite's per-test timeout; the builds bound their own time
            item.add_marker(pytest.mark.timeout(BUILD_TIMEOUT))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if BUDGET.notes:
        terminalreporter.section("packaging (slow tests)")
        for line in dict.fromkeys(BUDGET.notes):
            terminalreporter.write_line(line)


def build(script: str, log_name: str, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a ci/ build script, its output kept in .build/test-logs/; fail with the log's tail."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / log_name
    start = time.monotonic()
    with log.open("w") as f:
        proc = subprocess.run([str(ROOT / "ci" / script)], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False, env={**os.environ, **(env or {})})
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, f"ci/{script} failed ({log}):\n" + "\n".join(text.splitlines()[-40:])
    BUDGET.notes.append(f"ran ci/{script} in {time.monotonic() - start:.0f} s: "
                        + (text.strip().splitlines() or [""])[-1])
    return text


def need_root_tools() -> None:
    if os.geteuid() != 0:
        BUDGET.skip("packaging tests need root")
    for tool in ("gcc", "dpkg-deb"):
        if not shutil.which(tool):
            BUDGET.skip(f"packaging tests need {tool}")


@pytest.fixture(scope="session")
def binary_dist() -> Path:
    """dist/ with the onefile binary and the standalone folder, built once per run (or reused)."""
    need_root_tools()
    cache = Path(os.environ.get("CCACHE_DIR", "/var/cache/tiercel/ccache"))  # ci/build-binary.sh's
    warm = cache.is_dir() and any(cache.iterdir())
    BUDGET.require("Nuitka binary build", WARM_BINARY if warm else COLD_BINARY)
    build("build-binary.sh", "build-binary.log", timeout=60 * 60)
    assert (ROOT / "dist" / "tiercel").is_file()
    assert (ROOT / "dist" / "tiercel.dist" / "tiercel.bin").is_file()
    # the .deb, the .rpm and the image of this run carry this binary, even if the tree changes meanwhile
    os.environ["TIERCEL_BINARY_BUILT"] = "1"
    return ROOT / "dist"


@pytest.fixture(scope="session")
def deb_file(binary_dist: Path) -> Path:
    BUDGET.require(".deb build", DEB)
    build("build-deb.sh", "build-deb.log", timeout=10 * 60)
    (deb,) = sorted(binary_dist.glob("tiercel_*.deb"))[-1:]
    return deb


def built_path(log: str, script: str) -> Path:
    """The artefact a ci/build-*.sh names in its last line ("... built dist/x (15M) in 3 s")."""
    found = re.search(rf"tiercel {script}: built (\S+) ", log)
    assert found, log[-2000:]
    return ROOT / found.group(1)


@pytest.fixture(scope="session")
def rpm_file(binary_dist: Path) -> Path:
    BUDGET.require(".rpm build", RPM)
    if not shutil.which("setpriv"):
        BUDGET.skip("the .rpm tests need setpriv (util-linux)")
    return built_path(build("build-rpm.sh", "build-rpm.log", timeout=10 * 60), "build-rpm")


@pytest.fixture(scope="session")
def next_rpm_file(rpm_file: Path) -> Iterator[Path]:
    """The next release of the same build, for the upgrade test; removed after the run."""
    env = {"TIERCEL_RPM_RELEASE": "2", "TIERCEL_RPM_DIR": ".build/rpm-next"}  # not among the artefacts
    path = built_path(build("build-rpm.sh", "build-rpm-2.log", timeout=10 * 60, env=env), "build-rpm")
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def image(binary_dist: Path) -> Iterator[str]:
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        BUDGET.skip("image test: no Docker engine answers")
    BUDGET.require("container image build", IMAGE)
    build("build-image.sh", "build-image.log", timeout=60 * 60)
    yield "tiercel:latest"


def wait_for(pred, timeout: float, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())


@pytest.fixture(scope="session")
def provenance(binary_dist: Path, deb_file: Path, rpm_file: Path) -> Path:
    """dist/ with SHA256SUMS and the SBOMs (ci/build-sbom.sh), once the artefacts are built; the
    image's too when the image test has built it."""
    BUDGET.require("SBOMs and checksums", SBOM)
    build("build-sbom.sh", "build-sbom.log", timeout=10 * 60)
    return binary_dist
