"""Start-up as a list of small steps, and a teardown that always runs.

    live:  probe (compile, attach) -> state seeded from /proc -> ring buffer loop
           record -> decode -> enrich -> sink (JSON view now; rules and outputs next)
"""

from __future__ import annotations

import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import orjson

from tiercel.container.docker import ContainerRegistry
from tiercel.events.decode import Decoder
from tiercel.events.jsonview import event_fields
from tiercel.events.model import DIR_ENTER, Container, Event, Process
from tiercel.events.syscalls import SyscallTable
from tiercel.probe import loader
from tiercel.probe.reader import RingReader
from tiercel.state.enrich import Enricher

POLL_MS = 100


@dataclass
class CaptureOptions:
    duration: float | None = None
    filter_pids: set[int] = field(default_factory=set)
    kernel_headers: str | None = None
    host_proc: Path = Path("/proc")
    syscalls: set[str] | None = None  # None: every syscall tiercel knows
    docker_socket: str | None = None  # None: the first of tiercel.container.docker.SOCKETS found
    containers: bool = True           # ask the container runtime for metadata


@dataclass
class Counters:
    records: int = 0
    events: int = 0
    lost: int = 0
    decode_errors: int = 0
    event_errors: int = 0


class LiveSource:
    """The live pipeline up to enriched events: probe, ring buffer, decoder, state."""

    def __init__(self, opts: CaptureOptions, sink: Callable[[Event], None]) -> None:
        self.opts = opts
        self.sink = sink
        self.table = SyscallTable()
        self.counters = Counters()
        self.probe: loader.Probe | None = None
        self.stopping = False
        self.containers: ContainerRegistry | None = None
        self._injected: deque[Event] = deque()  # events made outside the kernel (container starts)

    def start(self) -> None:
        names = self.opts.syscalls or {s.name for s in self.table.entries}
        self.probe = loader.compile_probe(self.table, self.opts.kernel_headers)
        loader.attach(self.probe, self.table, names)
        if self.opts.containers:
            self.containers = ContainerRegistry(self.opts.docker_socket, self._container_started)
            self.containers.start()
        # Attach first, then read /proc: what happens in between is queued in the ring buffer.
        self.enricher = Enricher(self.opts.host_proc, containers=self.containers)
        self.enricher.table.seed()
        self.decoder = Decoder(self.table, time.time_ns() - time.monotonic_ns())
        self.reader = RingReader(self.probe, self._on_record)

    def _on_record(self, data: bytes) -> None:
        self.counters.records += 1
        ev = self.decoder.decode(data)
        if ev is None:
            return
        try:
            self.enricher.apply(ev)
            if self.opts.filter_pids and not in_tree(ev, self.opts.filter_pids):
                return
            self.counters.events += 1
            self.sink(ev)
        except Exception:  # one bad event is counted, never fatal (STYLE 9)
            self.counters.event_errors += 1

    def _container_started(self, c: Container) -> None:
        """Called from the runtime's thread: queue Falco's `container` event for the main loop."""
        self._injected.append(Event(
            num=0, ts=time.time_ns(), type="container", dir=DIR_ENTER, tid=0, pid=0,
            proc=Process(pid=0, ppid=0, container_id=c.id, container=c)))

    def poll(self, timeout_ms: int) -> None:
        """Hand every record that arrives within timeout_ms, and every queued event, to the sink."""
        self.reader.poll(timeout_ms)
        while self._injected:
            ev = self._injected.popleft()
            self.decoder.num += 1
            ev.num = self.decoder.num
            self.counters.events += 1
            try:
                self.sink(ev)
            except Exception:
                self.counters.event_errors += 1

    def run(self, duration: float | None) -> None:
        deadline = time.monotonic() + duration if duration is not None else None
        while not self.stopping and (deadline is None or time.monotonic() < deadline):
            self.poll(POLL_MS)

    def stop(self) -> None:
        if self.containers is not None:
            self.containers.stop()
            self.containers = None
        if self.probe is not None:
            try:
                self.reader.drain()
            finally:
                self.counters.lost = self.probe.lost()
                self.counters.decode_errors = self.decoder.errors
                self.probe.close()
                self.probe = None


def in_tree(ev: Event, pids: set[int]) -> bool:
    """Whether the event's process or one of its ancestors is one of pids."""
    p = ev.proc
    for _ in range(64):
        if p is None:
            return False
        if p.pid in pids:
            return True
        p = p.parent
    return False


def install_signals(source: LiveSource) -> None:
    def handler(_sig: int, _frame: FrameType | None) -> None:
        source.stopping = True
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def report(counters: Counters, err: IO[str]) -> None:
    print(f"tiercel: {counters.records} records, {counters.events} events, "
          f"{counters.lost} lost in the kernel, {counters.decode_errors} undecodable, "
          f"{counters.event_errors} failed", file=err)


def run_capture(opts: CaptureOptions, out: IO[bytes] | None = None, write: Path | None = None) -> int:
    """`tiercel capture`: every event as one JSON line on stdout, or (-w FILE) into a .scap file."""
    stream = out or sys.stdout.buffer
    sink: Callable[[Event], None]
    writer = None
    if write is not None:
        from tiercel.scap.writer import ScapWriter
        writer = ScapWriter(write)
        sink = writer.write
    else:
        def sink(ev: Event) -> None:
            stream.write(orjson.dumps(event_fields(ev)) + b"\n")

    source = LiveSource(opts, sink)
    install_signals(source)
    try:
        source.start()
        assert source.probe is not None
        print(f"tiercel: capturing ({len(source.probe.attached)} syscalls attached, "
              f"{len(source.enricher.table)} processes known)", file=sys.stderr, flush=True)
        while not source.stopping:
            source.run(0.2 if opts.duration is None else opts.duration)
            stream.flush()
            if opts.duration is not None:
                break
    finally:
        started = source.probe is not None
        source.stop()
        stream.flush()
        if writer is not None:
            writer.close()  # the process and fd lists go before the events: written at the end
        if started:
            report(source.counters, sys.stderr)
    return 0
