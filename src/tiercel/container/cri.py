"""Container and pod metadata from the Kubernetes CRI API, which containerd (its CRI plugin) and
CRI-O serve on a unix socket: the API kubelet and crictl use. The messages are the stubs generated
from kubernetes/cri-api's api.proto (tiercel.container.cri_api), never hand-written.

What each call gives:

    Version                       runtime name and version: container.type containerd or cri-o
    ContainerStatus (verbose)     container.name, image (repository, tag), image id, labels, mounts,
                                  start time; its info JSON: the pod sandbox id, and privileged
                                  (CRI-O: `privileged`; containerd: config.linux.security_context)
    PodSandboxStatus (verbose)    k8s.pod.name, k8s.ns.name, k8s.pod.uid, k8s.pod.labels, k8s.pod.ip,
                                  and containerd's CNI result (k8s.pod.cni.json)
    ImageStatus                   container.image.id and container.image.digest (cached per image)

A pod's sandbox ("pause") container is not a CRI container: its id answers PodSandboxStatus, and it is
reported as the pod's, with the sandbox image.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from tiercel.container.cgroup import short_id
from tiercel.container.cri_api import api_pb2 as pb
from tiercel.container.cri_api import api_pb2_grpc as rpc
from tiercel.container.docker import split_image
from tiercel.events.model import Container, Pod

# Falco's container_engines.cri.sockets default, in its order.
SOCKETS = ("/run/containerd/containerd.sock", "/run/crio/crio.sock", "/run/k3s/containerd/containerd.sock")
HOST_ROOT = "/host"  # where a containerised agent finds the host's sockets (as Falco's HOST_ROOT)
TIMEOUT_S = 2.0
MAX_PODS = 2_000
MAX_IMAGES = 2_000

# CRI's MountPropagation -> the Docker API's spelling that container.mount.propagation shows
_PROPAGATION = {pb.PROPAGATION_PRIVATE: "private", pb.PROPAGATION_HOST_TO_CONTAINER: "rslave",
                pb.PROPAGATION_BIDIRECTIONAL: "rshared"}


def candidates(sockets: Iterable[str]) -> list[str]:
    """Each socket under the host's root first (the agent in a container), then as given."""
    out: list[str] = []
    for s in sockets:
        for path in (HOST_ROOT + s if s.startswith("/") else s, s):
            if path not in out:
                out.append(path)
    return out


def runtime_type(runtime_name: str) -> str:
    """container.type for a CRI runtime's Version().runtime_name."""
    name = runtime_name.lower()
    if "cri-o" in name or "crio" in name:
        return "cri-o"
    return "containerd" if "containerd" in name else "cri"


def info_json(info: Any) -> dict[str, Any]:
    """The `info` entry of a verbose status' map, parsed; {} when absent or not JSON."""
    try:
        value = json.loads(info.get("info", "") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def privileged(info: dict[str, Any]) -> bool | None:
    if isinstance(info.get("privileged"), bool):  # CRI-O
        return bool(info["privileged"])
    sc = (((info.get("config") or {}).get("linux") or {}).get("security_context")) or {}
    return bool(sc.get("privileged", False)) if info.get("config") else None  # containerd


def mounts(status: pb.ContainerStatus) -> list[dict[str, Any]]:
    """CRI mounts in the Docker API's shape, which container.mount* reads."""
    return [{"Source": m.host_path, "Destination": m.container_path, "Mode": "", "RW": not m.readonly,
             "Propagation": _PROPAGATION.get(m.propagation, "")} for m in status.mounts]


def digest_of(image_ref: str) -> str:
    """`repo@sha256:...` -> `sha256:...`; "" when the reference is an image id."""
    return image_ref.partition("@")[2]


def pod_from(status: pb.PodSandboxStatus, info: dict[str, Any]) -> Pod:
    cni = info.get("cniResult")
    return Pod(name=status.metadata.name, namespace=status.metadata.namespace, uid=status.metadata.uid,
               labels=dict(status.labels), ip=status.network.ip, sandbox_id=status.id,
               cni_json=json.dumps(cni, separators=(",", ":")) if cni else "")


def fill(c: Container, status: pb.ContainerStatus, info: dict[str, Any], pod: Pod | None,
         runtime: str, image: tuple[str, str] = ("", "")) -> None:
    """Copy one ContainerStatus answer (and its pod) into the container object processes share."""
    c.name = status.metadata.name
    c.image = status.image.image
    if c.image.startswith("sha256:"):  # an image id, not a name: no repository or tag to show
        c.image_repository, c.image_tag = "", ""
    else:
        c.image_repository, c.image_tag = split_image(c.image)
    image_id, digest = image
    c.image_id = image_id or ("" if digest_of(status.image_ref) else status.image_ref)
    c.image_digest = digest or digest_of(status.image_ref) or digest_of(c.image)
    c.labels = dict(status.labels)
    c.privileged = privileged(info)
    c.mounts = mounts(status)
    c.start_ts = status.started_at or status.created_at
    c.pod = pod
    c.ip = pod.ip if pod is not None else ""
    c.type = runtime


def fill_sandbox(c: Container, status: pb.PodSandboxStatus, info: dict[str, Any], runtime: str) -> None:
    """A pod's sandbox (pause) container: the pod's name and the sandbox image."""
    pod = pod_from(status, info)
    c.name = status.metadata.name
    c.image = str(info.get("image", ""))
    c.image_repository, c.image_tag = split_image(c.image) if c.image else ("", "")
    c.labels = dict(status.labels)
    c.privileged = False
    c.start_ts = status.created_at
    c.pod = pod
    c.ip = pod.ip
    c.type = runtime


class CriClient:
    """One CRI runtime on one socket. Every call has a deadline; NOT_FOUND answers None, and any
    other failure (the runtime down, restarting, slow) raises grpc.RpcError to the caller."""

    def __init__(self, socket_path: str, timeout: float = TIMEOUT_S) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        target = f"unix://{os.path.abspath(socket_path)}"
        # a runtime back from an outage is reached within seconds (grpc's own back-off grows to 2 min)
        options = [("grpc.enable_http_proxy", 0), ("grpc.max_reconnect_backoff_ms", 5000)]
        self.channel = grpc.insecure_channel(target, options=options)
        stub: Any = rpc.RuntimeServiceStub  # generated, unannotated
        images: Any = rpc.ImageServiceStub
        self.runtime = stub(self.channel)
        self.images = images(self.channel)
        self._images: dict[str, tuple[str, str]] = {}

    def close(self) -> None:
        self.channel.close()

    def version(self) -> pb.VersionResponse:
        answer: pb.VersionResponse = self.runtime.Version(pb.VersionRequest(), timeout=self.timeout)
        return answer

    def container(self, full_id: str) -> tuple[pb.ContainerStatus, dict[str, Any]] | None:
        req = pb.ContainerStatusRequest(container_id=full_id, verbose=True)
        answer = _or_none(lambda: self.runtime.ContainerStatus(req, timeout=self.timeout))
        return None if answer is None else (answer.status, info_json(answer.info))

    def sandbox(self, sandbox_id: str) -> tuple[pb.PodSandboxStatus, dict[str, Any]] | None:
        req = pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True)
        answer = _or_none(lambda: self.runtime.PodSandboxStatus(req, timeout=self.timeout))
        return None if answer is None else (answer.status, info_json(answer.info))

    def image(self, status: pb.ContainerStatus) -> tuple[str, str]:
        """(image id, repo digest) of the container's image: ImageStatus, cached per image_ref,
        which is an image id (containerd) or a repo@digest reference (CRI-O; containerd for pulled
        images). The digest is "" for an image that was never pulled (no repo digest recorded)."""
        ref = status.image_ref or status.image.image
        if ref not in self._images:
            req = pb.ImageStatusRequest(image=pb.ImageSpec(image=ref))
            answer = _or_none(lambda: self.images.ImageStatus(req, timeout=self.timeout)) if ref else None
            image_id = answer.image.id if answer is not None else ""
            digests = [digest_of(d) for d in answer.image.repo_digests] if answer is not None else []
            if len(self._images) >= MAX_IMAGES:
                self._images.clear()
            self._images[ref] = (image_id or ("" if digest_of(ref) else ref),
                                 digest_of(ref) or next((d for d in digests if d), ""))
        return self._images[ref]

    def running(self) -> list[str]:
        """Ids of the runtime's running containers."""
        req = pb.ListContainersRequest(
            filter=pb.ContainerFilter(state=pb.ContainerStateValue(state=pb.CONTAINER_RUNNING)))
        answer = self.runtime.ListContainers(req, timeout=self.timeout)
        return [c.id for c in answer.containers]

    def events(self) -> Iterator[pb.ContainerEventResponse]:
        """The runtime's container event stream (containerd 1.7+, CRI-O 1.26+); runtimes without one
        raise grpc.RpcError with code UNIMPLEMENTED."""
        stream: Iterator[pb.ContainerEventResponse] = self.runtime.GetContainerEvents(pb.GetEventsRequest())
        return stream


def _or_none(call: Any) -> Any:
    try:
        return call()
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


def container_for(full_id: str, runtime: str) -> Container:
    return Container(id=short_id(full_id), full_id=full_id, type=runtime)
