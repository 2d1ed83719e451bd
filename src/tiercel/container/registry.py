"""One container registry over the node's runtimes, as Falco's container engines: the Docker Engine API
(podman's compatible API too) and one CRI runtime (containerd, CRI-O), each where its socket exists.

The cgroup path says which runtime to ask only in part: `docker-<id>.scope` is Docker's, `crio-<id>` and
`cri-containerd-<id>` the CRI runtime's, but a bare id (`/kubepods/.../<id>`, `/docker/<id>` as the probe
sees its leaf) may be either's. Such a container is asked of the CRI runtime first and, when it does not
know it, of Docker, filling the same object; one that Docker already announced is Docker's.

    make_registry(EngineOptions(cri_sockets=("/run/containerd/containerd.sock",)), on_started)

Falco's configuration keys map onto EngineOptions: container_engines.docker.enabled,
container_engines.cri.enabled, container_engines.cri.sockets (and `--cri PATH`, repeatable).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol

from tiercel.container.cgroup import short_id
from tiercel.container.docker import ContainerRegistry
from tiercel.events.model import Container

if TYPE_CHECKING:
    from tiercel.container.cri_registry import CriRegistry

# Falco's default for container_engines.cri.sockets (also tiercel.container.cri.SOCKETS, which needs grpc)
CRI_SOCKETS = ("/run/containerd/containerd.sock", "/run/crio/crio.sock",
               "/run/k3s/containerd/containerd.sock")
DOCKER_ONLY = ("docker", "podman")


class Containers(Protocol):
    """What the process table needs of a registry (Registry, docker.ContainerRegistry, CriRegistry):
    the shared object for a container, at once, filled later."""

    def get(self, runtime: str, full_id: str) -> Container: ...


@dataclass(frozen=True)
class EngineOptions:
    docker: bool = True                            # container_engines.docker.enabled
    docker_socket: str | None = None               # None: the first of docker.SOCKETS found
    cri: bool = True                               # container_engines.cri.enabled
    cri_sockets: tuple[str, ...] = CRI_SOCKETS     # container_engines.cri.sockets, --cri PATH


class Registry:
    """Docker and CRI behind the one `get(runtime, full_id)` the process table calls."""

    def __init__(self, docker: ContainerRegistry | None, cri: CriRegistry | None) -> None:
        self.docker = docker
        self.cri = cri

    def get(self, runtime: str, full_id: str) -> Container:
        if self.docker is not None:
            known = self.docker.cache.get(full_id)
            if known is not None:
                return known
            if self.cri is None or runtime in DOCKER_ONLY:
                return self.docker.get(runtime, full_id)
        if self.cri is not None:
            return self.cri.get(runtime, full_id)
        return Container(id=short_id(full_id), full_id=full_id, type=runtime)

    @property
    def lookups(self) -> int:
        return sum(r.lookups for r in (self.docker, self.cri) if r is not None)

    def start(self) -> None:
        for r in (self.docker, self.cri):
            if r is not None:
                r.start()

    def stop(self) -> None:
        for r in (self.docker, self.cri):
            if r is not None:
                r.stop()


def make_registry(opts: EngineOptions, on_started: Callable[[Container], None] | None = None,
                  log: IO[str] | None = None) -> Registry:
    """The registry for this node: Docker when enabled; the CRI runtime when enabled and one of its
    sockets exists (grpc is imported only then)."""
    docker = ContainerRegistry(opts.docker_socket, on_started, log) if opts.docker else None
    return Registry(docker, _cri_registry(opts, docker, on_started, log))


def _cri_registry(opts: EngineOptions, docker: ContainerRegistry | None,
                  on_started: Callable[[Container], None] | None, log: IO[str] | None) -> CriRegistry | None:
    if not opts.cri:
        return None
    present = [s for s in opts.cri_sockets for p in (f"/host{s}", s) if os.path.exists(p)]
    if not present:
        return None
    try:
        from tiercel.container.cri_registry import CriRegistry
    except ImportError as e:  # a build without grpc: say so once, keep Docker
        print(f"tiercel: CRI socket {present[0]} found, but the CRI client cannot load ({e}); "
              "container names and k8s.* fields come from Docker only", file=log or sys.stderr)
        return None
    return CriRegistry(opts.cri_sockets, on_started, docker.adopt if docker is not None else None, log)
