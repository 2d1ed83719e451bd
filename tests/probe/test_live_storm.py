"""A fork/exec storm is captured without losing an exec, and the process table returns to its
baseline once the storm is over."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.livecapture import LiveCapture, build_c
from tiercel.events.syscalls import FD_STATE_SYSCALLS, STATE_SYSCALLS

pytestmark = pytest.mark.live
N = 20_000


def test_exec_storm(tmp_path: Path) -> None:
    storm = build_c(Path(__file__).parent / "storm.c", tmp_path / "storm")
    syscalls = set(STATE_SYSCALLS | FD_STATE_SYSCALLS)
    kinds = ("execve", "fork", "clone", "procexit")
    with LiveCapture(syscalls=syscalls, keep=lambda e: e.type in kinds) as cap:
        table = cap.source.enricher.table
        baseline = len(table)
        proc = cap.run([storm, str(N)], timeout=900)
        assert proc.returncode == 0
        execs = [e for e in cap.events if e.type == "execve" and e.res == 0
                 and e.proc is not None and e.proc.comm == "true" and e.proc.ppid == proc.pid]
        assert len(execs) == N
        assert len({e.pid for e in execs}) == N
        # no record the state needs is lost; fd records may be refused under load to keep room
        # for them (counted as "reserved"), which is what the ring's reserve is for
        assert cap.source.probe is not None
        lost = cap.source.probe.lost_by_kind()
        assert lost["state"] == lost["clone"] == lost["exit"] == 0, lost
        assert not [p for p in table.procs.values() if p.ppid == proc.pid or p.pid == proc.pid]
        # other processes of the host may have come and gone meanwhile; ours must all be gone
        assert abs(len(table) - baseline) <= 10
        assert len(table.threads) <= sum(len(p.threads) for p in table.procs.values())
