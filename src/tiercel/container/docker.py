"""The Docker engine: container metadata from the Docker Engine API (podman's compatible API answers
the same way). An inspect answer fills the name, image, labels, mounts, privileged flag and health
check; the engine's event stream (start, rename, destroy) keeps the cache current and announces
started containers. The caching, the lookups off the event path and the outage notices are
engine.py's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from tiercel.container.cgroup import short_id
from tiercel.container.engine import RETRY_S, ContainerEngine
from tiercel.events.model import Container

SOCKETS = ("/host/var/run/docker.sock", "/var/run/docker.sock", "/run/podman/podman.sock")


def default_socket() -> str:
    return next((s for s in SOCKETS if os.path.exists(s)), SOCKETS[1])


def split_image(image: str) -> tuple[str, str]:
    """"registry:5000/team/app:1.2" -> ("registry:5000/team/app", "1.2"); no tag means latest."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, "" if digest else "latest"


def parse_time(text: str) -> int:
    """Docker's RFC 3339 times with nanoseconds -> ns since the epoch (0 when unset)."""
    if not text or text.startswith("0001-"):
        return 0
    head, _, frac = text.rstrip("Z").partition(".")
    secs = int(datetime.fromisoformat(head + "+00:00").timestamp())
    return secs * 1_000_000_000 + int((frac[:9] or "0").ljust(9, "0"))


def healthcheck_argv(test: list[str] | None) -> list[str] | None:
    """Docker's Healthcheck.Test -> the argv the health check process runs with: ["CMD", a, b]
    runs a b; ["CMD-SHELL", "x"] runs /bin/sh -c x; ["NONE"] or nothing is no health check."""
    if not test or test[0] not in ("CMD", "CMD-SHELL") or len(test) < 2:
        return None
    return list(test[1:]) if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]


def fill_named(c: Container, name: str, image: str) -> None:
    """Name and image (an inspect answer's, or a runtime event's until an inspect fills the rest)."""
    c.name, c.image = name, image
    c.image_repository, c.image_tag = split_image(image)
    if c.type in ("", "containerd", "cri"):
        c.type = "docker"


def fill(c: Container, info: dict[str, Any]) -> None:
    """Copy one `docker inspect` answer into the container object that processes already share."""
    config = info.get("Config") or {}
    host = info.get("HostConfig") or {}
    fill_named(c, (info.get("Name") or "").lstrip("/"), config.get("Image") or "")
    c.image_id = info.get("Image") or ""
    c.privileged = bool(host.get("Privileged"))
    c.labels = dict(config.get("Labels") or {})
    c.mounts = list(info.get("Mounts") or [])
    c.start_ts = parse_time((info.get("State") or {}).get("StartedAt", ""))
    c.healthcheck = healthcheck_argv((config.get("Healthcheck") or {}).get("Test"))



class DockerEngine(ContainerEngine):
    """The Docker Engine API: one inspect per container, and the engine's event stream (start,
    rename, destroy) to keep the cache current and announce started containers."""

    name = "docker"
    runtimes = ("docker", "podman")

    def __init__(self, socket_path: str | None = None,
                 on_started: Callable[[Container], None] | None = None,
                 log: IO[str] | None = None) -> None:
        super().__init__(on_started, None, log)
        self.socket_path = socket_path or default_socket()
        self._client: Any = None

    @property
    def where(self) -> str:
        return self.socket_path

    def _connect(self) -> Any:
        if self._client is None:
            import docker
            client = docker.DockerClient  # type: ignore[attr-defined]
            self._client = client(base_url=f"unix://{self.socket_path}", timeout=5)
        return self._client

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing only interrupts the event stream
                client.close()

    def _inspect(self, full_id: str) -> dict[str, Any] | None:
        """The runtime's answer for one container; None if it does not know it. Raises OSError-like
        errors when the runtime cannot be reached."""
        import docker.errors
        try:
            info: dict[str, Any] = self._connect().api.inspect_container(full_id)
            return info
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as e:
            if e.status_code == 404:
                return None
            raise

    def _lookup(self, c: Container) -> bool:
        info = self._inspect(c.full_id)
        if info is not None:
            fill(c, info)
        return info is not None

    def _unknown(self, c: Container) -> None:
        """Docker is asked last: a container it does not know keeps its id and is not asked again."""

    def _tell_outage(self) -> bool:
        # a host without a runtime stays silent; one that had a runtime, or has its socket, is told
        return self._seen or os.path.exists(self.socket_path)

    def _begin(self) -> bool:
        """Containers already running when the agent starts: known before the first event, so
        their processes' alerts carry names at once. At start-up, never on the event path."""
        if not os.path.exists(self.socket_path):
            return True
        try:
            for summary in self._connect().api.containers():
                full_id = summary.get("Id", "")
                info = self._inspect(full_id) if full_id else None
                if info is not None:
                    c = Container(id=short_id(full_id), full_id=full_id, type="docker")
                    fill(c, info)
                    self.cache[full_id] = c
            self._back()
        except Exception as e:
            self._outage(e)
        return True

    # -- the engine's event stream ----------------------------------------------------------------

    def _watch(self) -> float:
        stream = self._connect().events(decode=True, filters={"type": "container"})
        self._back()
        for ev in stream:
            self._on_runtime_event(ev)
            if self._stop.is_set():
                break
        return RETRY_S

    def _watch_failed(self, e: Exception) -> float:
        self._client = None  # connect afresh: the runtime may have restarted
        return super()._watch_failed(e)

    def _on_runtime_event(self, ev: dict[str, Any]) -> None:
        action = ev.get("Action") or ev.get("status") or ""
        full_id = ev.get("id") or (ev.get("Actor") or {}).get("ID") or ""
        if not full_id:
            return
        self.gone.forget_due()
        if action == "destroy":
            self.gone.gone(full_id)
        elif action in ("start", "rename"):
            c = self.cache.get(full_id) or Container(id=short_id(full_id), full_id=full_id,
                                                     type="docker")
            self.cache[full_id] = c
            # The event names the container and its image itself: what is left when the container is
            # gone before an inspect gets there (a `docker run --rm` of one command is destroyed some
            # 20 ms after its start event). Only then: an inspect fills everything at once.
            attrs = (ev.get("Actor") or {}).get("Attributes") or {}
            failed: Exception | None = None
            try:
                info = self._inspect(full_id)
            except Exception as e:
                info, failed = None, e
            if info is not None:
                fill(c, info)
            elif not c.name and attrs.get("name"):
                fill_named(c, attrs["name"], attrs.get("image") or "")
            if failed is not None:
                self._outage(failed)
                return
            if action == "start" and self.on_started is not None:
                self.on_started(c)
