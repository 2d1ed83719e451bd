"""Admission: a record a rule may match is never refused to make room for state records. With the
reader paused (the test does not poll) and the ring filled past the process state's share by an exec
storm, the open a rule names still arrives; the state records refused are counted, by kind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.livecapture import build_c
from tiercel.events.model import Event
from tiercel.events.syscalls import SyscallTable
from tiercel.kfilter.derive import derive
from tiercel.rules.files.loader import load_rules
from tiercel.sources.base import CaptureOptions
from tiercel.sources.live import LiveSource

pytestmark = pytest.mark.live
RING_PAGES = 64             # 256 KB: an exec record is ~4.4 KB, so a few hundred execs fill it
EXECS = 400


def test_a_rule_record_finds_room_in_a_ring_full_of_state(tmp_path: Path) -> None:
    marker = tmp_path / "marker-secret"
    marker.write_text("x")
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"""
- rule: Read the marker
  desc: the one record this test waits for
  condition: evt.type = openat and fd.name = {marker}
  output: marker read (file=%fd.name)
  priority: WARNING
""")
    storm = build_c(Path(__file__).parent / "storm.c", tmp_path / "storm")
    got: list[Event] = []
    table = SyscallTable()
    names = {"openat", "execve", "clone", "clone3", "fork", "vfork", "exit", "exit_group"}
    source = LiveSource(CaptureOptions(syscalls=names, ringbuf_pages=RING_PAGES, containers=False),
                        got.append)
    source.start()
    try:
        rs, result = load_rules([rules])
        assert not result.errors
        source.set_filter(derive(rs, rs.compiler, table, names, source.kernel_fds))
        # the reader is paused: nothing polls the ring until both have run
        assert subprocess.run([str(storm), str(EXECS)]).returncode == 0
        cat = subprocess.run(["cat", str(marker)], capture_output=True)
        assert cat.returncode == 0
        assert source.probe is not None
        lost = source.probe.lost_by_kind()
        assert lost["state"] + lost["clone"] + lost["exit"] > 0, f"the ring never filled: {lost}"
        for _ in range(200):
            source.poll(50)
            if any(e.type == "openat" and e.args.get("name") == str(marker) for e in got):
                break
        source.reader.drain()
    finally:
        source.stop()
    opened = [e for e in got if e.type == "openat" and e.args.get("name") == str(marker)]
    assert opened, f"the rule's record was refused: lost {lost}"
    assert opened[0].res is not None and opened[0].res >= 0
    assert lost["rule"] == 0, lost
