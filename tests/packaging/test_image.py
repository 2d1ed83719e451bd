"""The container image (ci/build-image.sh) run as the agent, the way docs/deploy.md says (with
--cap-add SYS_ADMIN instead of --privileged, which these VMs cannot start): a shell started in
another container is reported, with that container's fields, within two seconds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zlib
from datetime import datetime
from pathlib import Path

import pytest

from tests.packaging.agentproc import AgentProcess
from tests.packaging.readme import install_line

pytestmark = [pytest.mark.slow, pytest.mark.live]
DOCKER = "/usr/bin/docker"
SHELL_IMAGE = "tiercel-test/busybox:1"  # made by ci/test-deps.sh


def image_tag(image: str) -> str:
    """tiercel:<version>, the tag the README names (the build tags tiercel:latest too)."""
    label = '{{index .Config.Labels "org.opencontainers.image.version"}}'
    return "tiercel:" + docker("image", "inspect", "-f", label, image).stdout.strip()


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=120, check=False)


def alert_time(alert: dict[str, object]) -> float:
    text = str(alert["time"])  # 2026-01-01T12:00:00.123456789Z: nanoseconds, cut to micro
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00").timestamp()


def test_image_size_and_contents(image: str, binary_dist: Path) -> None:
    p = docker("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c",
               "/usr/bin/tiercel --version; ls /etc/tiercel/rules.d; "
               "for c in python3 gcc apt-get dpkg perl bash; do command -v $c || true; done")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("tiercel 0.") and "bcc: 0." in p.stdout and "loaded" in p.stdout
    assert "tiercel_rules.yaml" in p.stdout
    assert "python3" in p.stdout  # the event generator's helper processes
    for gone in ("gcc", "apt-get", "dpkg", "perl", "bash"):  # no build stage, no package manager
        assert f"/{gone}\n" not in p.stdout, p.stdout
    # the same build as the packages: the binary's commit, also in the image's labels
    built = subprocess.run([str(binary_dist / "tiercel.dist" / "tiercel.bin"), "--version"],
                           capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()[0]
    assert p.stdout.splitlines()[0] == built
    labels = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", image).stdout)
    assert f"(commit {labels['org.opencontainers.image.revision']})" in built
    size = int(docker("image", "inspect", "-f", "{{.Size}}", image).stdout)
    assert size < 300e6, f"{size / 1e6:.0f} MB"
    assert gzipped_size(image) < 120e6


def gzipped_size(image: str) -> int:
    """At most what a registry stores (its layers gzipped): docker save's tar, gzipped at level 1 as it
    streams (a few times faster than the registries' level 6, and larger: 99 MB against 89)."""
    with subprocess.Popen([DOCKER, "save", image], stdout=subprocess.PIPE) as save:
        assert save.stdout is not None
        z, total = zlib.compressobj(1, zlib.DEFLATED, 31), 0
        while chunk := save.stdout.read(1 << 20):
            total += len(z.compress(chunk))
        total += len(z.flush())
    assert save.returncode == 0
    return total


def test_agent_container_reports_a_shell_in_another_container(image: str) -> None:
    if not shutil.which("script"):
        pytest.skip("script(1) is needed to give docker exec a terminal")
    if docker("image", "inspect", SHELL_IMAGE).returncode != 0:
        pytest.skip(f"{SHELL_IMAGE} is missing (ci/test-deps.sh makes it)")
    agent_name, target = f"tiercel-agent-{os.getpid()}", f"tiercel-shell-{os.getpid()}"
    # The README's line, in the foreground (--rm instead of -d), named for this test, without a network.
    readme = install_line("docker")
    assert readme[-1] == image_tag(image), readme
    options = readme[2:-1]
    options[options.index("--name") + 1] = agent_name
    options.remove("-d")
    agent = AgentProcess([DOCKER, "run", "--rm", "--network", "none", *options, image])
    try:
        agent.wait_ready(timeout=120)
        full = docker("run", "-d", "--network", "none", "--name", target, SHELL_IMAGE, "sleep", "300")
        assert full.returncode == 0, full.stderr
        cid = full.stdout.strip()[:12]
        # an interactive shell needs a terminal: script(1) gives `docker exec -it` one
        subprocess.run(["script", "-qec", f"{DOCKER} exec -it {target} sh -c 'exit 0'", "/dev/null"],
                       check=True, capture_output=True, timeout=60)
        received, alert = agent.wait_alert("Terminal shell in container", timeout=10,
                                           **{"container.id": cid})
        fields = alert["output_fields"]
        assert fields["container.name"] == target
        assert str(fields["container.image"]).startswith("tiercel-test/busybox")
        assert fields["proc.name"] == "sh"
        assert received - alert_time(alert) < 2.0, (received, alert["time"])
    finally:
        docker("rm", "-f", target)
        docker("stop", "-t", "20", agent_name)
        agent.stop()
