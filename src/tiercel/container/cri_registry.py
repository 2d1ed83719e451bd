"""The CRI runtime's containers, cached and kept current off the event path (as docker.py does for
Docker): `get()` returns at once, and a background thread fills the same object when the runtime
answers (ContainerStatus + PodSandboxStatus, about 2 ms on a local containerd).

The cache is kept current by the runtime's event stream (GetContainerEvents: containerd 1.7+, CRI-O
1.26+) or, where the runtime does not serve one (containerd 1.6, as Debian 12 ships it), by listing
its running containers every LIST_S seconds. Either way a container started after the agent is
announced through `on_started` (Falco's `container` event). A container the runtime does not know
(neither a container nor a pod sandbox: a Docker container on a node that has both) is handed to
`on_unknown`. An outage is logged once, and its end once; lookups are retried meanwhile.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import IO

from tiercel.container import cri
from tiercel.container.gone import GoneLater
from tiercel.events.model import Container, Pod

MAX_CONTAINERS = 10_000
RETRY_S = 2.0
LIST_S = 2.0


class CriRegistry:
    def __init__(self, sockets: Iterable[str] = cri.SOCKETS,
                 on_started: Callable[[Container], None] | None = None,
                 on_unknown: Callable[[Container], None] | None = None,
                 log: IO[str] | None = None, list_interval: float = LIST_S) -> None:
        self.sockets = cri.candidates(sockets)
        self.on_started = on_started
        self.on_unknown = on_unknown
        self.log = log or sys.stderr
        self.list_interval = list_interval
        self.cache: dict[str, Container] = {}
        self.pods: dict[str, Pod] = {}
        self.client: cri.CriClient | None = None
        self.runtime = ""            # container.type of this runtime's containers, from Version
        self.watching = ""           # "events" or "listing", once the watch has started
        self.lookups = 0
        self._pending: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._down = False
        self._since = time.time_ns()  # containers started after this are announced
        self._announced: set[str] = set()
        self.gone = GoneLater(self.cache, self._announced.discard)   # deleted: forgotten a while later

    # -- event path ---------------------------------------------------------------------------

    def get(self, runtime: str, full_id: str) -> Container:
        self.gone.forget_due()
        c = self.cache.get(full_id)
        if c is None:
            if len(self.cache) >= MAX_CONTAINERS:
                self.cache.pop(next(iter(self.cache)))
            c = cri.container_for(full_id, runtime)
            self.cache[full_id] = c
            self._pending.put(full_id)
        return c

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
                self._outage(path, e)
                continue
            self.client = client
            self._versioned(v)
            self._say(f"CRI runtime {v.runtime_name} {v.runtime_version} at {path}: container and "
                      "pod metadata (k8s.*) from it")
            return True
        if present:  # keep the first one: lookups are retried until it answers
            self.client = cri.CriClient(present[0])
        return bool(present)

    def start(self) -> None:
        """Containers already running are known before the first event; then the watch and the
        lookups run in their own threads."""
        if self.client is None and not self.connect():
            return
        self._since = time.time_ns()
        try:
            self._list(announce=False)
        except Exception as e:
            self._outage(self._path(), e)
        for target in (self._fetch_loop, self._watch_loop):
            threading.Thread(target=target, daemon=True, name=f"tiercel-cri{target.__name__}").start()

    def stop(self) -> None:
        self._stop.set()
        if self.client is not None:
            self.client.close()  # also ends a blocked event stream

    # -- lookups --------------------------------------------------------------------------------

    def lookup(self, c: Container) -> bool:
        """Fill c from the runtime; False when the runtime knows no such container or sandbox.
        Raises grpc.RpcError when the runtime cannot be reached."""
        assert self.client is not None
        if not self.runtime:
            self._versioned(self.client.version())
        found = self.client.container(c.full_id)
        self.lookups += 1
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
            if c is None or c.name:
                continue
            try:
                known = self.lookup(c)
            except Exception as e:
                if self._stop.is_set():
                    return
                self._outage(self._path(), e)
                retry.append(full_id)
                continue
            self._back()
            if not known:
                self.cache.pop(full_id, None)
                if self.on_unknown is not None:
                    self.on_unknown(c)
            elif c.start_ts >= self._since:
                self._announce(c)

    # -- keeping the cache current ----------------------------------------------------------

    def _watch_loop(self) -> None:
        import grpc

        while not self._stop.is_set():
            if self.watching != "listing":
                try:
                    self._follow_events()
                except grpc.RpcError as e:
                    if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                        self.watching = "listing"
                        self._say(f"{self._path()} serves no container events: listing its "
                                  f"containers every {self.list_interval:g} s instead")
                        continue
                    if self._stop.is_set():
                        return
                    self._outage(self._path(), e)
                self._stop.wait(RETRY_S)
                continue
            try:
                self._list(announce=True)
                self._back()
            except Exception as e:
                if self._stop.is_set():
                    return
                self._outage(self._path(), e)
            self._stop.wait(self.list_interval)

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

    # -- outage -----------------------------------------------------------------------------------

    def _path(self) -> str:
        return self.client.socket_path if self.client is not None else self.sockets[0]

    def _say(self, text: str) -> None:
        print(f"tiercel: {text}", file=self.log, flush=True)

    def _outage(self, path: str, e: Exception) -> None:
        if not self._down:
            self._say(f"CRI runtime at {path} is not answering ({type(e).__name__}); container ids "
                      "still resolve, names, images and pods will follow when it answers")
        self._down = True

    def _back(self) -> None:
        if self._down:
            self._say(f"CRI runtime at {self._path()} is answering again")
        self._down = False

