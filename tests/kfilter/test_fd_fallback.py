"""An fd the state does not hold (the kernel filter kept its open in the kernel) is read from /proc
when an event acts on it, so an alert on fchmod still names the file."""

from __future__ import annotations

import os
from pathlib import Path

from tiercel.events.model import Event
from tiercel.state.enrich import Enricher


def test_fchmod_of_an_fd_the_table_lacks_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "payload"
    target.write_text("x")
    fd = os.open(target, os.O_RDONLY)
    try:
        enricher = Enricher(Path("/proc"))
        pid = os.getpid()
        ev = Event(num=1, ts=1, type="fchmod", dir="<", tid=pid, pid=pid, res=0,
                   args={"res": 0, "fd": fd, "mode": 0o4755})
        proc = enricher.table.lookup(ev)
        proc.fds.pop(fd, None)                  # as if its open never reached user space
        enricher.apply(ev)
        assert ev.fd is not None and ev.fd.name == str(target)
        assert proc.fds[fd].name == str(target)
    finally:
        os.close(fd)
    gone = Event(num=2, ts=2, type="fchmod", dir="<", tid=pid, pid=pid, res=-9,
                 args={"res": -9, "fd": fd, "mode": 0})
    proc.fds.pop(fd, None)
    enricher.apply(gone)
    assert gone.fd is None                      # closed since: nothing made up
