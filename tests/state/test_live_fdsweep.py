"""Live: an fd closed while `close` is not attached leaves the state's table at the next sweep."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.livecapture import LiveCapture, read_line
from tiercel.events.syscalls import STATE_SYSCALLS

pytestmark = pytest.mark.live

CHILD = """
import os, sys
kept = os.open(sys.argv[1], os.O_RDONLY)
closed = os.open(sys.argv[2], os.O_RDONLY)
os.close(closed)
print(kept, closed, flush=True)
sys.stdin.read()
"""


def test_a_closed_fd_leaves_the_table(tmp_path: Path) -> None:
    kept_path, closed_path = tmp_path / "kept", tmp_path / "closed"
    kept_path.write_text("k")
    closed_path.write_text("c")
    with LiveCapture(syscalls=set(STATE_SYSCALLS | {"openat"})) as cap:
        assert "close" not in cap.source.attached
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(kept_path), str(closed_path)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            kept, closed = map(int, read_line(child.stdout, time.monotonic() + 60).split())
            table = cap.source.enricher.table

            def fds() -> dict[int, str]:
                p = table.procs.get(child.pid)
                return {n: fd.name for n, fd in p.fds.items()} if p is not None else {}

            cap.poll_until(lambda: fds().get(closed) == str(closed_path))   # opened, close unseen
            assert fds().get(kept) == str(kept_path)
            cap.source.fd_sweep.every_s = 0.0                                # a round at the next poll
            cap.poll_until(lambda: closed not in fds(), timeout=30)
            assert fds().get(kept) == str(kept_path)
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait()
