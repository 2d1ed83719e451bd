"""Issue 27 row 1: at a memory cap, MemoryErrors were counted as "1034 failed events" and the run
exited 0. A MemoryError during replay is now an error the user sees (a ScapError: one line, exit 1),
never one more failed event. The sink here is a real one that runs out of memory, as a rule's
output or the state would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiercel.events.model import Event
from tiercel.scap.reader import ScapError
from tiercel.sources.base import CaptureOptions
from tiercel.sources.replay import ReplaySource

CAPTURE = Path("/work/shared/oracles/libs-captures/curl_google.scap")   # read in place


@pytest.mark.skipif(not CAPTURE.exists(), reason="the oracle captures are not here")
def test_memory_error_is_not_a_failed_event() -> None:
    seen = 0

    def sink(ev: Event) -> None:
        nonlocal seen
        seen += 1
        if seen == 10:
            raise MemoryError
    source = ReplaySource(CAPTURE, CaptureOptions(containers=False), sink)
    source.start()
    try:
        with pytest.raises(ScapError) as e:
            source.run()
    finally:
        source.stop()
    assert "out of memory replaying record" in str(e.value) and "\n" not in str(e.value)
    assert source.counters.event_errors == 0 and seen == 10
