"""The container runtime stops while the agent runs: events keep flowing, the outage is logged once,
and metadata comes back when the runtime answers again. Stops only a dockerd that the project's own
test set-up (ci/test-deps.sh) started, and starts it again the same way."""

from __future__ import annotations

import io
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.livecapture import LiveCapture
from tiercel.container.registry import Registry
from tiercel.events.model import Event

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
PIDFILE = Path("/var/run/docker.pid")


def our_dockerd() -> int | None:
    """The pid of the dockerd ci/test-deps.sh started (recognised by its flags), else None."""
    try:
        pid = int(PIDFILE.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"--bridge=none" in cmdline and b"--iptables=false" in cmdline else None


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_dockerd_restart_while_capturing() -> None:
    pid = our_dockerd()
    if pid is None:
        pytest.skip("the running dockerd was not started by ci/test-deps.sh; not stopping it")
    hostnames: list[Event] = []
    with LiveCapture(keep=lambda e: e.type == "openat" and e.args.get("name") == "/etc/hostname") as cap:
        containers = cap.source.containers
        assert isinstance(containers, Registry)
        reg = containers.engine("docker")  # the registry's Docker engine is the one stopped here
        assert reg is not None
        reg.log = log = io.StringIO()
        try:
            os.kill(pid, signal.SIGTERM)
            cap.poll_until(lambda: gone(pid), timeout=60)
            unknown = reg.get("docker", "c" * 64)  # a lookup while the runtime is away
            subprocess.run(["cat", "/etc/hostname"], check=True, capture_output=True)
            cap.poll_until(lambda: len(cap.events) >= 1 and "not answering" in log.getvalue())
            hostnames.extend(cap.events)
        finally:
            # whatever happened above, the tests after this one need their Docker engine back
            subprocess.run([str(ROOT / "ci" / "test-deps.sh")], check=True)
        name = f"tiercel-back-{os.getpid()}"
        try:
            full = subprocess.run(["/usr/bin/docker", "run", "-d", "--network", "none", "--name", name,
                                   "tiercel-test/busybox:1", "sleep", "60"],
                                  check=True, capture_output=True, text=True).stdout.strip()
            cap.poll_until(lambda: reg.cache.get(full) is not None and reg.cache[full].name == name,
                           timeout=60)
        finally:
            subprocess.run(["/usr/bin/docker", "rm", "-f", name], capture_output=True)
    assert hostnames and hostnames[0].proc is not None and hostnames[0].proc.container_id == ""
    assert unknown.name == "" and unknown.id == "c" * 12
    text = log.getvalue()
    assert text.count("not answering") == 1, text
    assert text.count("answering again") == 1, text
    assert "Traceback" not in text
