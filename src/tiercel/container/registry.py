"""One container registry over the node's container engines, as Falco's: the Docker Engine API
(podman's compatible API too) and one CRI runtime (containerd, CRI-O), each where its socket exists.
An engine is one file behind engine.ContainerEngine; the registry holds them in the order they are
asked.

The cgroup path says which runtime to ask only in part: `docker-<id>.scope` is Docker's, `crio-<id>` and
`cri-containerd-<id>` the CRI runtime's, but a bare id (`/kubepods/.../<id>`, `/docker/<id>` as the probe
sees its leaf) may be either's. The first engine that already knows the container, or whose runtime
the cgroup names, is asked; the last engine takes the rest. Docker comes first, so a container that
Docker already announced is Docker's; a bare id falls to the CRI runtime, which hands a container it
does not know to Docker, filling the same object.

    make_registry(EngineOptions(cri_sockets=("/run/containerd/containerd.sock",)), on_started)

Falco's configuration keys map onto EngineOptions: container_engines.docker.enabled,
container_engines.cri.enabled, container_engines.cri.sockets (and `--cri PATH`, repeatable).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol

from tiercel.container.cgroup import short_id
from tiercel.container.docker import DockerEngine
from tiercel.container.engine import ContainerEngine
from tiercel.events.model import Container

if TYPE_CHECKING:
    from tiercel.container.cri_engine import CriEngine

# Falco's default for container_engines.cri.sockets (also tiercel.container.cri.SOCKETS, which needs grpc)
CRI_SOCKETS = ("/run/containerd/containerd.sock", "/run/crio/crio.sock",
               "/run/k3s/containerd/containerd.sock")


class Containers(Protocol):
    """What the process table needs of a registry (Registry, or one engine): the shared object for a
    container, at once, filled later."""

    def get(self, runtime: str, full_id: str) -> Container: ...


@dataclass(frozen=True)
class EngineOptions:
    docker: bool = True                            # container_engines.docker.enabled
    docker_socket: str | None = None               # None: the first of docker.SOCKETS found
    cri: bool = True                               # container_engines.cri.enabled
    cri_sockets: tuple[str, ...] = CRI_SOCKETS     # container_engines.cri.sockets, --cri PATH


class Registry:
    """The node's engines behind the one `get(runtime, full_id)` the process table calls."""

    def __init__(self, engines: Sequence[ContainerEngine]) -> None:
        self.engines = list(engines)

    def engine(self, name: str) -> ContainerEngine | None:
        return next((e for e in self.engines if e.name == name), None)

    def get(self, runtime: str, full_id: str) -> Container:
        if not self.engines:
            return Container(id=short_id(full_id), full_id=full_id, type=runtime)
        asked = next((e for e in self.engines if e.takes(runtime, full_id)), self.engines[-1])
        return asked.get(runtime, full_id)

    @property
    def lookups(self) -> int:
        return sum(e.lookups for e in self.engines)

    def start(self) -> None:
        for e in self.engines:
            e.start()

    def stop(self) -> None:
        for e in self.engines:
            e.stop()


def make_registry(opts: EngineOptions, on_started: Callable[[Container], None] | None = None,
                  log: IO[str] | None = None) -> Registry:
    """The registry for this node: Docker when enabled; the CRI runtime when enabled and one of its
    sockets exists (grpc is imported only then)."""
    engines: list[ContainerEngine] = []
    if opts.docker:
        engines.append(DockerEngine(opts.docker_socket, on_started, log))
    cri = _cri_engine(opts, on_started, log)
    if cri is not None:
        # what the CRI runtime does not know (a Docker container on a node with both) is Docker's
        cri.on_unknown = engines[0].adopt if engines else None
        engines.append(cri)
    return Registry(engines)


def _cri_engine(opts: EngineOptions, on_started: Callable[[Container], None] | None,
                log: IO[str] | None) -> CriEngine | None:
    if not opts.cri:
        return None
    present = [s for s in opts.cri_sockets for p in (f"/host{s}", s) if os.path.exists(p)]
    if not present:
        return None
    try:
        from tiercel.container.cri_engine import CriEngine
    except ImportError as e:  # a build without grpc: say so once, keep Docker
        print(f"tiercel: CRI socket {present[0]} found, but the CRI client cannot load ({e}); "
              "container names and k8s.* fields come from Docker only", file=log or sys.stderr)
        return None
    return CriEngine(opts.cri_sockets, on_started, log=log)
