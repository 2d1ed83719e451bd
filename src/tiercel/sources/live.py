"""The live source: the running kernel's system calls, up to enriched events.

    probe (compile, attach) -> state seeded from /proc -> ring buffer loop
    record -> decode -> enrich -> sink

Attach first, then read /proc: what happens in between is queued in the ring buffer.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Set

from tiercel.container.registry import Registry, make_registry
from tiercel.errors import TiercelError
from tiercel.events.decode import Decoder
from tiercel.events.model import DIR_ENTER, Container, Event, Fd, Process
from tiercel.events.syscalls import SyscallTable
from tiercel.kfilter.offline import tracked
from tiercel.kfilter.tables import FilterTables
from tiercel.probe import filtermaps, loader
from tiercel.probe.reader import RingReader
from tiercel.sources.base import AttachError, CaptureOptions, Counters, Sink
from tiercel.state.enrich import Enricher
from tiercel.state.fdsweep import FdSweep
from tiercel.state.processes import CLONE_THREAD

POLL_MS = 100
LAST_LIMIT = 65536          # threads whose last coalescible event is kept
INODES_EVERY_S = 5.0        # the files rules name are looked up again (a rename gives a new inode)


class LiveSource:
    """The live pipeline up to enriched events: probe, ring buffer, decoder, state."""

    def __init__(self, opts: CaptureOptions, sink: Sink) -> None:
        self.opts = opts
        self.sink = sink
        self.table = SyscallTable()
        self._counters = Counters()
        self.probe: loader.Probe | None = None
        self._stopping = False
        self._started = False   # every part below exists
        self.containers: Registry | None = None
        self._injected: deque[Event] = deque()  # events made outside the kernel (container starts)
        self._filter_seeded = False
        self._coalescing: frozenset[str] = frozenset()   # event types the kernel may coalesce
        self._fd_kinds = ""                              # fds the probe tracks (FilterTables)
        self._last: dict[int, Event] = {}               # tid -> its last such event
        self._filter_on = False
        self._places: filtermaps.Places = {}              # what the probe knows by inode
        self._places_at = 0.0
        self._roots: frozenset[str] = frozenset()         # containers whose files it knows

    def start(self) -> None:
        names = self.opts.syscalls or {s.name for s in self.table.entries}
        self.probe = loader.compile_probe(self.table, self.opts.kernel_headers)
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
        return f"{how}, kernel filter {'on' if self._filter_on else 'off'}"

    @property
    def attached(self) -> frozenset[str]:
        """The syscalls attached so far."""
        return frozenset(self.probe.attached) if self.probe is not None else frozenset()

    @property
    def counters(self) -> Counters:
        now = dataclasses.replace(self._counters)
        probe = self.probe
        if probe is not None and self._started:  # running: the kernel's and decoder's counts now
            now.lost = probe.lost()
            now.lost_by_kind = probe.lost_by_kind()
            now.filtered, _, now.coalesced = probe.filter_counts()
            now.decode_errors = self.decoder.errors
        return now

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
        probe = self.probe
        if probe is None or not self._started:
            return
        if not self._filter_seeded:     # what the state read from /proc, the probe learns once
            procs = list(self.enricher.table.procs.values())
            filtermaps.seed_exec_comms(probe.bpf, ((p.pid, p.comm) for p in procs))
            filtermaps.seed_known_fds(probe.bpf, ((p.pid, n) for p in procs for n, fd in p.fds.items()
                                                  if tracked(fd, tables.fd_kinds)))
            self._filter_seeded = True
        self._places, self._counters.inodes_left_out = filtermaps.load_tables(
            probe.bpf, tables, enabled, self._inode_roots())
        self._places_at = time.monotonic()
        self.decoder.inode_paths = filtermaps.place_paths(self._places)
        self._fd_kinds = tables.fd_kinds if enabled else ""
        self._coalescing = frozenset(n for n, f in tables.syscalls.items() if enabled and not f.state)
        self._filter_on = enabled

    def _inode_roots(self) -> list[str]:
        """Where the files rules name are looked up: the host, and each container through one of its
        processes' /proc/<pid>/root. A new container is looked at as soon as its first exec arrives."""
        pids: dict[str, int] = {}
        for p in self.enricher.table.procs.values():
            if p.container_id and p.container_id not in pids:
                pids[p.container_id] = p.pid
        self._roots = frozenset(pids)
        return ["", *(f"{self.opts.host_proc}/{pid}/root" for pid in pids.values())]

    def _fill_inodes(self, probe: loader.Probe) -> None:
        self._counters.inodes_left_out = filtermaps.fill_inodes(probe.bpf, self._places, self._inode_roots())
        self._places_at = time.monotonic()

    def _on_record(self, data: bytes) -> None:
        self._counters.records += 1
        ev = self.decoder.decode(data)
        if ev is None:
            return
        if ev.repeats_before:
            self._repeat_last(ev)
        try:
            gone = self.enricher.table.procs.get(ev.pid) if ev.type == "procexit" else None
            held = gone.fds if gone is not None else {}   # the exit gives it a new, empty table
            self.enricher.apply(ev)
            if ev.type == "procexit":
                self._last.pop(ev.tid, None)
                if gone is not None and ev.pid not in self.enricher.table.procs:
                    self._forget_fds(gone.pid, held)
            elif ev.args.get("child_pid") and self._fd_kinds:
                self._inherit_fds(ev)
            elif ev.type in self._coalescing:
                if len(self._last) >= LAST_LIMIT:
                    self._last.clear()
                self._last[ev.tid] = ev
            if self._places and ev.proc is not None and ev.proc.container_id \
                    and ev.proc.container_id not in self._roots:
                self._places_at = 0.0       # a new container: its files by inode at the next poll
            if self.opts.filter_pids and not in_tree(ev, self.opts.filter_pids):
                return
            self._counters.events += 1
            self.sink(ev)
        except Exception:  # one bad event is counted, never fatal (STYLE 9)
            self._counters.event_errors += 1

    def _inherit_fds(self, clone: Event) -> None:
        """A new process's known fds at and above filtermaps.INHERIT_FDS (the kernel copied the
        lower ones at the fork, before the child ran); a thread shares its process's."""
        probe = self.probe
        child = self.enricher.table.procs.get(clone.args["child_pid"])
        if probe is None or child is None or clone.args.get("flags", 0) & CLONE_THREAD:
            return
        filtermaps.seed_known_fds(probe.bpf, ((child.pid, n) for n, fd in child.fds.items()
                                              if n >= filtermaps.INHERIT_FDS
                                              and tracked(fd, self._fd_kinds)))

    def _forget_fds(self, pid: int, fds: dict[int, Fd], running: bool = False) -> None:
        """The probe's known_fds entries of fds the state dropped: of a process that exited (see
        probe: known_fds), or closed while it runs (`running`: the sweep found them closed). After an
        exit, not when its pid is in use again (or it is not reaped yet): the entries may be the new
        process's, and an entry kept too long only lets more records through."""
        probe = self.probe
        nums = [n for n, fd in fds.items() if tracked(fd, self._fd_kinds)] if self._fd_kinds else []
        if probe is None or not nums:
            return
        if running or not (self.opts.host_proc / str(pid)).exists():
            filtermaps.forget_known_fds(probe.bpf, pid, nums)

    def _repeat_last(self, ev: Event) -> None:
        """The kernel coalesced repeats of this thread's previous record: hand that event on again,
        standing for all of them (evt.count), so that nothing performed goes uncounted."""
        prev = self._last.get(ev.tid)
        if prev is None:        # its record was lost: the repeats are counted as lost with it
            self._counters.repeats_unmatched += ev.repeats_before
            return
        self.decoder.num += 1
        again = dataclasses.replace(prev, num=self.decoder.num, count=ev.repeats_before,
                                    repeats_before=0)
        self._counters.events += 1
        try:
            self.sink(again)
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
        if self._places and time.monotonic() - self._places_at > INODES_EVERY_S and self.probe:
            self._fill_inodes(self.probe)
        for pid, gone in self.fd_sweep.step(self.enricher.table.procs):
            self._forget_fds(pid, gone, running=True)
        while self._injected:
            ev = self._injected.popleft()
            self.decoder.num += 1
            ev.num = self.decoder.num
            self._counters.events += 1
            try:
                self.sink(ev)
            except Exception:
                self._counters.event_errors += 1

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
            self._counters.lost = probe.lost()
            self._counters.lost_by_kind = probe.lost_by_kind()
            self._counters.filtered, _, self._counters.coalesced = probe.filter_counts()
            if self._started:
                self._counters.decode_errors = self.decoder.errors
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
