"""The process table: seeded from /proc, kept current by clone/exec/exit events.

Threads of a process share one Process; the table maps both tids and tgids to it. Entries of
exited processes are dropped at once, so the table's size follows the host's live processes.

Bounded whatever a capture holds (a million distinct thread ids, argv of 64 KB in tiny arguments):
at most `max_threads` tasks (Falco's `falco_libs.thread_table_size`, 262,144 by default): past it the
task added longest ago is evicted (`evicted` counts them), so the newest, which the next events
name, stay; and a process keeps at most ARGV_MAX_ARGS arguments and ARGV_MAX_BYTES characters of
them, as the live probe reads them (probe/events.h), with `argv_truncated` set (`argv_cut` counts
them). Its
memory follows them too: a dict does not shrink when entries are deleted, so after a burst of tasks
(COMPACT_FROM or more, three quarters of them gone) both dicts are copied to right-sized ones and the
heap's free pages are given back (state.memory).
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

from tiercel.container import cgroup
from tiercel.container.registry import Containers
from tiercel.events.model import Container, Event, Process
from tiercel.state import memory, procfs
from tiercel.state.fds import O_CLOEXEC
from tiercel.state.users import UserTable

CLONE_THREAD = 0x00010000
CLONE_FILES = 0x00000400
COMPACT_FROM = 4096     # tasks gone since the table's largest before its memory is given back
THREAD_TABLE_SIZE = 262_144   # Falco's falco_libs.thread_table_size default
ARGV_MAX_ARGS = 64            # as the live probe: probe/events.h ARGV_MAX_ARGS
ARGV_MAX_BYTES = 4096


class ProcessTable:
    def __init__(self, host_proc: Path = Path("/proc"), users: UserTable | None = None,
                 containers: Containers | None = None, max_threads: int = THREAD_TABLE_SIZE) -> None:
        self.host_proc = host_proc
        self.max_threads = max_threads
        self.evicted = 0                        # tasks dropped to stay within max_threads
        self.argv_cut = 0                       # argv cut to ARGV_MAX_ARGS / ARGV_MAX_BYTES
        self._added: deque[int] = deque()       # tids in the order they were added: oldest first
        self.users = users if users is not None else UserTable(host_proc)
        self.containers = containers
        self.procs: dict[int, Process] = {}     # tgid -> process
        self.threads: dict[int, Process] = {}   # tid -> its process
        self.lazy_reads = 0                     # processes first seen by an event, read from /proc
        self.compactions = 0                    # times the dicts were copied after a burst
        self._high = 0                          # most tasks held since the last compaction

    def __len__(self) -> int:
        return len(self.procs)

    def seed(self) -> None:
        """Every process /proc shows now, with parents linked. The agent's own fds are left out: its
        syscalls never leave the kernel, so they would stay there as they were (BPF maps and
        programs, ~90 of them)."""
        me = os.getpid()
        for pid in procfs.list_pids(self.host_proc):
            proc = procfs.read_process(self.host_proc, pid, with_fds=pid != me)
            if proc is not None:
                self.add(proc, procfs.list_threads(self.host_proc, pid))
        for proc in self.procs.values():
            proc.parent = self.procs.get(proc.ppid)

    def add(self, proc: Process, tids: list[int]) -> None:
        """Put a process (and its threads) in the table, naming its user and group."""
        self._name_users(proc)
        c = proc.container
        if c is not None and self.containers is not None and c.full_id:
            proc.container = self.containers.get(c.type, c.full_id)
        self.procs[proc.pid] = proc
        self.bound_argv(proc)
        for tid in tids or [proc.pid]:
            proc.threads.add(tid)
            self._put_thread(tid, proc)

    def _put_thread(self, tid: int, proc: Process) -> None:
        """tid -> proc, a new task: the oldest one goes when the table is full."""
        self.threads[tid] = proc
        self._added.append(tid)
        if len(self.threads) > self.max_threads:
            self._evict()
        elif len(self._added) > 2 * max(len(self.threads), 1024):  # exited tids pile up: drop them
            self._added = deque(self.threads)

    def _evict(self) -> None:
        while len(self.threads) > self.max_threads and self._added:
            tid = self._added.popleft()
            proc = self.threads.pop(tid, None)
            if proc is None:
                continue  # exited already
            self.evicted += 1
            proc.threads.discard(tid)
            if not proc.threads and self.procs.get(proc.pid) is proc:
                del self.procs[proc.pid]

    def bound_argv(self, proc: Process) -> None:
        """At most ARGV_MAX_ARGS arguments and ARGV_MAX_BYTES characters of them, as the live probe
        reads them: a capture's argv of 64 KB in one-character arguments is 30,000 Python strings."""
        args = proc.args
        if not isinstance(args, list) or (len(args) <= ARGV_MAX_ARGS
                                          and sum(map(len, args)) <= ARGV_MAX_BYTES):
            return  # (a capture's execve may have no argv at all: None)
        kept, size = [], 0
        for a in args[:ARGV_MAX_ARGS]:
            size += len(a)
            if size > ARGV_MAX_BYTES:
                break
            kept.append(a)
        proc.args = kept
        proc.argv_truncated = True
        self.argv_cut += 1

    def _name_users(self, proc: Process) -> None:
        proc.user = self.users.user(proc.uid)
        proc.group = self.users.group(proc.gid)
        proc.loginname = self.users.user(proc.loginuid) if proc.loginuid >= 0 else ""

    def lookup(self, ev: Event) -> Process:
        """The process of the event's task; read from /proc, or made up from the event, when the
        task started before the agent saw it."""
        proc = self.threads.get(ev.tid)
        if proc is not None:
            return proc
        proc = self.procs.get(ev.pid)
        if proc is None:
            proc = procfs.read_process(self.host_proc, ev.pid) or Process(
                pid=ev.pid, ppid=0, comm=ev.comm, exe=ev.comm, uid=ev.uid, gid=ev.gid)
            self.lazy_reads += 1
            proc.parent = self.procs.get(proc.ppid)
            # only the task seen: its leader may have exited already (its exit record read before
            # this late record of another thread), and a leader tid kept here would never leave
            self.add(proc, [ev.tid])
        if ev.tid not in proc.threads:
            proc.threads.add(ev.tid)
            self._put_thread(ev.tid, proc)
        return proc

    def on_clone(self, ev: Event, parent: Process) -> None:
        child_tid = ev.args["res"]
        flags = ev.args.get("flags", 0)
        if flags & CLONE_THREAD:
            parent.threads.add(child_tid)
            self._put_thread(child_tid, parent)
            return
        child = Process(
            # in the host's pid namespace the pid is the vpid; in another, the probe does not know
            # it until the child execs
            pid=child_tid, ppid=parent.pid, vpid=child_tid if parent.vpid == parent.pid else 0,
            comm=parent.comm, exe=parent.exe, exepath=parent.exepath,
            args=parent.args, cwd=parent.cwd, uid=parent.uid, gid=parent.gid, user=parent.user,
            group=parent.group, loginuid=parent.loginuid, loginname=parent.loginname, tty=parent.tty,
            start_ts=ev.ts, parent=parent,
            fds=parent.fds if flags & CLONE_FILES else dict(parent.fds),
            container_id=parent.container_id, container=parent.container,
            argv_truncated=parent.argv_truncated,
        )
        self.add(child, [child_tid])

    def _container(self, runtime: str, full_id: str) -> Container:
        if self.containers is not None:
            return self.containers.get(runtime, full_id)
        return Container(id=cgroup.short_id(full_id), full_id=full_id, type=runtime)

    def _set_container(self, proc: Process, ev: Event) -> None:
        """The container of a program just exec'd: from the cgroup the kernel named in the exec
        record, or, when the probe could not tell (no BTF), from /proc."""
        if ev.cgroup is not None:
            found = cgroup.from_name(ev.cgroup)
        else:
            found = procfs.read_container(self.host_proc, proc.pid)
            if found is None and proc.container_id:
                return  # gone already: keep what it inherited
        if found is None:
            proc.container_id, proc.container = "", None
        elif found[1] != (proc.container.full_id if proc.container else ""):
            proc.container = self._container(*found)
            proc.container_id = proc.container.id

    def on_exec(self, proc: Process, ev: Event, exepath: str) -> None:
        self._set_container(proc, ev)
        if ev.vpid:
            proc.vpid = ev.vpid
        if ev.tty is not None:
            proc.tty = ev.tty
        args = ev.args
        proc.exe = args.get("exe", "")
        proc.args = args.get("args", [])
        proc.exepath = exepath
        proc.comm = ev.comm
        proc.argv_truncated = bool(args.get("args_truncated"))
        self.bound_argv(proc)
        if ev.uid != proc.uid or ev.gid != proc.gid:
            proc.uid, proc.gid = ev.uid, ev.gid
            self._name_users(proc)
        # close-on-exec descriptors are gone in the new program; the kernel unshares a table shared
        # with CLONE_FILES first, so this is a new dict: the other sharers keep theirs
        proc.fds = {n: fd for n, fd in proc.fds.items() if not fd.openflags & O_CLOEXEC}

    def on_setid(self, proc: Process, ev: Event) -> None:
        if ev.uid != proc.uid or ev.gid != proc.gid:
            proc.uid, proc.gid = ev.uid, ev.gid
            self._name_users(proc)

    def on_exit(self, ev: Event) -> Process | None:
        """A task ended: forget the thread; forget the process when its last task or its leader
        is gone. Returns the process so the event can still be matched against rules."""
        if len(self.threads) > self._high:  # only exits make the table smaller: its top is seen here
            self._high = len(self.threads)
        proc = self.threads.pop(ev.tid, None) or self.procs.get(ev.pid)
        if proc is None:
            return None
        proc.threads.discard(ev.tid)
        if ev.tid == proc.pid or not proc.threads:
            proc.exited = True
            for tid in proc.threads:
                self.threads.pop(tid, None)
            proc.threads.clear()
            proc.fds = {}  # a dead process keeps only what its descendants' ancestry needs:
            if proc.parent is not None and proc.parent.exited:
                # its parent only while that one lives, or processes that fork and exit in turn
                # (daemons re-forking) would chain every exited generation to the live one
                proc.parent = None
            if self.procs.get(proc.pid) is proc:
                del self.procs[proc.pid]
        left = len(self.threads)
        if self._high - left >= COMPACT_FROM and left * 4 <= self._high:
            self.compact()
        return proc

    def compact(self) -> None:
        """Copy both dicts to ones sized for what they hold now, and give the heap's free pages back."""
        self.procs = dict(self.procs)
        self.threads = dict(self.threads)
        self._added = deque(self.threads)
        self._high = len(self.threads)
        self.compactions += 1
        memory.trim_heap()
