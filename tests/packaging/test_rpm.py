"""The .rpm (ci/build-rpm.sh), from the same binary as the .deb: what rpm says it holds and needs,
an install into an empty root (`rpm -i --root DIR --nodeps`: no Fedora host here) whose binary runs
from there, an upgrade that keeps an edited config, an erase that removes what it installed and
nothing else, and a live run with exactly the systemd unit's capabilities."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.packaging.agentproc import AgentProcess
from tests.packaging.readme import install_line

pytestmark = [pytest.mark.slow, pytest.mark.live]
REGRESSION = "falco-regression/test"  # under the oracle directory
UNIT = "usr/lib/systemd/system/tiercel.service"
FILES = ("/usr/bin/tiercel", "/usr/lib/tiercel/tiercel.bin", "/etc/tiercel/tiercel.yaml",
         "/etc/tiercel/rules.d/tiercel_rules.yaml", f"/{UNIT}", "/usr/share/doc/tiercel/README.md")


def rpm(*argv: str) -> str:
    p = subprocess.run(["rpm", *argv], capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, f"rpm {' '.join(argv)}: {p.stdout}{p.stderr}"
    return p.stdout


def built_commit(binary_dist: Path) -> str:
    out = subprocess.run([str(binary_dist / "tiercel.dist" / "tiercel.bin"), "--version"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    found = re.search(r"\(commit ([^)]+)\)", out.splitlines()[0])
    assert found, out
    return found.group(1)


def test_rpm_names_its_files_requirements_and_build(rpm_file: Path, binary_dist: Path) -> None:
    assert install_line("dnf")[-1] == f"./{rpm_file.name}"  # the README's line names this file
    info = rpm("-qip", str(rpm_file))
    assert re.search(r"^Name\s*: tiercel$", info, re.M), info
    commit = built_commit(binary_dist)
    assert rpm("-qp", "--qf", "%{VCS}", str(rpm_file)).endswith(f"#{commit}")  # the binary's build
    assert f"commit {commit}" in info
    files = rpm("-qlp", str(rpm_file)).split()
    for path in FILES:
        assert path in files
    configs = rpm("-qcp", str(rpm_file)).split()
    assert "/etc/tiercel/tiercel.yaml" in configs and "/etc/tiercel/rules.d/tiercel_rules.yaml" in configs
    assert not [c for c in configs if not c.startswith("/etc/tiercel/")]
    # noreplace: rpm's file flags in the header (RPMFILE_CONFIG 1, RPMFILE_NOREPLACE 16)
    flags = rpm("-qp", "--qf", "[%{FILEFLAGS} %{FILENAMES}\n]", str(rpm_file)).splitlines()
    assert all(int(f.split()[0]) & 17 == 17 for f in flags if f.split()[1] in configs)

    requires = rpm("-qp", "--requires", str(rpm_file)).splitlines()
    assert "(bcc or libbcc0)" in requires
    assert any(r.startswith("libc.so.6(GLIBC_2.") for r in requires), requires
    # nothing that the folder bundles itself (AutoReqProv off), nor any shell for the scriptlets
    assert not [r for r in requires if "python" in r or r.startswith(("/bin/", "libssl", "libz"))]
    assert "(kernel-devel or kernel-default-devel)" in rpm("-qp", "--recommends", str(rpm_file))
    assert not rpm("-qp", "--provides", str(rpm_file)).count(".so")
    scripts = rpm("-qp", "--scripts", str(rpm_file))
    assert "postinstall scriptlet (using <lua>)" in scripts
    # nothing is enabled or started: only reload, stop and disable on erase, restart what runs
    assert set(re.findall(r"systemctl (?:--no-reload )?([\w-]+)", scripts)) == {
        "daemon-reload", "disable", "try-restart"}


def test_rpm_installs_into_an_empty_root_runs_upgrades_and_erases(
        rpm_file: Path, next_rpm_file: Path, oracles: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    rpm("-i", "--root", str(root), "--nodeps", str(rpm_file))
    assert rpm("-q", "--root", str(root), "tiercel").startswith("tiercel-")
    for path in FILES:
        assert (root / path.lstrip("/")).exists(), path
    assert (root / UNIT).read_text() == (Path(__file__).parents[2] / "ci/deb/tiercel.service").read_text()

    # The installed binary, from the root it was installed into: --version and a replay with alerts.
    tiercel = str(root / "usr/bin/tiercel")
    version = subprocess.run([tiercel, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert version.returncode == 0 and version.stdout.startswith("tiercel 0."), version.stderr
    suite = oracles / REGRESSION
    replay = subprocess.run([tiercel, "run", "-e", str(suite / "trace_files" / "cat_write.scap"),
                             "-r", str(suite / "rules" / "single_rule.yaml")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert replay.returncode == 0, replay.stderr
    assert "Events detected: 8" in replay.stderr
    assert {json.loads(x)["rule"] for x in replay.stdout.splitlines()} == {"open_from_cat"}

    # An upgrade to the next release keeps an edited config; the erase keeps what it did not install.
    config = root / "etc/tiercel/tiercel.yaml"
    config.write_text(config.read_text() + "\n# edited by the admin\n")
    own = root / "etc/tiercel/local.yaml"
    own.write_text("# the admin's own file\n")
    rpm("-U", "--root", str(root), "--nodeps", str(next_rpm_file))
    assert rpm("-q", "--root", str(root), "tiercel").strip().endswith("-2.x86_64")
    assert config.read_text().endswith("# edited by the admin\n")

    dbpath = rpm("--eval", "%{_dbpath}").strip().lstrip("/")
    rpm("-e", "--root", str(root), "tiercel")
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not str(p.relative_to(root)).startswith(dbpath))
    # rpm keeps an edited config as .rpmsave, and never touches a file it did not install
    assert left == ["etc/tiercel/local.yaml", "etc/tiercel/tiercel.yaml.rpmsave"], left
    assert not (root / "usr/lib/tiercel").exists() and not (root / "usr/bin/tiercel").exists()


def unit_capabilities() -> list[str]:
    unit = (Path(__file__).parents[2] / "ci/deb/tiercel.service").read_text()
    (line,) = [x for x in unit.splitlines() if x.startswith("CapabilityBoundingSet=")]
    return line.split("=", 1)[1].split()


def test_the_units_capabilities_are_enough_to_detect(rpm_file: Path, tmp_path: Path) -> None:
    """The agent from the .rpm, run as root with only the unit's capability bounding set and
    no-new-privileges (what systemd applies), attaches its probe and alerts."""
    root = tmp_path / "root"
    root.mkdir()
    rpm("-i", "--root", str(root), "--nodeps", "--noscripts", str(rpm_file))
    caps = unit_capabilities()
    assert "CAP_SYS_ADMIN" in caps and "CAP_NET_ADMIN" not in caps
    keep = ",".join("+" + c.removeprefix("CAP_").lower() for c in caps)
    agent = AgentProcess(["setpriv", "--bounding-set", f"-all,{keep}", "--inh-caps", "-all", "--no-new-privs",
                          str(root / "usr/bin/tiercel"), "run", "-r",
                          str(root / "etc/tiercel/rules.d/tiercel_rules.yaml"), "--duration", "60"])
    try:
        agent.wait_ready()
        status = Path(f"/proc/{agent.proc.pid}/status").read_text()
        (capbnd,) = [int(x.split()[1], 16) for x in status.splitlines() if x.startswith("CapBnd:")]
        assert capbnd & (1 << 12) == 0  # CAP_NET_ADMIN is gone from the agent's bounding set
        subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        agent.wait_alert("Read sensitive file untrusted", timeout=10, **{"fd.name": "/etc/shadow"})
    finally:
        agent.stop()
