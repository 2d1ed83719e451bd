"""No `<NA>` for a container that exists: a `docker run --rm` that reads /etc/shadow and is gone a
moment later alerts with its container's name and image (the alert waits for the metadata, the
event loop does not); /metrics counts the alerts that waited and those sent without it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.livecapture import read_line, wait_for

DOCKER = "/usr/bin/docker"
IMAGE = "tiercel-test/busybox:1"
RULE = "Read sensitive file untrusted"
FIELDS = ["container.name", "container.image", "container.id"]

pytestmark = [pytest.mark.live,
              pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/var/run/docker.sock"),
                                 reason="needs root and the local Docker engine (ci/test-deps.sh)")]


def test_short_lived_container_alert_has_name_and_image(oracles: Path, tmp_path: Path) -> None:
    config = tmp_path / "tiercel.yaml"
    with socket.socket() as free:  # a port no one listens on (the config wants 1..65535)
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    config.write_text(f"webserver:\n  enabled: true\n  listen_port: {port}\n"
                      f"append_output:\n  - extra_fields: {FIELDS}\n")
    agent = subprocess.Popen(
        [sys.executable, "-m", "tiercel.cli", "run", "-r", str(oracles / "rules" / "falco_rules.yaml"),
         "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    name = f"tiercel-wait-{os.getpid()}"
    alerts: list[dict[str, object]] = []
    try:
        start = time.monotonic() + 120
        line = ""
        while "webserver on http://" not in line:
            line = read_line(agent.stderr, start)
        base = re.search(r"http://[\d.]+:\d+", line)
        wait_for(agent.stderr, "tiercel: running")
        subprocess.run([DOCKER, "run", "--rm", "--network", "none", "--name", name, IMAGE,
                        "sh", "-c", "cat /etc/shadow"], check=True, capture_output=True)
        deadline = time.monotonic() + 30
        while not any(a["rule"] == RULE and name in str(a["output_fields"]) for a in alerts):
            alerts.append(json.loads(read_line(agent.stdout, deadline)))
        assert base is not None
        with urllib.request.urlopen(f"{base.group(0)}/metrics") as r:
            metrics = {s.name: s.value for f in text_string_to_metric_families(r.read().decode())
                       for s in f.samples}
    finally:
        agent.send_signal(signal.SIGINT)
        agent.communicate(timeout=60)
        subprocess.run([DOCKER, "rm", "-f", name], capture_output=True)
    read = next(a for a in alerts if a["rule"] == RULE and name in str(a["output_fields"]))
    fields = read["output_fields"]
    assert isinstance(fields, dict)
    assert (fields["container.name"], fields["container.image"]) == (name, IMAGE)
    assert metrics["tiercel_alerts_metadata_incomplete_total"] == 0
    assert metrics["falcosecurity_falco_rules_matches_total"] >= 1
