"""Processes in real containers (local Docker engine, started by ci/test-deps.sh) carry their
container's id and metadata; host processes carry none; Falco's rules see them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.test_live_run import read_line, wait_for
from tests.livecapture import LiveCapture
from tiercel.events.model import Event

pytestmark = pytest.mark.live
DOCKER = "/usr/bin/docker"
IMAGE = "tiercel-test/busybox:1"
UPSTREAM = "rules/falco_rules.yaml"  # under the oracle directory


def docker(*args: str) -> str:
    return subprocess.run([DOCKER, *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Containers a test starts; removed afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        subprocess.run([DOCKER, "rm", "-f", name], capture_output=True)


def shadow_reads(cap: LiveCapture) -> list[Event]:
    return [e for e in cap.events if e.type == "openat" and e.args.get("name") == "/etc/shadow"
            and e.res is not None and e.res >= 0]


def keep(e: Event) -> bool:
    return e.type in ("openat", "execve", "container")


def test_short_lived_container_process(names: list[str]) -> None:
    name = f"tiercel-run-{os.getpid()}"
    names.append(name)
    with LiveCapture(keep=keep) as cap:
        subprocess.run([DOCKER, "run", "--network", "none", "--name", name, IMAGE, "cat", "/etc/shadow"],
                       check=True, capture_output=True)
        subprocess.run(["cat", "/etc/hostname"], check=True, capture_output=True)
        full = docker("inspect", "-f", "{{.Id}}", name)
        cap.poll_until(lambda: any(e.proc and e.proc.container_id == full[:12] and e.proc.container
                                   and e.proc.container.name == name for e in shadow_reads(cap)))
        cap.poll_until(lambda: any(e.type == "container" and e.proc and e.proc.container_id == full[:12]
                                   for e in cap.events))
    ev = next(e for e in shadow_reads(cap) if e.proc and e.proc.container_id == full[:12])
    assert ev.proc is not None and ev.proc.comm == "cat" and ev.proc.vpid == 1
    c = ev.proc.container
    assert c is not None and (c.name, c.image_repository, c.image_tag, c.privileged, c.type) == (
        name, "tiercel-test/busybox", "1", False, "docker")
    host = [e for e in cap.events if e.type == "openat" and e.args.get("name") == "/etc/hostname"
            and e.proc and e.proc.comm == "cat"]
    assert host and all(e.proc and e.proc.container_id == "" for e in host)


def test_docker_exec(names: list[str]) -> None:
    name = f"tiercel-exec-{os.getpid()}"
    names.append(name)
    full = docker("run", "-d", "--network", "none", "--name", name, IMAGE, "sleep", "300")
    with LiveCapture(keep=keep) as cap:
        subprocess.run([DOCKER, "exec", name, "cat", "/etc/shadow"], check=True, capture_output=True)
        cap.poll_until(lambda: any(e.proc and e.proc.container_id == full[:12] for e in shadow_reads(cap)))
    ev = next(e for e in shadow_reads(cap) if e.proc and e.proc.container_id == full[:12])
    assert ev.proc is not None and ev.proc.vpid not in (0, 1)  # not the container's init
    assert ev.proc.container is not None and ev.proc.container.name == name


def test_upstream_rules_in_container(oracles: Path, names: list[str], tmp_path: Path) -> None:
    name = f"tiercel-rules-{os.getpid()}"
    names.append(name)
    full = docker("run", "-d", "--network", "none", "--name", name, IMAGE, "sleep", "300")
    config = tmp_path / "tiercel.yaml"
    config.write_text("append_output:\n  - extra_output: 'container=%container.id name=%container.name'\n")
    agent = subprocess.Popen(
        [sys.executable, "-m", "tiercel.cli", "run", "-r", str(oracles / UPSTREAM), "-c", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    alerts = []
    try:
        wait_for(agent.stderr, "tiercel: running")
        # an interactive shell needs a terminal: script(1) gives `docker exec -it` one
        subprocess.run(["script", "-qec", f"{DOCKER} exec -it {name} sh -c 'exit 0'", "/dev/null"],
                       check=True, capture_output=True)
        subprocess.run([DOCKER, "exec", name, "cat", "/etc/shadow"], check=True, capture_output=True)
        deadline = time.monotonic() + 60
        while {a["rule"] for a in alerts} < {"Terminal shell in container", "Read sensitive file untrusted"}:
            alerts.append(json.loads(read_line(agent.stdout, deadline)))
    finally:
        agent.send_signal(signal.SIGINT)
        agent.communicate(timeout=60)
    shell = next(a for a in alerts if a["rule"] == "Terminal shell in container")
    read = next(a for a in alerts if a["rule"] == "Read sensitive file untrusted")
    for alert in (shell, read):
        assert f"container={full[:12]}" in alert["output"], alert["output"]
        assert f"name={name}" in alert["output"]
    assert read["output_fields"]["proc.name"] == "cat"
