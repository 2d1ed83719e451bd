"""A storm of 100,000 alerts while four outputs fail at once, beside one healthy file:

- stdout is a pipe nobody reads;
- the file output's disk (a 256 KiB tmpfs) is full after a few hundred alerts;
- the program exits after every alert;
- the HTTP server answers 500 three times, then recovers.

emit() never waits (the storm ends while the pipe is still blocked), the healthy file gets every
alert, and for every output delivered + dropped = produced, with each receiver holding exactly the
delivered alerts.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.outputs.alerts import NASTY, lines_of, make_alert
from tiercel.config import HttpOutput as HttpConf
from tiercel.outputs.base import Format
from tiercel.outputs.dispatcher import Dispatcher
from tiercel.outputs.file import FileOutput
from tiercel.outputs.http import HttpOutput
from tiercel.outputs.program import ProgramOutput
from tiercel.outputs.stdout import StreamOutput
from tiercel.testing.receivers import HttpReceiver

STORM = 100_000
JSON = Format()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "full"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_storm_with_every_fault(tmp_path: Path, small_disk: Path) -> None:
    r, w = os.pipe()                                   # stdout nobody reads
    http = HttpReceiver(fail_first=3)
    got = tmp_path / "program.txt"
    outputs = [
        StreamOutput(w, JSON, "stdout"),
        FileOutput(str(small_disk / "events.txt"), JSON, keep_alive=True),
        ProgramOutput(f"read -r line; printf '%s\\n' \"$line\" >> {got}", JSON, keep_alive=True,
                      backoff_max=0.02),
        HttpOutput(HttpConf(enabled=True, url=http.url, max_retries=5), JSON),
        healthy := FileOutput(str(tmp_path / "healthy.txt"), JSON, keep_alive=True),
    ]
    healthy.name = "healthy"
    d = Dispatcher(outputs, capacity=1000, capacities={"healthy": STORM, "program": 20})
    alerts = [make_alert(i, NASTY if i % 100 == 0 else "x") for i in range(STORM)]
    t0 = time.perf_counter()
    for a in alerts:
        d.emit(a)
    rate = STORM / (time.perf_counter() - t0)
    assert d.stats()["stdout"].delivered < STORM       # the pipe is still blocked: emit did not wait
    d.close(timeout=20)
    os.close(r)                                        # unblocks the abandoned stdout worker
    print(f"\nstorm: {rate:,.0f} alerts/s emitted into 5 outputs")
    stats = d.stats()
    for name, s in stats.items():
        print(f"  {name}: {s}")
        assert s.offered == STORM and s.delivered + s.dropped == STORM and s.queued == 0, name

    assert stats["healthy"].delivered == STORM
    healthy_lines = lines_of(tmp_path / "healthy.txt")
    assert [json.loads(x)["output_fields"]["n"] for x in healthy_lines] == list(range(STORM))

    full_lines = lines_of(small_disk / "events.txt")    # disk full: whole lines only, all counted
    assert 0 < len(full_lines) == stats["file"].delivered < STORM
    assert all(json.loads(x) for x in full_lines)

    program_lines = lines_of(got)                       # one process per alert: all it read, counted
    assert len(program_lines) == stats["program"].delivered >= 20
    assert all(json.loads(x) for x in program_lines)

    h = stats["http"]                                   # three 500s, retried, then every one through
    assert h.retried == 3 and h.dropped_failed == 0 and len(http.bodies) == h.delivered >= 1000
    assert http.bad == []
    assert stats["stdout"].dropped > 0
    http.close()
