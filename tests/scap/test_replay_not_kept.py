"""A replay says what the capture reader's bounds left out (list entries beyond the Header's limits,
the list bytes read through after them, oversized events): in the source's counters and in the line
`run -e` ends with."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

import tiercel.scap.reader as R
from tests.scap.test_hostile_captures import _event, _fd_entries, _gzip_file, _head
from tiercel.commands.agent import run_agent
from tiercel.commands.options import RunOptions
from tiercel.events.model import Event
from tiercel.scap import blocks as B
from tiercel.scap.header import LIMITS
from tiercel.scap.writer import block
from tiercel.sources.base import CaptureOptions
from tiercel.sources.replay import ReplaySource

RULE = """
- rule: any close
  desc: d
  condition: evt.type = close
  output: "close"
  priority: WARNING
"""


@pytest.fixture
def capture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Ten fd lists of 300 entries with room for 1000 fds, and one event over a 64 KiB bound."""
    monkeypatch.setitem(LIMITS, "fds", 1000)
    monkeypatch.setattr(R, "MAX_EVENT_BLOCK", 1 << 16)
    fd_lists = [block(0x203, struct.pack("<Q", tid) + _fd_entries(300)) for tid in range(10)]
    big = block(B.EV_V2, struct.pack("<HQQIHI", 0, 5, 1, 26, 3, 0) + bytes(1 << 17))
    return _gzip_file(tmp_path / "c.scap.gz", [_head(), *fd_lists, _event(1), big, _event(3)])


def test_replay_counters_carry_what_was_not_kept(capture: Path) -> None:
    seen: list[Event] = []
    source = ReplaySource(capture, CaptureOptions(), seen.append)
    source.start()
    source.run()
    source.stop()
    assert len(seen) == 2
    counts = source.counters
    skipped = counts.not_kept.pop("bytes of list entries after them")
    assert counts.not_kept == {"fds": 7, "events larger than 65536 bytes": 1} and skipped > 0
    assert source.counters.line().endswith(
        f"; not kept from the capture (over the reader limits): 7 fds, {skipped} bytes of list "
        "entries after them, 1 events larger than 65536 bytes")


def test_run_says_it_at_the_end(capture: Path, tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(RULE)
    out, err = io.StringIO(), io.StringIO()
    assert run_agent(RunOptions(rules=[rules], trace=capture), out, err) == 0
    assert "tiercel: 2 records, 2 events, " in err.getvalue()
    assert "not kept from the capture (over the reader limits): 7 fds, " in err.getvalue()


def test_a_capture_within_bounds_says_nothing_more(tmp_path: Path) -> None:
    path = _gzip_file(tmp_path / "ok.scap.gz", [_head(), _event(1)])
    source = ReplaySource(path, CaptureOptions(), lambda ev: None)
    source.start()
    source.run()
    source.stop()
    assert source.counters.not_kept == {} and "not kept" not in source.counters.line()
