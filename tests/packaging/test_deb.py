"""The .deb (ci/build-deb.sh): installs as the README says (apt-get install ./file, which brings its
dependencies),
runs from /usr/bin/tiercel with the packaged config and rules (no systemctl needed), and purge
removes every file it installed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.packaging.agentproc import AgentProcess
from tests.packaging.readme import install_line

pytestmark = [pytest.mark.slow, pytest.mark.live]


def sh(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def deb_field(deb: Path, name: str) -> str:
    return sh("dpkg-deb", "-f", str(deb), name).stdout.strip()


def test_deb_installs_runs_and_purges(deb_file: Path) -> None:
    if sh("dpkg", "-s", "tiercel").returncode == 0:
        pytest.skip("a tiercel package is already installed on this host: not touching it")
    built = sh(str(deb_file.parent / "tiercel.dist" / "tiercel.bin"), "--version").stdout.split("\n")[0]
    assert f"(commit {deb_field(deb_file, 'X-Vcs-Commit')})" in built  # the build it carries
    depends = deb_field(deb_file, "Depends")
    assert "libbpfcc" in depends and "linux-headers-" in depends
    files = sh("dpkg-deb", "-c", str(deb_file)).stdout
    for path in ("./usr/bin/tiercel", "./usr/lib/tiercel/tiercel.bin", "./etc/tiercel/tiercel.yaml",
                 "./etc/tiercel/rules.d/tiercel_rules.yaml", "./lib/systemd/system/tiercel.service"):
        assert path in files

    # The README's line: apt-get installs the file and its dependencies from the archive.
    readme = install_line("apt-get")
    assert readme[-1] == f"./{deb_file.name}", readme
    p = sh(*readme[:-1], "-y", "-qq", "--no-install-recommends", str(deb_file))
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
