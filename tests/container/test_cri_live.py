"""`tiercel run --cri SOCKET` on the live kernel: a `cat /etc/shadow` run through the CRI (ExecSync)
in a pod of the test containerd (ci/test-deps.sh) alerts with the pod's namespace and name, the
container's name and image, and the node name from TIERCEL_HOSTNAME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.container.test_cri_containerd import SOCKET, Kubelet
from tests.livecapture import read_line, wait_for

pytestmark = [pytest.mark.live,
              pytest.mark.skipif(not os.path.exists(SOCKET) or os.geteuid() != 0,
                                 reason=f"needs root and the test containerd at {SOCKET} (ci/test-deps.sh)")]

FIELDS = ["k8s.ns.name", "k8s.pod.name", "container.name", "container.image", "container.id"]
EXTRA = ("k8s_ns=%k8s.ns.name k8s_pod=%k8s.pod.name container_name=%container.name "
         "image=%container.image.repository:%container.image.tag type=%container.type")


@pytest.fixture(scope="module")
def agent_has_cri_option() -> None:
    help_text = subprocess.run([sys.executable, "-m", "tiercel.cli", "run", "--help"],
                               capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}).stdout
    if "--cri" not in help_text:
        pytest.skip("`tiercel run` has no --cri option yet (the CRI registry is not wired into the agent)")


def test_shadow_read_in_a_cri_pod_alerts_with_k8s_fields(agent_has_cri_option: None, oracles: Path,
                                                         tmp_path: Path) -> None:
    kubelet = Kubelet(SOCKET, tmp_path)
    try:
        pod = kubelet.run_pod(f"web-{os.getpid()}", "shop", {"app": "web"}, "shell", ["/bin/sleep", "300"])
        config = tmp_path / "tiercel.yaml"
        config.write_text(f"append_output:\n  - extra_output: '{EXTRA}'\n    extra_fields: {FIELDS}\n")
        agent = subprocess.Popen(
            [sys.executable, "-m", "tiercel.cli", "run", "-r", str(oracles / "rules" / "falco_rules.yaml"),
             "-c", str(config), "--cri", SOCKET],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "TIERCEL_HOSTNAME": "node-under-test"})
        alerts: list[dict[str, object]] = []
        try:
            wait_for(agent.stderr, "tiercel: running")
            answer = kubelet.exec_sync(pod.container_id, ["cat", "/etc/shadow"])
            assert answer.exit_code == 0
            deadline = time.monotonic() + 60
            while not any(a["rule"] == "Read sensitive file untrusted" for a in alerts):
                alerts.append(json.loads(read_line(agent.stdout, deadline)))
        finally:
            agent.send_signal(signal.SIGINT)
            agent.communicate(timeout=60)
    finally:
        kubelet.remove_all()
    read = next(a for a in alerts if a["rule"] == "Read sensitive file untrusted")
    output = str(read["output"])
    for part in (f"k8s_ns=shop k8s_pod={pod.name} container_name=shell",
                 "image=docker.io/tiercel-test/busybox:1", "type=containerd"):
        assert part in output, output
    fields = read["output_fields"]
    assert isinstance(fields, dict)
    assert {k: fields[k] for k in FIELDS} == {
        "k8s.ns.name": "shop", "k8s.pod.name": pod.name, "container.name": "shell",
        "container.image": "docker.io/tiercel-test/busybox:1", "container.id": pod.container_id[:12]}
    assert read["hostname"] == "node-under-test"
