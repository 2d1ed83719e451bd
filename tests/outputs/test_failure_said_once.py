"""An output that fails at run time says so once, with its cause, and once more when it delivers
again; outputs to pipes and devices work or fail with the system's own reason."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from tests.outputs.alerts import make_alert, wait_until
from tiercel.outputs.base import Format, Item, OutputError
from tiercel.outputs.dispatcher import Dispatcher
from tiercel.outputs.file import FileOutput


class _Flaky:
    name = "flaky"
    max_retries = 0

    def __init__(self) -> None:
        self.down = True
        self.got = 0

    def send(self, batch: Sequence[Item]) -> int:
        if self.down:
            raise OutputError("flaky: connection refused")
        self.got += len(batch)
        return len(batch)

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_failing_and_recovering_are_each_said_once() -> None:
    out, said = _Flaky(), []
    d = Dispatcher([out], capacity=100, log=said.append)
    for i in range(5):
        d.emit(make_alert(i))
        wait_until(lambda i=i: d.stats()["flaky"].dropped == i + 1)   # one batch at a time
    out.down = False
    for i in range(5):
        d.emit(make_alert(i))
    d.close(timeout=10)
    assert out.got == 5
    assert said == [
        "tiercel: output flaky is failing: flaky: connection refused (alerts are retried, then "
        "dropped and counted; said again when it delivers)",
        "tiercel: output flaky delivers again (5 alerts dropped while it failed)"]


def test_dev_full_names_its_cause() -> None:
    said: list[str] = []
    d = Dispatcher([FileOutput("/dev/full", Format(), keep_alive=False)], capacity=100, log=said.append)
    d.emit(make_alert(1))
    d.close(timeout=10)
    s = d.stats()["file"]
    assert (s.delivered, s.dropped_failed, s.unwritable) == (0, 1, 0)
    assert len(said) == 1 and "cannot write to /dev/full: No space left on device" in said[0]


def test_file_output_to_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "alerts"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    d = Dispatcher([FileOutput(str(fifo), Format(), keep_alive=True)], capacity=100,
                   log=lambda line: None)
    for i in range(10):
        d.emit(make_alert(i))
    d.close(timeout=10)
    reader.join(10)
    assert d.stats()["file"].delivered == 10 and got[0].count(b"\n") == 10
