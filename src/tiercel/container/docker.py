"""Container metadata from the Docker Engine API (podman's compatible API answers the same way).

Never on the event path: `get()` returns at once with the container's id and type, and the name,
image, labels and privileged flag are filled into that same object by a background thread when the
runtime answers. The runtime's event stream keeps the cache current (start, rename, destroy) and
announces started containers. When the runtime is absent, slow or restarting, events keep flowing
with what is known; the outage is logged once, and metadata is fetched again when it answers.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from tiercel.container.cgroup import short_id
from tiercel.container.gone import GoneLater
from tiercel.events.model import Container

SOCKETS = ("/host/var/run/docker.sock", "/var/run/docker.sock", "/run/podman/podman.sock")
MAX_CONTAINERS = 10_000
RETRY_S = 2.0


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


class ContainerRegistry:
    def __init__(self, socket_path: str | None = None,
                 on_started: Callable[[Container], None] | None = None,
                 log: IO[str] | None = None) -> None:
        self.socket_path = socket_path or default_socket()
        self.on_started = on_started
        self.log = log or sys.stderr
        self.cache: dict[str, Container] = {}
        self.gone = GoneLater(self.cache)       # destroyed: forgotten a while later
        self._pending: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._down = False
        self._seen = False  # the runtime has answered at least once
        self._client: Any = None
        self.lookups = 0

    # -- event path ---------------------------------------------------------------------------

    def get(self, runtime: str, full_id: str) -> Container:
        self.gone.forget_due()
        c = self.cache.get(full_id)
        if c is None:
            if len(self.cache) >= MAX_CONTAINERS:
                self.cache.pop(next(iter(self.cache)))
            c = Container(id=short_id(full_id), full_id=full_id, type=runtime)
            self.cache[full_id] = c
            self._pending.put(full_id)
        return c

    def adopt(self, c: Container) -> None:
        """A container another runtime (CRI) did not know: look it up here, filling that object
        (which processes already hold: it replaces any this registry made meanwhile)."""
        self.cache[c.full_id] = c
        self._pending.put(c.full_id)

    # -- background -----------------------------------------------------------------------------

    def start(self) -> None:
        self._preload()
        for target in (self._fetch_loop, self._event_loop):
            threading.Thread(target=target, daemon=True, name=f"tiercel-{target.__name__}").start()

    def _preload(self) -> None:
        """Containers already running when the agent starts: known before the first event, so
        their processes' alerts carry names at once. At start-up, never on the event path."""
        if not os.path.exists(self.socket_path):
            return
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

    def stop(self) -> None:
        self._stop.set()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing only interrupts the event stream
                client.close()

    def _connect(self) -> Any:
        if self._client is None:
            import docker
            client = docker.DockerClient  # type: ignore[attr-defined]
            self._client = client(base_url=f"unix://{self.socket_path}", timeout=5)
        return self._client

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

    def _fetch_loop(self) -> None:
        retry: list[str] = []
        while not self._stop.is_set():
            try:
                full_id = self._pending.get(timeout=RETRY_S)
            except queue.Empty:
                for r in retry:
                    self._pending.put(r)
                retry = []
                continue
            c = self.cache.get(full_id)
            if c is None:
                continue
            try:
                info = self._inspect(full_id)
            except Exception as e:  # the runtime is down or restarting
                self._outage(e)
                retry.append(full_id)
                continue
            self._back()
            self.lookups += 1
            if info is not None:
                fill(c, info)

    def _event_loop(self) -> None:
        while not self._stop.is_set():
            try:
                stream = self._connect().events(decode=True, filters={"type": "container"})
                self._back()
                for ev in stream:
                    self._on_runtime_event(ev)
                    if self._stop.is_set():
                        return
            except Exception as e:
                if self._stop.is_set():
                    return
                self._outage(e)
                self._client = None
            self._stop.wait(RETRY_S)

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

    def _outage(self, e: Exception) -> None:
        # a host without a runtime stays silent; one that had a runtime, or has its socket, is told
        if not self._down and (self._seen or os.path.exists(self.socket_path)):
            print(f"tiercel: container runtime at {self.socket_path} is not answering "
                  f"({type(e).__name__}); container ids still resolve, names and images will "
                  "follow when it answers", file=self.log, flush=True)
        self._down = True

    def _back(self) -> None:
        if self._down and self._seen:
            print(f"tiercel: container runtime at {self.socket_path} is answering again",
                  file=self.log, flush=True)
        self._down = False
        self._seen = True
