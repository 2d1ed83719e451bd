"""The .deb (ci/build-deb.sh): installs with dpkg -i once its dependencies are installed with apt,
runs from /usr/bin/tiercel with the packaged config and rules (no systemctl needed), and purge
removes every file it installed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.packaging.agentproc import AgentProcess

pytestmark = [pytest.mark.slow, pytest.mark.live]


def sh(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def deb_field(deb: Path, name: str) -> str:
    return sh("dpkg-deb", "-f", str(deb), name).stdout.strip()


def test_deb_installs_runs_and_purges(deb_file: Path) -> None:
    if sh("dpkg", "-s", "tiercel").returncode == 0:
        pytest.skip("a tiercel package is already installed on this host: not touching it")
    depends = deb_field(deb_file, "Depends")
    assert "libbpfcc" in depends and "linux-headers-" in depends
    files = sh("dpkg-deb", "-c", str(deb_file)).stdout
    for path in ("./usr/bin/tiercel", "./usr/lib/tiercel/tiercel.bin", "./etc/tiercel/tiercel.yaml",
                 "./etc/tiercel/rules.d/tiercel_rules.yaml", "./lib/systemd/system/tiercel.service"):
        assert path in files

    # Its dependencies from the archive (the first alternative of each), then the package itself.
    deps = [d.split("|")[0].split("(")[0].strip() for d in depends.split(",")]
    missing = [d for d in deps if sh("dpkg", "-s", d).returncode != 0]
    if missing:
        p = sh("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing)
        assert p.returncode == 0, p.stderr
    p = sh("dpkg", "-i", str(deb_file))
    try:
        assert p.returncode == 0, p.stdout + p.stderr
        assert sh("dpkg", "-s", "tiercel").stdout.count("Status: install ok installed") == 1
        version = sh("/usr/bin/tiercel", "--version")
        assert version.returncode == 0 and version.stdout.startswith("tiercel "), version.stderr

        # The service's command line, started by hand: packaged config -> /etc/tiercel/rules.d.
        agent = AgentProcess(["/usr/bin/tiercel", "run", "-c", "/etc/tiercel/tiercel.yaml",
                              "--duration", "60"])
        try:
            agent.wait_ready()
            subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
            agent.wait_alert("Read sensitive file untrusted", timeout=10, **{"fd.name": "/etc/shadow"})
        finally:
            agent.stop()
    finally:
        purge = sh("dpkg", "--purge", "tiercel")
    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert sh("dpkg", "-s", "tiercel").returncode != 0
    for gone in ("/usr/bin/tiercel", "/usr/lib/tiercel", "/etc/tiercel",
                 "/lib/systemd/system/tiercel.service"):
        assert not Path(gone).exists(), gone
