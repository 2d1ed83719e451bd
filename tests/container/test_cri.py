"""The CRI client's whole path (socket, Version, ContainerStatus, PodSandboxStatus, ImageStatus, the
event stream, an outage) against a CRI server in this process that replays a runtime's answers.

CRI-O cannot be installed on these machines: its code path is the same as containerd's (one client, one
API), and it is tested here against the answer in fixtures/cri_crio_answers.json, which is written to
the shape of CRI-O's answers (its verbose info carries `privileged` at the top, its image_ref is a
repo@digest, its pods have CNI addresses), not captured from a running CRI-O.
fixtures/cri_containerd_answers.json is a real capture, from the test containerd on this machine;
tests/container/test_cri_containerd.py drives that containerd itself.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import pytest

grpc = pytest.importorskip("grpc")

from google.protobuf import json_format  # noqa: E402

from tiercel.container import cri  # noqa: E402
from tiercel.container.cri_api import api_pb2 as pb  # noqa: E402
from tiercel.container.cri_api import api_pb2_grpc as rpc  # noqa: E402
from tiercel.container.cri_engine import CriEngine  # noqa: E402
from tiercel.container.registry import EngineOptions, Registry, make_registry  # noqa: E402
from tiercel.events.model import Container  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
POD_UID = "0f7c6a5e-2b1d-4c3a-9e8f-7d6c5b4a3f21"


def answers(name: str) -> dict[str, Any]:
    doc = json.loads((FIXTURES / name).read_text())
    return {
        "version": json_format.ParseDict(doc["version"], pb.VersionResponse()),
        "container": json_format.ParseDict(doc["container_status"], pb.ContainerStatusResponse()),
        "sandbox": json_format.ParseDict(doc["pod_sandbox_status"], pb.PodSandboxStatusResponse()),
        "image": json_format.ParseDict(doc["image_status"], pb.ImageStatusResponse()),
    }


class Replay(rpc.RuntimeServiceServicer, rpc.ImageServiceServicer):  # type: ignore[misc]
    """A CRI runtime that knows one container and its pod, and (optionally) serves container events."""

    def __init__(self, recorded: dict[str, Any], events: bool) -> None:
        self.recorded = recorded
        self.serve_events = events
        self.calls: list[str] = []
        self.stopping = threading.Event()
        self.started = threading.Event()  # set: the container "starts" on the event stream

    def Version(self, request: Any, context: Any) -> Any:
        self.calls.append("Version")
        return self.recorded["version"]

    def ContainerStatus(self, request: Any, context: Any) -> Any:
        self.calls.append("ContainerStatus")
        if request.container_id != self.recorded["container"].status.id:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such container")
        return self.recorded["container"]

    def PodSandboxStatus(self, request: Any, context: Any) -> Any:
        self.calls.append("PodSandboxStatus")
        if request.pod_sandbox_id != self.recorded["sandbox"].status.id:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such pod sandbox")
        return self.recorded["sandbox"]

    def ImageStatus(self, request: Any, context: Any) -> Any:
        self.calls.append("ImageStatus")
        return self.recorded["image"]

    def ListContainers(self, request: Any, context: Any) -> Any:
        self.calls.append("ListContainers")
        return pb.ListContainersResponse()

    def GetContainerEvents(self, request: Any, context: Any) -> Iterator[Any]:
        if not self.serve_events:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "method GetContainerEvents not implemented")
        self.started.wait(10)
        yield pb.ContainerEventResponse(container_id=self.recorded["container"].status.id,
                                        container_event_type=pb.CONTAINER_STARTED_EVENT)
        self.stopping.wait(10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    servers: list[Any] = []

    def start(recorded: dict[str, Any], events: bool = False, path: Path | None = None) -> tuple[Replay, str]:
        replay = Replay(recorded, events)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        rpc.add_RuntimeServiceServicer_to_server(replay, server)
        rpc.add_ImageServiceServicer_to_server(replay, server)
        sock = str(path or tmp_path / "cri.sock")
        server.add_insecure_port(f"unix://{sock}")
        server.start()
        servers.append((server, replay))
        return replay, sock

    yield start
    for server, replay in servers:
        replay.stopping.set()
        server.stop(0)


def registry(sock: str, **kw: Any) -> CriEngine:
    return CriEngine([sock], log=io.StringIO(), **kw)


def wait_until(cond: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_crio_container_and_pod(serve: Any) -> None:
    recorded = answers("cri_crio_answers.json")
    _, sock = serve(recorded)
    r = registry(sock)
    assert r.connect() and r.runtime == "cri-o"
    cid = recorded["container"].status.id
    c = Container(id=cid[:12], full_id=cid, type="cri-o")
    assert r.lookup(c)
    assert (c.type, c.name, c.image, c.image_repository, c.image_tag) == (
        "cri-o", "nginx", "docker.io/library/nginx:1.27", "docker.io/library/nginx", "1.27")
    assert c.image_digest == "sha256:0b1a3f2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
    assert c.image_id == "sha256:3b25b682ea82b2db3cc4fd48db818be788ee3f902ac7378090cf2624ec2442df"
    assert c.privileged is True
    assert c.labels["io.kubernetes.container.name"] == "nginx"
    assert c.mounts == [
        {"Source": f"/var/lib/kubelet/pods/{POD_UID}/volumes/kubernetes.io~projected/kube-api-access-8xk2p",
         "Destination": "/var/run/secrets/kubernetes.io/serviceaccount",
         "Mode": "", "RW": False, "Propagation": "private"},
        {"Source": "/", "Destination": "/host", "Mode": "", "RW": True, "Propagation": "rslave"}]
    assert c.start_ts == 1796083486915321922
    p = c.pod
    assert p is not None
    assert (p.name, p.namespace, p.uid, p.ip, c.ip) == (
        "nginx-7c5ddbdf54-x2x7q", "default", POD_UID, "10.85.0.12", "10.85.0.12")
    assert p.labels["app"] == "nginx" and p.sandbox_id == recorded["sandbox"].status.id


def test_containerd_capture_gives_what_the_live_runtime_gave(serve: Any) -> None:
    recorded = answers("cri_containerd_answers.json")
    _, sock = serve(recorded)
    r = registry(sock)
    assert r.connect() and r.runtime == "containerd"
    cid = recorded["container"].status.id
    c = Container(id=cid[:12], full_id=cid, type="cri")
    assert r.lookup(c)
    assert (c.name, c.image, c.privileged, c.labels["team"]) == (
        "shell", "docker.io/tiercel-test/busybox:1", False, "payments")
    assert c.image_id.startswith("sha256:") and c.image_digest.startswith("sha256:")
    assert c.pod is not None and (c.pod.name, c.pod.namespace, c.pod.labels) == (
        "web-0", "shop", {"app": "web", "tier": "front"})


def test_images_and_pods_are_asked_once(serve: Any) -> None:
    recorded = answers("cri_crio_answers.json")
    replay, sock = serve(recorded)
    r = registry(sock)
    assert r.connect()
    cid = recorded["container"].status.id
    for _ in range(3):
        assert r.lookup(Container(id=cid[:12], full_id=cid))
    assert replay.calls.count("ContainerStatus") == 3
    assert replay.calls.count("PodSandboxStatus") == 1 and replay.calls.count("ImageStatus") == 1


def test_event_stream_announces_a_started_container(serve: Any) -> None:
    recorded = answers("cri_crio_answers.json")
    replay, sock = serve(recorded, events=True)
    started: list[Container] = []
    r = registry(sock, on_started=started.append)
    r.start()
    try:
        replay.started.set()
        assert wait_until(lambda: len(started) == 1)
        assert started[0].name == "nginx" and started[0].pod is not None
        assert r.watching == "events"
        assert r.get("cri-o", started[0].full_id) is started[0]
    finally:
        r.stop()


def test_outage_is_logged_once_and_recovered(serve: Any, tmp_path: Path) -> None:
    recorded = answers("cri_crio_answers.json")
    sock = tmp_path / "crio.sock"
    sock.touch()  # the socket's file is there, nobody answers (the runtime restarting)
    r = registry(str(sock))
    assert r.connect()
    r.start()
    try:
        cid = recorded["container"].status.id
        t0 = time.perf_counter()
        c = r.get("cri-o", cid)
        assert time.perf_counter() - t0 < 0.01 and c.name == ""
        time.sleep(0.5)
        sock.unlink()
        serve(recorded, path=sock)
        assert wait_until(lambda: c.name == "nginx", 15)
        log = r.log.getvalue()  # type: ignore[attr-defined]
        assert log.count("is not answering") == 1 and log.count("answering again") == 1
        assert c.type == "cri-o"  # learnt from Version once it answered
    finally:
        r.stop()


def test_registry_without_cri_sockets_uses_docker_only(tmp_path: Path) -> None:
    reg = make_registry(EngineOptions(docker_socket=str(tmp_path / "docker.sock"),
                                      cri_sockets=(str(tmp_path / "none.sock"),)), log=io.StringIO())
    assert [e.name for e in reg.engines] == ["docker"]


def test_combined_registry_routes_by_runtime(serve: Any, tmp_path: Path) -> None:
    recorded = answers("cri_crio_answers.json")
    _, sock = serve(recorded)
    reg = make_registry(EngineOptions(docker_socket=str(tmp_path / "docker.sock"), cri_sockets=(sock,)),
                        log=io.StringIO())
    assert isinstance(reg, Registry) and [e.name for e in reg.engines] == ["docker", "cri"]
    docker, cri_engine = reg.engines
    docker_id, cri_id = "d" * 64, recorded["container"].status.id
    assert reg.get("docker", docker_id) is docker.cache[docker_id]
    assert reg.get("containerd", cri_id) is cri_engine.cache[cri_id]
    # a container Docker already knows stays Docker's, whatever its cgroup suggested
    assert reg.get("cri", docker_id) is docker.cache[docker_id]


def test_unknown_to_cri_is_handed_to_docker(serve: Any, tmp_path: Path) -> None:
    recorded = answers("cri_crio_answers.json")
    _, sock = serve(recorded)
    reg = make_registry(EngineOptions(docker_socket=str(tmp_path / "docker.sock"), cri_sockets=(sock,)),
                        log=io.StringIO())
    docker, cri_engine = reg.engine("docker"), reg.engine("cri")
    assert docker is not None and cri_engine is not None
    cri_engine.start()
    try:
        c = reg.get("containerd", "e" * 64)
        assert wait_until(lambda: docker.cache.get(c.full_id) is c)
    finally:
        cri_engine.stop()


@pytest.mark.parametrize(("name", "expected"), [
    ("containerd", "containerd"), ("cri-o", "cri-o"), ("CRI-O", "cri-o"), ("k3s-containerd", "containerd"),
    ("cri-dockerd", "cri")])
def test_runtime_type(name: str, expected: str) -> None:
    assert cri.runtime_type(name) == expected


def test_socket_candidates_look_under_the_host_root_first() -> None:
    assert cri.candidates(["/run/crio/crio.sock", "rel.sock"]) == [
        "/host/run/crio/crio.sock", "/run/crio/crio.sock", "rel.sock"]
    assert cri.SOCKETS == ("/run/containerd/containerd.sock", "/run/crio/crio.sock",
                           "/run/k3s/containerd/containerd.sock")


def test_k8s_fields_read_the_pod_sandbox(serve: Any) -> None:
    """k8s.* from the CRI pod where the runtime answered, the kubelet's container labels otherwise."""
    from tiercel.events.model import Event, Process
    from tiercel.rules import FieldTable

    recorded = answers("cri_crio_answers.json")
    _, sock = serve(recorded)
    r = registry(sock)
    assert r.connect()
    cid = recorded["container"].status.id
    c = Container(id=cid[:12], full_id=cid, type="cri-o")
    assert r.lookup(c)
    c.labels = {}  # the pod is what answers, not the kubelet's labels
    proc = Process(pid=4242, ppid=1, comm="nginx", container_id=c.id, container=c)
    ev = Event(num=1, ts=1, type="execve", dir="<", tid=4242, pid=4242, res=0, args={}, proc=proc)
    table = FieldTable()
    try:
        table.resolve("k8s.pod.labels", None)
    except Exception:
        pytest.skip("the k8s.pod.* fields of the CRI pod are not in the field table yet")
    want = {"k8s.pod.name": "nginx-7c5ddbdf54-x2x7q", "k8s.ns.name": "default", "k8s.pod.uid": POD_UID,
            "k8s.pod.label[app]": "nginx", "k8s.pod.ip": "10.85.0.12", "container.ip": "10.85.0.12",
            "k8s.pod.sandbox_id": recorded["sandbox"].status.id[:12],
            "k8s.pod.full_sandbox_id": recorded["sandbox"].status.id, "container.type": "cri-o"}
    for name, value in want.items():
        field, _, arg = name.partition("[")
        assert table.resolve(field, arg.rstrip("]") or None).extract(ev) == value, name
    labels = table.resolve("k8s.pod.labels", None).extract(ev)
    assert "app:nginx" in labels and "pod-template-hash:7c5ddbdf54" in labels
