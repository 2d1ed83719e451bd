"""Both sources in one agent: the live probe alerts on `cat /etc/shadow` while the webhook, beside it,
alerts on a posted audit event; each rule only on its own source's events."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.livecapture import read_line, wait_for

pytestmark = pytest.mark.live
TRACE = "k8s-audit/falco-0.31.1/test/trace_files/k8s_audit/create_nginx_pod_privileged.json"


def test_syscall_and_audit_sources_together(oracles: Path, tmp_path: Path) -> None:
    with socket.socket() as s:   # a free loopback port for the webhook
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "falco.yaml"
    config.write_text(f"load_plugins: [k8saudit]\nplugins:\n  - name: k8saudit\n"
                      f"    open_params: http://127.0.0.1:{port}/k8s-audit\njson_output: true\n")
    rules = [oracles / "rules/falco_rules.yaml",
             oracles / "k8s-audit/falco-0.31.1/rules/k8s_audit_rules.yaml"]
    agent = subprocess.Popen(
        [sys.executable, "-m", "tiercel.cli", "run", "-c", str(config), "--stats",
         *[a for r in rules for a in ("-r", str(r))]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    alerts = []
    try:
        wait_for(agent.stderr, "tiercel: running")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/k8s-audit", (oracles / TRACE).read_bytes())
        assert conn.getresponse().status == 200
        subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        deadline = time.monotonic() + 30
        while {a["source"] for a in alerts} != {"syscall", "k8s_audit"}:
            alerts.append(json.loads(read_line(agent.stdout, deadline)))
    finally:
        agent.send_signal(signal.SIGINT)
        _, err = agent.communicate(timeout=60)
    by_source = {a["source"]: a["rule"] for a in alerts}
    assert by_source == {"syscall": "Read sensitive file untrusted", "k8s_audit": "Create Privileged Pod"}
    text = err.decode()
    assert "k8s audit webhook: 1 requests, 1 events" in text and agent.returncode == 0
