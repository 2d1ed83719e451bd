"""The alert's hostname: TIERCEL_HOSTNAME or FALCO_HOSTNAME where set, else the host's name, also for
an agent in a container (its own UTS namespace) that sees the host's /proc."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tiercel.common import node

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("env", "expected"), [
    ({"TIERCEL_HOSTNAME": "node-a", "FALCO_HOSTNAME": "node-b"}, "node-a"),
    ({"FALCO_HOSTNAME": "node-b"}, "node-b"),
    ({"TIERCEL_HOSTNAME": "  ", "FALCO_HOSTNAME": "node-b"}, "node-b"),
], ids=["tiercel first", "falco's", "blank is unset"])
def test_environment_names_the_node(env: dict[str, str], expected: str) -> None:
    assert node.hostname(env, Path("/proc")) == expected


def test_without_environment_the_host_name() -> None:
    assert node.hostname({}, Path("/proc")) == socket.gethostname()


def test_host_etc_hostname_when_its_namespace_cannot_be_entered(tmp_path: Path) -> None:
    (tmp_path / "1" / "root" / "etc").mkdir(parents=True)
    (tmp_path / "1" / "root" / "etc" / "hostname").write_text("worker-7\n")
    assert node.hostname({}, tmp_path) == "worker-7"


def test_nothing_readable_falls_back_to_our_own_name(tmp_path: Path) -> None:
    assert node.hostname({}, tmp_path) == socket.gethostname()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("docker") is None, reason="needs root and Docker")
def test_agent_in_a_container_reports_the_host() -> None:
    """In a container named `inner` with the host's /proc at /host/proc, the host's name comes from a
    host process's UTS namespace. (This machine's PID 1 hides its namespaces even from root, so the
    test points the agent's `1` at dockerd, a host process, as /host/proc/1 would be on a node.)"""
    dockerd = subprocess.run(["pgrep", "-o", "dockerd"], capture_output=True, text=True).stdout.strip()
    image = "tiercel-test/busybox:1"
    if not dockerd or subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
        pytest.skip("no dockerd or test image (ci/test-deps.sh)")
    script = ("import sys, os, socket; sys.path.insert(0, '/src'); from pathlib import Path; "
              "from tiercel.common import node; os.makedirs('/tmp/hp'); "
              f"os.symlink('/host/proc/{dockerd}', '/tmp/hp/1'); "
              "print(socket.gethostname(), node.hostname({}, Path('/tmp/hp')))")
    out = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--hostname", "inner", "--cap-add", "SYS_ADMIN",
         "--cap-add", "SYS_PTRACE", "--pid", "host", "-v", "/proc:/host/proc:ro", "-v", "/usr:/usr:ro",
         "-v", "/usr/lib64:/lib64:ro", "-v", "/usr/lib:/lib:ro", "-v", f"{ROOT / 'src'}:/src:ro",
         image, "/usr/bin/python3", "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["inner", socket.gethostname()]
