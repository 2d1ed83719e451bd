"""The container image (ci/build-image.sh) run as the agent, the way docs/deploy.md says (with
--cap-add SYS_ADMIN instead of --privileged, which these VMs cannot start): a shell started in
another container is reported, with that container's fields, within two seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime

import pytest

from tests.packaging.agentproc import AgentProcess

pytestmark = [pytest.mark.slow, pytest.mark.live]
DOCKER = "/usr/bin/docker"
SHELL_IMAGE = "tiercel-test/busybox:1"  # made by ci/test-deps.sh
MOUNTS = ["-v", "/proc:/host/proc:ro", "-v", "/sys/kernel/tracing:/sys/kernel/tracing",
          "-v", "/sys/kernel/debug:/sys/kernel/debug", "-v", "/lib/modules:/lib/modules:ro",
          "-v", "/usr/src:/usr/src:ro", "-v", "/var/run/docker.sock:/host/var/run/docker.sock:ro"]


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=120, check=False)


def alert_time(alert: dict[str, object]) -> float:
    text = str(alert["time"])  # 2026-01-01T12:00:00.123456789Z: nanoseconds, cut to micro
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00").timestamp()


def test_image_size_and_contents(image: str) -> None:
    p = docker("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c",
               "/usr/bin/tiercel --version; ls /etc/tiercel/rules.d; command -v python3 gcc || true")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("tiercel 0.") and "bcc: 0." in p.stdout and "loaded" in p.stdout
    assert "tiercel_rules.yaml" in p.stdout
    assert "gcc" not in p.stdout  # the build stage stays behind


def test_agent_container_reports_a_shell_in_another_container(image: str) -> None:
    if not shutil.which("script"):
        pytest.skip("script(1) is needed to give docker exec a terminal")
    if docker("image", "inspect", SHELL_IMAGE).returncode != 0:
        pytest.skip(f"{SHELL_IMAGE} is missing (ci/test-deps.sh makes it)")
    agent_name, target = f"tiercel-agent-{os.getpid()}", f"tiercel-shell-{os.getpid()}"
    agent = AgentProcess([DOCKER, "run", "--rm", "--name", agent_name, "--network", "none", "--pid", "host",
                          "--cap-add", "SYS_ADMIN", *MOUNTS, image])
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
