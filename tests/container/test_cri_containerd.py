"""The CRI client against a real containerd: the second containerd ci/test-deps.sh starts (Debian's,
with its CRI plugin; its own root, state and socket). The tests drive the CRI API as kubelet would
(RunPodSandbox with a name, namespace, uid and labels; CreateContainer; StartContainer; ExecSync),
on the node's network (no CNI), and check what the agent's registry learns about that container."""

from __future__ import annotations

import io
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

grpc = pytest.importorskip("grpc")

from tiercel.container import cgroup, cri  # noqa: E402
from tiercel.container.cri_api import api_pb2 as pb  # noqa: E402
from tiercel.container.cri_engine import CriEngine  # noqa: E402
from tiercel.container.registry import Registry  # noqa: E402
from tiercel.events.model import Container  # noqa: E402

SOCKET = "/run/tiercel-test-containerd/containerd.sock"
IMAGE = "tiercel-test/busybox:1"
SANDBOX_IMAGE = "docker.io/tiercel-test/pause:1"

pytestmark = pytest.mark.skipif(not os.path.exists(SOCKET),
                                reason=f"no test containerd at {SOCKET} (ci/test-deps.sh starts it)")


@dataclass
class PodRun:
    """One pod with one running container, as kubelet would have made it."""

    sandbox_id: str
    container_id: str
    name: str
    namespace: str
    uid: str
    labels: dict[str, str]
    container_name: str
    container_labels: dict[str, str]


class Kubelet:
    """Just enough of kubelet's side of the CRI to run a pod with one container."""

    def __init__(self, socket: str, log_dir: Path) -> None:
        self.client = cri.CriClient(socket, timeout=30)
        self.rt = self.client.runtime
        self.log_dir = log_dir
        self.sandboxes: list[str] = []

    def run_pod(self, name: str, namespace: str, labels: dict[str, str], container: str,
                command: list[str], container_labels: dict[str, str] | None = None) -> PodRun:
        uid = str(uuid.uuid4())
        node_net = pb.NamespaceOption(network=pb.NODE)
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace=namespace, uid=uid),
            labels=labels, log_directory=str(self.log_dir),
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=f"/kubepods/besteffort/pod{uid}",
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=node_net)))
        sandbox_id = self.rt.RunPodSandbox(pb.RunPodSandboxRequest(config=config), timeout=60).pod_sandbox_id
        self.sandboxes.append(sandbox_id)
        # kubelet labels every container with its pod's identity
        kube = {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace,
                "io.kubernetes.pod.uid": uid, "io.kubernetes.container.name": container}
        all_labels = {**kube, **(container_labels or {})}
        cconfig = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=container), image=pb.ImageSpec(image=IMAGE),
            command=command, labels=all_labels, log_path=f"{container}.log",
            linux=pb.LinuxContainerConfig(
                security_context=pb.LinuxContainerSecurityContext(namespace_options=node_net)))
        cid = self.rt.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=cconfig, sandbox_config=config), timeout=60).container_id
        self.rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=60)
        return PodRun(sandbox_id, cid, name, namespace, uid, labels, container, all_labels)

    def exec_sync(self, container_id: str, cmd: list[str]) -> pb.ExecSyncResponse:
        answer: pb.ExecSyncResponse = self.rt.ExecSync(
            pb.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=20), timeout=30)
        return answer

    def remove_all(self) -> None:
        for sandbox_id in self.sandboxes:
            self.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id), timeout=60)
            self.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id), timeout=60)
        self.sandboxes.clear()
        self.client.close()


@pytest.fixture
def kubelet(tmp_path: Path) -> Iterator[Kubelet]:
    k = Kubelet(SOCKET, tmp_path)
    yield k
    k.remove_all()


@pytest.fixture
def pod(kubelet: Kubelet) -> PodRun:
    return kubelet.run_pod(f"web-{os.getpid()}", "shop", {"app": "web", "tier": "front"}, "shell",
                           ["/bin/sleep", "300"], {"team": "payments"})


def registry(**kw: object) -> CriEngine:
    r = CriEngine([SOCKET], log=io.StringIO(), **kw)  # type: ignore[arg-type]
    assert r.connect()
    return r


def manifest_digest() -> str:
    """The digest containerd lists for the test image (ci/test-deps.sh imported it)."""
    out = subprocess.run(["ctr", "-a", SOCKET, "-n", "k8s.io", "images", "ls"], check=True,
                         capture_output=True, text=True).stdout
    return next(line.split()[2] for line in out.splitlines() if line.startswith(f"docker.io/{IMAGE} "))


def wait_until(cond: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_container_and_pod_metadata(pod: PodRun) -> None:
    r = registry()
    c = Container(id=pod.container_id[:12], full_id=pod.container_id, type="cri")
    assert r.lookup(c)
    assert (c.type, c.name, c.image, c.image_repository, c.image_tag) == (
        "containerd", "shell", f"docker.io/{IMAGE}", "docker.io/tiercel-test/busybox", "1")
    assert c.image_id.startswith("sha256:")
    assert c.image_digest == manifest_digest() != c.image_id  # the manifest's, not the config's
    assert c.labels == pod.container_labels
    assert c.privileged is False
    assert {m["Destination"] for m in c.mounts} >= set()  # no volumes asked for: none reported
    assert c.start_ts > time.time_ns() - 120 * 10**9
    p = c.pod
    assert p is not None
    assert (p.name, p.namespace, p.uid, p.labels, p.sandbox_id) == (
        pod.name, pod.namespace, pod.uid, pod.labels, pod.sandbox_id)
    assert p.ip == "" and c.ip == ""  # on the node's network the runtime reports no pod address


def test_the_container_cgroup_names_its_cri_id(pod: PodRun, kubelet: Kubelet) -> None:
    """The id the agent takes from a process's cgroup is the one CRI answers for."""
    found = kubelet.client.container(pod.container_id)
    assert found is not None
    pid = found[1]["pid"]
    text = Path(f"/proc/{pid}/cgroup").read_text()
    assert cgroup.from_proc_cgroup(text) == ("cri", pod.container_id)


def test_the_pod_sandbox_container_is_the_pod(pod: PodRun) -> None:
    c = Container(id=pod.sandbox_id[:12], full_id=pod.sandbox_id, type="cri")
    assert registry().lookup(c)
    assert (c.name, c.image, c.type) == (pod.name, SANDBOX_IMAGE, "containerd")
    assert c.pod is not None and c.pod.namespace == pod.namespace and c.pod.uid == pod.uid


def test_get_answers_at_once_and_fills_in_the_background(pod: PodRun) -> None:
    r = registry()
    r.start()
    try:
        t0 = time.perf_counter()
        c = r.get("cri", pod.container_id)
        assert time.perf_counter() - t0 < 0.01
        assert wait_until(lambda: c.name == "shell")
        assert c.pod is not None and c.pod.name == pod.name
        assert r.get("cri", pod.container_id) is c
    finally:
        r.stop()


def test_unknown_container_goes_to_the_next_runtime() -> None:
    handed: list[Container] = []
    r = registry(on_unknown=handed.append)
    r.start()
    try:
        missing = "ab" * 32
        c = r.get("containerd", missing)
        assert wait_until(lambda: handed == [c])
        assert missing not in r.cache
    finally:
        r.stop()


def test_combined_registry_asks_cri_first_for_a_bare_id(pod: PodRun) -> None:
    cri_r = registry()
    combined = Registry([cri_r])
    combined.start()
    try:
        c = combined.get("cri", pod.container_id)
        assert wait_until(lambda: c.name == "shell")
    finally:
        combined.stop()


def test_containers_started_later_are_announced(kubelet: Kubelet) -> None:
    """containerd 1.6 serves no GetContainerEvents: the registry lists instead, and says so."""
    started: list[Container] = []
    r = registry(on_started=started.append, list_interval=0.2)
    r.start()
    try:
        run = kubelet.run_pod(f"late-{os.getpid()}", "jobs", {"app": "late"}, "worker", ["/bin/sleep", "300"])
        assert wait_until(lambda: any(c.full_id == run.container_id for c in started))
        c = next(c for c in started if c.full_id == run.container_id)
        assert c.name == "worker" and c.pod is not None and c.pod.namespace == "jobs"
        assert r.watching == "listing"
        assert "listing its containers" in r.log.getvalue()  # type: ignore[attr-defined]
    finally:
        r.stop()
    kubelet.remove_all()
    assert len(started) == len({c.full_id for c in started})  # once each


def test_exec_sync_runs_in_the_pod(pod: PodRun, kubelet: Kubelet) -> None:
    answer = kubelet.exec_sync(pod.container_id, ["cat", "/etc/shadow"])
    assert answer.exit_code == 0 and answer.stdout.startswith(b"root:")
