"""The process table's memory after a burst: bench/soak.py's churn (10,000 live processes at once,
then none), offline. The table's dicts are copied to right-sized ones once the burst is over, and the
heap is trimmed; a small churn costs no copy."""

from __future__ import annotations

import platform
import sys

import pytest

from tiercel.state import memory, processes
from tiercel.state.enrich import Enricher
from tiercel.testing import events as b
from tiercel.testing.state import offline_enricher

SHELL = 100


@pytest.fixture
def st() -> Enricher:
    st = offline_enricher()
    st.table.add(b.process("proc_churn", pid=SHELL, ppid=1, fds=[b.pipe_fd(n) for n in (0, 1, 2)]),
                 [SHELL])
    return st


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def trim() -> bool:
        calls.append(1)
        return True
    monkeypatch.setattr(memory, "trim_heap", trim)
    return calls


def burst(st: Enricher, n: int, first: int = 1000) -> tuple[int, int]:
    """n children forked by the shell, then killed: every fork before the first exit. The sizes of
    the dicts (procs, threads) at the peak."""
    for pid in range(first, first + n):
        st.apply(b.fork(pid, pid=SHELL, comm="proc_churn"))
    peak = sys.getsizeof(st.table.procs), sys.getsizeof(st.table.threads)
    for pid in range(first, first + n):
        st.apply(b.procexit(pid=pid, comm="proc_churn"))
    return peak


def test_after_a_burst_the_dicts_are_sized_for_what_is_left_and_the_heap_is_trimmed(
        st: Enricher, trims: list[int]) -> None:
    procs, threads = burst(st, 10_000)
    assert st.table.compactions == 1 and trims == [1]
    assert list(st.table.procs) == [SHELL] and list(st.table.threads) == [SHELL]
    # a dict that held 10,000 keys keeps its table for them (~300 KB) unless it is copied; the copy
    # is made when a quarter of them are left
    assert sys.getsizeof(st.table.procs) * 3 < procs
    assert sys.getsizeof(st.table.threads) * 3 < threads


def test_the_table_works_on_after_a_compaction(st: Enricher, trims: list[int]) -> None:
    shell = st.table.procs[SHELL]
    burst(st, 5_000)
    assert st.table.compactions == 1
    assert st.table.procs[SHELL] is shell and st.table.threads[SHELL] is shell
    st.apply(b.fork(7, pid=SHELL, comm="proc_churn"))
    child = st.apply(b.openat("/etc/hostname", res=3, pid=7, comm="proc_churn")).proc
    assert child is st.table.procs[7] and child.parent is shell and sorted(child.fds) == [0, 1, 2, 3]
    st.apply(b.procexit(pid=7, comm="proc_churn"))
    assert list(st.table.procs) == [SHELL]


def test_every_burst_is_compacted_once(st: Enricher, trims: list[int]) -> None:
    for round_ in range(3):
        burst(st, 6_000, first=1000 + round_ * 7_000)
    assert st.table.compactions == 3 and len(trims) == 3


def test_a_churn_smaller_than_compact_from_costs_no_copy(st: Enricher, trims: list[int]) -> None:
    threads = st.table.threads
    for round_ in range(5):
        burst(st, processes.COMPACT_FROM - 1, first=1000 + round_ * 5_000)
    assert st.table.compactions == 0 and trims == []
    assert st.table.threads is threads


def test_a_burst_over_a_large_table_waits_until_three_quarters_are_gone(
        st: Enricher, trims: list[int]) -> None:
    """6,000 long-lived processes and a burst of 6,000: half the peak stays, no compaction; the
    long-lived ones leaving too bring the table to a quarter of its peak."""
    for pid in range(20_000, 26_000):
        st.apply(b.fork(pid, pid=SHELL, comm="daemon"))
    burst(st, 6_000)
    assert st.table.compactions == 0
    for pid in range(20_000, 23_500):
        st.apply(b.procexit(pid=pid, comm="daemon"))
    assert st.table.compactions == 1 and len(st.table.procs) == 2_501


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_on_glibc_the_heap_is_trimmed_through_malloc_trim() -> None:
    assert memory._libc() is not None
    assert isinstance(memory.trim_heap(), bool)
