"""What every container engine does the same way, as libsinsp's container_engine_base: an engine file
(docker.py, cri_engine.py) says only how its runtime is asked and watched.

Never on the event path: `get()` returns at once with the container's id and type, and a background
thread fills that same object when the runtime answers (`lookup`). A second thread follows the
runtime (`_watch`: its event stream, or a listing) to keep the cache current and announce started
containers. A destroyed container is forgotten KEEP_S after the runtime's event (gone.py). When the
runtime is absent, slow or restarting, events keep flowing with what is known; the outage is said
once, its end once, and lookups are retried meanwhile.
"""

from __future__ import annotations

import queue
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import IO

from tiercel.container.cgroup import short_id
from tiercel.container.gone import GoneLater
from tiercel.events.model import Container

MAX_CONTAINERS = 10_000
RETRY_S = 2.0


class ContainerEngine(ABC):
    name = ""                           # as Falco's container_engines.<name>; Registry.engine(name)
    runtimes: tuple[str, ...] = ()      # container types (from the cgroup) that are surely this engine's
    runtime_label = "container runtime"
    follows = "names and images"        # what the outage notice promises once the runtime answers

    def __init__(self, on_started: Callable[[Container], None] | None = None,
                 on_unknown: Callable[[Container], None] | None = None,
                 log: IO[str] | None = None) -> None:
        self.on_started = on_started
        self.on_unknown = on_unknown    # a container this runtime does not know: the next engine's
        self.log = log or sys.stderr
        self.cache: dict[str, Container] = {}
        self.gone = GoneLater(self.cache, self._forgotten)   # destroyed: forgotten a while later
        self.lookups = 0                # answers the runtime gave to lookups
        self._pending: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._down = False
        self._told = False              # the current outage was said (so its end is said too)
        self._seen = False              # the runtime has answered at least once

    # -- what an engine says about its runtime ------------------------------------------------

    @property
    @abstractmethod
    def where(self) -> str:
        """The runtime's socket, for notices."""

    @abstractmethod
    def _lookup(self, c: Container) -> bool:
        """Fill c from the runtime; False when it knows no such container. Raises when the runtime
        cannot be reached."""

    def _begin(self) -> bool:
        """At start-up, before the threads: containers already running become known; False when the
        runtime cannot be used at all (no thread is started)."""
        return True

    @abstractmethod
    def _watch(self) -> float:
        """Follow the runtime once (its event stream until it ends, or one listing); the seconds to
        wait before the next time. Raises when the runtime cannot be reached."""

    @abstractmethod
    def _close(self) -> None:
        """Release the runtime's connection (which also ends a blocked event stream)."""

    def _unknown(self, c: Container) -> None:
        """The runtime does not know c: it is another engine's, if there is one to ask."""
        self.cache.pop(c.full_id, None)
        if self.on_unknown is not None:
            self.on_unknown(c)

    def _fetched(self, c: Container) -> None:
        """c was just filled by a lookup (an engine that announces containers from lookups does)."""
        return None

    def _forgotten(self, full_id: str) -> None:
        """A destroyed container has just left the cache (an engine that remembers more forgets it)."""
        return None

    def _tell_outage(self) -> bool:
        """Whether an outage is worth saying (a host without this runtime may stay silent)."""
        return True

    # -- event path ---------------------------------------------------------------------------

    def takes(self, runtime: str, full_id: str) -> bool:
        """Whether this engine is the one to ask: it knows the container, or the cgroup names its runtime."""
        return full_id in self.cache or runtime in self.runtimes

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
        """A container another engine did not know: look it up here, filling that object (which
        processes already hold: it replaces any this engine made meanwhile)."""
        self.cache[c.full_id] = c
        self._pending.put(c.full_id)

    def lookup(self, c: Container) -> bool:
        known = self._lookup(c)
        self.lookups += 1
        return known

    # -- background -----------------------------------------------------------------------------

    def start(self) -> None:
        if not self._begin():
            return
        for target in (self._fetch_loop, self._watch_loop):
            threading.Thread(target=target, daemon=True, name=f"tiercel-{self.name}{target.__name__}").start()

    def stop(self) -> None:
        self._stop.set()
        self._close()

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
            if c is None or c.name:    # gone, or named meanwhile (a runtime event, a listing)
                continue
            try:
                known = self.lookup(c)
            except Exception as e:  # the runtime is down or restarting
                if self._stop.is_set():
                    return
                self._outage(e)
                retry.append(full_id)
                continue
            self._back()
            if known:
                self._fetched(c)
            else:
                self._unknown(c)

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                pause = self._watch()
            except Exception as e:
                if self._stop.is_set():
                    return
                pause = self._watch_failed(e)
            self._stop.wait(pause)

    def _watch_failed(self, e: Exception) -> float:
        self._outage(e)
        return RETRY_S

    # -- outage -----------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        print(f"tiercel: {text}", file=self.log, flush=True)

    def _outage(self, e: Exception, where: str | None = None) -> None:
        if not self._down and self._tell_outage():
            self._say(f"{self.runtime_label} at {where or self.where} is not answering ({type(e).__name__}); "
                      f"container ids still resolve, {self.follows} will follow when it answers")
            self._told = True
        self._down = True

    def _back(self) -> None:
        if self._down and self._told:
            self._say(f"{self.runtime_label} at {self.where} is answering again")
        self._down = self._told = False
        self._seen = True
