"""Alerts held for their container's metadata: no `<NA>` for a container that exists.

A process of a container that started a moment ago can match a rule before the runtime has answered
the lookup (tiercel.container): its alert would say `container.name=<NA>`. Such an alert is held
here, not the event loop: the matcher hands over a copy of the event (its process copied, the
container object shared with the registry that fills it) and goes on with the next event. A thread
releases each held alert as soon as its container has a name, or at its deadline
(`container_engines.metadata_wait`) with what is known; then it is rendered and dispatched.

Alerts held are counted (`waited`), and those that went out without the metadata (`incomplete`).
A held alert goes out after alerts of later events that did not wait: order across containers is
not kept, as with Falco's asynchronous lookups.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tiercel.events.model import Container, Event
from tiercel.outputs.alert import Alert

POLL_S = 0.005   # how often held alerts are re-checked: the added latency past the metadata's arrival


def waiting_for(ev: Event) -> Container | None:
    """The container whose metadata this event's alert should wait for, or None."""
    proc = ev.proc
    c = proc.container if proc is not None else None
    if c is None or c.name or not c.full_id or c.id == "host":
        return None
    return c


def snapshot(ev: Event) -> Event:
    """The event as it is now, for rendering later: the process copied (a later exec or chdir
    changes the table's), the container shared (its metadata is what is awaited)."""
    proc = dataclasses.replace(ev.proc) if ev.proc is not None else None
    return dataclasses.replace(ev, proc=proc)


@dataclass
class Held:
    container: Container
    deadline: float
    render: Callable[[], Alert]


class MetadataWait:
    def __init__(self, wait_s: float, emit: Callable[[Alert], None]) -> None:
        self.wait_s = wait_s
        self.emit = emit
        self.waited = 0          # alerts held for their container's metadata
        self.incomplete = 0      # of those, released at the deadline (or at stop) without it
        self.errors = 0          # held alerts whose rendering or dispatch raised
        self._held: list[Held] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def hold(self, container: Container, render: Callable[[], Alert]) -> None:
        with self._cond:
            if self._stopping:
                self._release(Held(container, 0.0, render))
                return
            self.waited += 1
            self._held.append(Held(container, time.monotonic() + self.wait_s, render))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="tiercel-hold")
                self._thread.start()
            self._cond.notify()

    def stop(self) -> None:
        """Everything still held goes out now, with what is known (teardown, before the outputs
        are flushed)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._cond:
            held, self._held = self._held, []
        for h in held:
            self._release(h)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._held and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                now = time.monotonic()
                due: list[Held] = []
                kept: list[Held] = []
                for h in self._held:
                    (due if h.container.name or h.deadline <= now else kept).append(h)
                self._held = kept
            for h in due:
                self._release(h)
            if not due:
                time.sleep(POLL_S)

    def _release(self, h: Held) -> None:
        if not h.container.name:
            self.incomplete += 1
        try:
            self.emit(h.render())
        except Exception:  # an alert that cannot be rendered is counted, never fatal
            self.errors += 1
