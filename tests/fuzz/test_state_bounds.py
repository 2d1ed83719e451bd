"""Issue 27 row 1 (the parts in the process table): a capture's argv of 60 KB in two-character
arguments took 783 MB for 500 processes (from a 118 KB .gz); a million distinct thread ids were all
kept. The table now keeps argv as the live probe reads it (64 arguments, 4096 characters) and at
most falco_libs.thread_table_size tasks, the newest, counting what it cut and evicted."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.conftest import bounded
from tiercel.config import load_config
from tiercel.events.model import Event, Process
from tiercel.scap.events import PATH_MAX
from tiercel.scap.writer import ScapWriter
from tiercel.sources.base import CaptureOptions
from tiercel.sources.replay import ReplaySource
from tiercel.state.processes import ARGV_MAX_ARGS, ARGV_MAX_BYTES, ProcessTable
from tiercel.testing import events as E

T0 = 1_700_000_000_000_000_000


def _capture(path: Path, children: int, argv: list[str]) -> Path:
    """init forks `children` processes; each execs with `argv`."""
    w = ScapWriter(path, hostname="h")
    init = E.process("init", pid=100, exepath="/sbin/init")
    for i in range(children):
        child = 1000 + i
        w.write(E.fork(child, proc=init, ts=T0 + 2 * i, num=2 * i + 1))
        sh = E.process("sh", pid=child, parent=init, exepath="/bin/sh")
        w.write(E.execve("/bin/bash", argv, proc=sh, ts=T0 + 2 * i + 1, num=2 * i + 2))
    w.close()
    return path


def _replay(path: Path, opts: CaptureOptions) -> ProcessTable:
    seen: list[int] = []   # numbers only: an event keeps its own argv while it is held

    def sink(ev: Event) -> None:
        seen.append(ev.num)
    source = ReplaySource(path, opts, sink)
    source.start()
    try:
        source.run()
    finally:
        source.stop()
    assert source.counters.event_errors == 0 and seen
    return source.enricher.table


def test_argv_is_bounded_as_the_probe_reads_it(tmp_path: Path) -> None:
    argv = [f"{i % 100:02d}" for i in range(20_000)]   # 40 KB of distinct small strings
    path = _capture(tmp_path / "argv.scap", 100, argv)
    with bounded(seconds=20, megabytes=60):            # 100 x 20,000 strings kept was ~150 MB
        table = _replay(path, CaptureOptions(containers=False))
    execd = [p for p in table.procs.values() if p.pid >= 1000]
    assert len(execd) == 100 and table.argv_cut == 100
    for p in execd:
        assert p.argv_truncated and len(p.args) <= ARGV_MAX_ARGS
        assert sum(map(len, p.args)) <= ARGV_MAX_BYTES and p.args == argv[:len(p.args)]


def test_thread_table_size_is_honoured_on_replay(tmp_path: Path) -> None:
    path = _capture(tmp_path / "forks.scap", 300, ["bash"])
    size = load_config(None, ["falco_libs.thread_table_size=100"]).falco_libs.thread_table_size
    table = _replay(path, CaptureOptions(containers=False, thread_table_size=size))
    assert len(table.threads) <= 100 and table.evicted >= 200
    assert 1299 in table.threads and 1000 not in table.threads     # the newest stay


def test_eviction_keeps_the_newest_and_stays_consistent() -> None:
    table = ProcessTable(Path("/nonexistent"), max_threads=1000)
    for pid in range(1, 5001):
        table.add(Process(pid=pid, ppid=0, comm="p", exe="p"), [pid, pid + 100_000])
    assert len(table.threads) <= 1000 and table.evicted == 10_000 - len(table.threads)
    assert set(table.threads) >= {5000, 105_000} and 1 not in table.procs
    assert all(table.threads[t] is p for p in table.procs.values() for t in p.threads)
    for pid in range(4600, 5001):   # exits keep their bookkeeping bounded too
        table.on_exit(E.procexit(pid=pid, tid=pid))
    assert len(table._added) <= 2 * max(len(table.threads), 1024)


def test_capture_paths_are_kernel_paths(tmp_path: Path) -> None:
    """Issue 27 row 1: 65 KB open names, thousands of them, were kept whole (3,000 of 60 KB: 500 MB
    RSS). A kernel path has at most PATH_MAX bytes; a capture's longer ones are cut there."""
    w = ScapWriter(tmp_path / "names.scap", hostname="h")
    cat = E.process("cat", pid=100, exepath="/bin/cat")
    names = ["/tmp/" + f"{i:06d}" * 10_000 for i in range(200)]
    for i, name in enumerate(names):
        w.write(E.event("openat", {"fd": 3 + i, "dirfd": -100, "name": name, "flags": 0, "mode": 0},
                        res=3 + i, proc=cat, ts=T0 + i, num=i + 1))
    w.close()
    with bounded(seconds=20, megabytes=60):
        table = _replay(tmp_path / "names.scap", CaptureOptions(containers=False))
    fds = table.procs[100].fds
    assert len(fds) == 200
    for i, name in enumerate(names):
        assert fds[3 + i].name == name[:PATH_MAX]
