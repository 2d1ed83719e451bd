"""The CRI engine: one CRI runtime's containers (containerd, CRI-O), through cri.py's client.
A lookup is ContainerStatus + PodSandboxStatus (about 2 ms on a local containerd); the caching, the
lookups off the event path and the outage notices are engine.py's.

The cache is kept current by the runtime's event stream (GetContainerEvents: containerd 1.7+, CRI-O
1.26+) or, where the runtime does not serve one (containerd 1.6, as Debian 12 ships it), by listing
its running containers every LIST_S seconds. Either way a container started after the agent is
announced through `on_started` (Falco's `container` event), once. A container the runtime does not
know (neither a container nor a pod sandbox: a Docker container on a node that has both) is handed
to `on_unknown`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import IO

from tiercel.container import cri
from tiercel.container.engine import RETRY_S, ContainerEngine
from tiercel.events.model import Container, Pod

LIST_S = 2.0


class CriEngine(ContainerEngine):
    name = "cri"
    runtimes = ("containerd", "cri-o", "cri")
    runtime_label = "CRI runtime"
    follows = "names, images and pods"

    def __init__(self, sockets: Iterable[str] = cri.SOCKETS,
                 on_started: Callable[[Container], None] | None = None,
                 on_unknown: Callable[[Container], None] | None = None,
                 log: IO[str] | None = None, list_interval: float = LIST_S) -> None:
        super().__init__(on_started, on_unknown, log)
        self.sockets = cri.candidates(sockets)
        self.list_interval = list_interval
        self.pods: dict[str, Pod] = {}
        self.client: cri.CriClient | None = None
        self.runtime = ""            # container.type of this runtime's containers, from Version
        self.watching = ""           # "events" or "listing", once the watch has started
        self._since = time.time_ns()  # containers started after this are announced
        self._announced: set[str] = set()

    @property
    def where(self) -> str:
        return self.client.socket_path if self.client is not None else self.sockets[0]

    # -- set-up ---------------------------------------------------------------------------------

    def connect(self) -> bool:
        """Use the first socket that exists and answers Version; False when none does."""
        present = [s for s in self.sockets if os.path.exists(s)]
        for path in present:
            client = cri.CriClient(path)
            try:
                v = client.version()
            except Exception as e:
                client.close()
                self._outage(e, path)
                continue
            self.client = client
            self._versioned(v)
            self._say(f"CRI runtime {v.runtime_name} {v.runtime_version} at {path}: container and "
                      "pod metadata (k8s.*) from it")
            return True
        if present:  # keep the first one: lookups are retried until it answers
            self.client = cri.CriClient(present[0])
        return bool(present)

    def _begin(self) -> bool:
        """Containers already running are known before the first event."""
        if self.client is None and not self.connect():
            return False
        self._since = time.time_ns()
        try:
            self._list(announce=False)
        except Exception as e:
            self._outage(e)
        return True

    def _close(self) -> None:
        if self.client is not None:
            self.client.close()  # also ends a blocked event stream

    # -- lookups --------------------------------------------------------------------------------

    def _lookup(self, c: Container) -> bool:
        """A container, with its pod; or a pod's sandbox. Raises grpc.RpcError when the runtime
        cannot be reached."""
        assert self.client is not None
        if not self.runtime:
            self._versioned(self.client.version())
        found = self.client.container(c.full_id)
        if found is not None:
            status, info = found
            sandbox_id = str(info.get("sandboxID", ""))
            pod = self._pod(sandbox_id) if sandbox_id else None
            cri.fill(c, status, info, pod, self.runtime, self.client.image(status))
            return True
        sandbox = self.client.sandbox(c.full_id)
        if sandbox is None:
            return False
        cri.fill_sandbox(c, *sandbox, self.runtime)
        return True

    def _versioned(self, v: object) -> None:
        self.runtime = cri.runtime_type(str(getattr(v, "runtime_name", "")))

    def _pod(self, sandbox_id: str) -> Pod | None:
        pod = self.pods.get(sandbox_id)
        if pod is None and self.client is not None:
            found = self.client.sandbox(sandbox_id)
            if found is None:
                return None
            if len(self.pods) >= cri.MAX_PODS:
                self.pods.pop(next(iter(self.pods)))
            pod = self.pods[sandbox_id] = cri.pod_from(*found)
        return pod

    def _fetched(self, c: Container) -> None:
        if c.start_ts >= self._since:
            self._announce(c)

    # -- keeping the cache current ----------------------------------------------------------

    def _watch(self) -> float:
        if self.watching != "listing":
            self._follow_events()
            return RETRY_S
        self._list(announce=True)
        self._back()
        return self.list_interval

    def _watch_failed(self, e: Exception) -> float:
        import grpc

        unimplemented = isinstance(e, grpc.RpcError) and e.code() == grpc.StatusCode.UNIMPLEMENTED
        if unimplemented and self.watching != "listing":
            self.watching = "listing"
            self._say(f"{self.where} serves no container events: listing its "
                      f"containers every {self.list_interval:g} s instead")
            return 0.0
        super()._watch_failed(e)
        return self.list_interval if self.watching == "listing" else RETRY_S

    def _follow_events(self) -> None:
        from tiercel.container.cri_api import api_pb2 as pb

        assert self.client is not None
        stream = self.client.events()
        for ev in stream:
            if self.watching != "events":
                self.watching = "events"
            self._back()
            kind, full_id = ev.container_event_type, ev.container_id
            self.gone.forget_due()
            if kind == pb.CONTAINER_DELETED_EVENT:
                self.gone.gone(full_id)
            elif kind == pb.CONTAINER_STARTED_EVENT:
                self._started(full_id)
            if self._stop.is_set():
                return

    def _list(self, announce: bool) -> None:
        """Learn running containers from a listing; forget the ones that went away."""
        assert self.client is not None
        if not self.runtime:
            self._versioned(self.client.version())
        running = set(self.client.running())
        self._back()
        for full_id in running - self.cache.keys():
            if announce:
                self._started(full_id)
            else:
                c = self.cache[full_id] = cri.container_for(full_id, self.runtime)
                if not self.lookup(c):
                    self.cache.pop(full_id, None)
        for full_id in [k for k, c in list(self.cache.items()) if c.name and k not in running]:
            self.cache.pop(full_id, None)
            self._announced.discard(full_id)

    def _started(self, full_id: str) -> None:
        c = self.cache.get(full_id)
        if c is None:
            c = self.cache[full_id] = cri.container_for(full_id, self.runtime)
        if not c.name and not self.lookup(c):
            self.cache.pop(full_id, None)
            return
        self._announce(c)

    def _announce(self, c: Container) -> None:
        if c.full_id in self._announced or self.on_started is None:
            return
        self._announced.add(c.full_id)
        self.on_started(c)

    def _forgotten(self, full_id: str) -> None:
        self._announced.discard(full_id)
