"""The live source: the running kernel's system calls, up to enriched events.

    probe (compile, attach) -> state seeded from /proc -> ring buffer loop
    record -> decode -> enrich -> sink

Attach first, then read /proc: what happens in between is queued in the ring buffer. The kernel filter's
upkeep (known fds, repeats, files by inode) is the probe's FilterKeeper, called at a few points.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Set

from tiercel.common.errors import TiercelError
from tiercel.container.registry import Registry, make_registry
from tiercel.events.decode import Decoder
from tiercel.events.model import DIR_ENTER, Container, Event, Process
from tiercel.events.syscalls import SyscallTable
from tiercel.probe import loader
from tiercel.probe.filterkeeper import FilterKeeper
from tiercel.probe.filtertables import FilterTables
from tiercel.probe.reader import RingReader
from tiercel.sources.base import AttachError, CaptureOptions, Counters, Sink
from tiercel.state.enrich import Enricher
from tiercel.state.fdsweep import FdSweep
from tiercel.state.processes import CLONE_THREAD

POLL_MS = 100


class LiveSource:
    """The live pipeline up to enriched events: probe, ring buffer, decoder, state."""

    def __init__(self, opts: CaptureOptions, sink: Sink) -> None:
        self.opts = opts
        self.sink = sink
        self.table = SyscallTable()
        self._counters = Counters()
        self.probe: loader.Probe | None = None
        self.kernel_fds = False  # records carry their fd as the kernel has it (probe: fd_describe)
        self._stopping = False
        self._started = False   # every part below exists
        self.containers: Registry | None = None
        self._injected: deque[Event] = deque()  # events made outside the kernel (container starts)

    def start(self) -> None:
        names = self.opts.syscalls or {s.name for s in self.table.entries}
        self.probe = loader.compile_probe(self.table, self.opts.kernel_headers, self.opts.ringbuf_pages)
        self.keeper = FilterKeeper(self.probe.bpf, self.opts.host_proc)
        self.kernel_fds = self.probe.describes_fds
        loader.attach(self.probe, self.table, names)
        if self.opts.containers:
            engines = self.opts.engines
            if self.opts.docker_socket:
                engines = dataclasses.replace(engines, docker_socket=self.opts.docker_socket)
            self.containers = make_registry(engines, self._container_started)
            self.containers.start()
        self.enricher = Enricher(self.opts.host_proc, containers=self.containers)
        self.enricher.table.seed()
        self.fd_sweep = FdSweep(self.opts.host_proc)
        self.decoder = Decoder(self.table, time.time_ns() - time.monotonic_ns())
        self.reader = RingReader(self.probe, self._on_record)
        loader.release_compiler_memory()
        self._started = True

    @property
    def mode(self) -> str:
        probe = self.probe
        if probe is None:
            return "not started"
        how = "arguments read at exit" if probe.exit_only else "enter/exit tracepoint pairs"
        return f"{how}, kernel filter {'on' if self.keeper.enabled else 'off'}"

    @property
    def attached(self) -> frozenset[str]:
        """The syscalls attached so far."""
        return frozenset(self.probe.attached) if self.probe is not None else frozenset()

    @property
    def counters(self) -> Counters:
        now = dataclasses.replace(self._counters)
        if self.probe is not None and self._started:  # running: the counts now
            self._settle(now, self.probe)
        return now

    def _settle(self, into: Counters, probe: loader.Probe) -> None:
        """The kernel's counts, and once started the decoder's and the filter keeper's."""
        into.lost = probe.lost()
        into.lost_by_kind = probe.lost_by_kind()
        into.filtered, _, into.coalesced = probe.filter_counts()
        if self._started:
            into.decode_errors = self.decoder.errors
            into.inodes_left_out = self.keeper.inodes_left_out
            into.repeats_unmatched = self.keeper.repeats_unmatched

    def attach(self, syscalls: Set[str]) -> frozenset[str]:
        """Attach what is not attached yet (nor known to be missing here); capture goes on meanwhile."""
        probe = self.probe
        if probe is None:
            return frozenset()
        more = frozenset(syscalls) - set(probe.attached) - set(probe.missing)
        if more:
            try:
                loader.attach(probe, self.table, more)
            except TiercelError as e:
                raise AttachError(more, e) from e
        return more

    def set_filter(self, tables: FilterTables, enabled: bool = True) -> None:
        """Keep in the kernel the records these tables say no rule could match (see FilteredSource)."""
        if self.probe is None or not self._started:
            return
        self.decoder.inode_paths = self.keeper.load(tables, enabled, self.enricher.table.procs)

    def _on_record(self, data: bytes) -> None:
        self._counters.records += 1
        ev = self.decoder.decode(data)
        if ev is None:
            return
        if ev.repeats_before and (prev := self.keeper.repeated(ev)) is not None:
            self._hand_on(dataclasses.replace(prev, count=ev.repeats_before, repeats_before=0))
        try:
            gone = self.enricher.table.procs.get(ev.pid) if ev.type == "procexit" else None
            held = gone.fds if gone is not None else {}   # the exit gives it a new, empty table
            self.enricher.apply(ev)
            procs = self.enricher.table.procs
            if ev.type == "procexit":
                self.keeper.exited(ev.tid, gone, held, reaped=ev.pid not in procs)
            elif ev.args.get("child_pid") and not ev.args.get("flags", 0) & CLONE_THREAD:
                self.keeper.forked(procs.get(ev.args["child_pid"]))
            self.keeper.seen(ev)
            if self.opts.filter_pids and not in_tree(ev, self.opts.filter_pids):
                return
            self._counters.events += 1
            self.sink(ev)
        except Exception:  # one bad event is counted, never fatal (STYLE 9)
            self._counters.event_errors += 1

    def _hand_on(self, ev: Event) -> None:
        """An event made here, not decoded (a repeat, a container start): numbered after the last one."""
        self.decoder.num += 1
        ev.num = self.decoder.num
        self._counters.events += 1
        try:
            self.sink(ev)
        except Exception:
            self._counters.event_errors += 1

    def _container_started(self, c: Container) -> None:
        """Called from the runtime's thread: queue Falco's `container` event for the main loop."""
        self._injected.append(Event(
            num=0, ts=time.time_ns(), type="container", dir=DIR_ENTER, tid=0, pid=0,
            proc=Process(pid=0, ppid=0, container_id=c.id, container=c)))

    def poll(self, timeout_ms: int) -> None:
        """Hand every record that arrives within timeout_ms, and every queued event, to the sink."""
        self.reader.poll(timeout_ms)
        self.keeper.tick(self.enricher.table.procs)
        for pid, gone in self.fd_sweep.step(self.enricher.table.procs):
            self.keeper.forget(pid, gone, running=True)
        while self._injected:
            self._hand_on(self._injected.popleft())

    def run(self, duration: float | None) -> None:
        deadline = time.monotonic() + duration if duration is not None else None
        while not self._stopping and (deadline is None or time.monotonic() < deadline):
            self.poll(POLL_MS)

    def interrupt(self) -> None:
        self._stopping = True

    def stop(self) -> None:
        if self.containers is not None:
            self.containers.stop()
            self.containers = None
        probe, self.probe = self.probe, None
        if probe is None:
            return
        try:
            if self._started:
                self.reader.drain()
        finally:
            self._settle(self._counters, probe)
            probe.close()


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
