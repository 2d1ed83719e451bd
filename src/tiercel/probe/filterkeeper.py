"""The kernel filter's upkeep while capture runs: what the probe's maps need from user space.

The live source owns one FilterKeeper and calls it at a few points of its event path:

    load(tables)      the rules' tables into the maps (start, reload); the first time, the comms
                      and fds the state read from /proc
    repeated(ev)      a record counting repeats the kernel coalesced: the event they repeat
    exited / forked   after a process exit or a new process: its known fds forgotten / inherited
    seen(ev)          after every event: the last coalescible one per thread, new containers
    tick(procs)       on the poll timer: the files rules name looked up again by inode
    forget(pid, fds)  fds the state dropped (the fd sweep found them closed)

It reads the state's processes (passed in, never kept: the state may replace its table) and writes
only the probe's maps (probe.filtermaps).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tiercel.events.model import Event, Fd, Process
from tiercel.probe import filtermaps
from tiercel.probe.filtertables import FilterTables, tracked

LAST_LIMIT = 65536          # threads whose last coalescible event is kept
INODES_EVERY_S = 5.0        # the files rules name are looked up again (a rename gives a new inode)

Procs = Mapping[int, Process]   # the state's processes by pid


class FilterKeeper:
    def __init__(self, bpf: Any, host_proc: Path) -> None:
        self.bpf = bpf
        self.host_proc = host_proc
        self.enabled = False
        self.inodes_left_out = 0    # files rules name the probe could not know by inode (kf_inodes full)
        self.repeats_unmatched = 0  # coalesced repeats whose first record was lost
        self._seeded = False
        self._coalescing: frozenset[str] = frozenset()   # event types the kernel may coalesce
        self._fd_kinds = ""                              # fds the probe tracks (FilterTables)
        self._last: dict[int, Event] = {}               # tid -> its last such event
        self._places: filtermaps.Places = {}              # what the probe knows by inode
        self._places_at = 0.0
        self._roots: frozenset[str] = frozenset()         # containers whose files it knows

    def load(self, tables: FilterTables, enabled: bool, procs: Procs) -> tuple[str, ...]:
        """Replace the tables (see filtermaps.load_tables); returns the paths the probe knows by inode,
        in its index order (the decoder's inode_paths)."""
        if not self._seeded:     # what the state read from /proc, the probe learns once
            known = list(procs.values())
            filtermaps.seed_exec_comms(self.bpf, ((p.pid, p.comm, not p.container_id) for p in known))
            filtermaps.seed_known_fds(self.bpf, ((p.pid, n) for p in known for n, fd in p.fds.items()
                                                 if tracked(fd, tables.fd_kinds)))
            self._seeded = True
        self._places, self.inodes_left_out = filtermaps.load_tables(
            self.bpf, tables, enabled, self._inode_roots(procs))
        self._places_at = time.monotonic()
        self._fd_kinds = tables.fd_kinds if enabled else ""
        self._coalescing = frozenset(n for n, f in tables.syscalls.items() if enabled and not f.state)
        self.enabled = enabled
        return filtermaps.place_paths(self._places)

    def repeated(self, ev: Event) -> Event | None:
        """The kernel coalesced repeats of this thread's previous record before `ev`: that event, to
        be handed on again standing for all of them (evt.count), so that nothing performed goes
        uncounted. None when its record was lost: the repeats are counted as lost with it."""
        prev = self._last.get(ev.tid)
        if prev is None:
            self.repeats_unmatched += ev.repeats_before
        return prev

    def seen(self, ev: Event) -> None:
        """After the state applied `ev`."""
        if ev.type in self._coalescing:
            if len(self._last) >= LAST_LIMIT:
                self._last.clear()
            self._last[ev.tid] = ev
        if self._places and ev.proc is not None and ev.proc.container_id \
                and ev.proc.container_id not in self._roots:
            self._places_at = 0.0       # a new container: its files by inode at the next tick

    def exited(self, tid: int, gone: Process | None, held: Mapping[int, Fd], reaped: bool) -> None:
        """After a process exit: `gone` the process as it was, `held` its fds before the exit,
        `reaped` whether the state dropped it."""
        self._last.pop(tid, None)
        if gone is not None and reaped:
            self.forget(gone.pid, held)

    def forked(self, child: Process | None) -> None:
        """A new process's known fds at and above filtermaps.INHERIT_FDS (the kernel copied the
        lower ones at the fork, before the child ran). Not called for a thread: it shares its
        process's."""
        if child is None or not self._fd_kinds:
            return
        filtermaps.seed_known_fds(self.bpf, ((child.pid, n) for n, fd in child.fds.items()
                                             if n >= filtermaps.INHERIT_FDS
                                             and tracked(fd, self._fd_kinds)))

    def forget(self, pid: int, fds: Mapping[int, Fd], running: bool = False) -> None:
        """The probe's known_fds entries of fds the state dropped: of a process that exited (see
        probe: known_fds), or closed while it runs (`running`: the sweep found them closed). After an
        exit, not when its pid is in use again (or it is not reaped yet): the entries may be the new
        process's, and an entry kept too long only lets more records through."""
        nums = [n for n, fd in fds.items() if tracked(fd, self._fd_kinds)] if self._fd_kinds else []
        if not nums:
            return
        if running or not (self.host_proc / str(pid)).exists():
            filtermaps.forget_known_fds(self.bpf, pid, nums)

    def tick(self, procs: Procs) -> None:
        """On the poll timer: kf_inodes refilled every INODES_EVERY_S, or at once for a new container."""
        if self._places and time.monotonic() - self._places_at > INODES_EVERY_S:
            self.inodes_left_out = filtermaps.fill_inodes(self.bpf, self._places, self._inode_roots(procs))
            self._places_at = time.monotonic()

    def _inode_roots(self, procs: Procs) -> list[str]:
        """Where the files rules name are looked up: the host, and each container through one of its
        processes' /proc/<pid>/root. A new container is looked at as soon as its first exec arrives."""
        pids: dict[str, int] = {}
        for p in procs.values():
            if p.container_id and p.container_id not in pids:
                pids[p.container_id] = p.pid
        self._roots = frozenset(pids)
        return ["", *(f"{self.host_proc}/{pid}/root" for pid in pids.values())]
