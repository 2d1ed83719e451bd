"""A stop cuts the flush short: `hurry` (what a SIGINT or SIGTERM calls) ends a running or later
`close` by its own bound, whatever an output is blocked on; what was not delivered is counted
`undelivered` (part of dropped) and said once per output."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tests.outputs.alerts import make_alert, wait_until
from tiercel.outputs.base import Item
from tiercel.outputs.dispatcher import Dispatcher, OutputStats


class _Stuck:
    """An output whose first send never returns (a receiver that never answers)."""

    max_retries = 0

    def __init__(self, name: str) -> None:
        self.name = name
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, batch: Sequence[Item]) -> int:
        self.entered.set()
        self.release.wait()
        return len(batch)

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def _close_in_thread(d: Dispatcher, timeout: float) -> threading.Thread:
    t = threading.Thread(target=d.close, args=(timeout,), daemon=True)
    t.start()
    return t


def test_hurry_during_close_ends_it_and_says_what_was_lost() -> None:
    outs = [_Stuck("a"), _Stuck("b")]
    said: list[str] = []
    d = Dispatcher(outs, capacity=100, log=said.append)
    for i in range(7):
        d.emit(make_alert(i))
    wait_until(lambda: all(o.entered.is_set() for o in outs), what="both outputs blocked")
    closing = _close_in_thread(d, timeout=3600)
    closing.join(0.2)
    assert closing.is_alive()             # the long flush is on
    d.hurry(0.1)                          # a stop signal
    closing.join(10)
    assert not closing.is_alive()
    for name in ("a", "b"):
        s = d.stats()[name]
        assert (s.offered, s.delivered, s.dropped_failed, s.undelivered, s.queued) == (7, 0, 7, 7, 0)
    lost = [line for line in said if "not delivered" in line]
    assert lost == ["tiercel: output a: 7 alerts not delivered at shutdown",
                    "tiercel: output b: 7 alerts not delivered at shutdown"]
    for o in outs:
        o.release.set()


def test_hurry_before_close_bounds_it_too() -> None:
    out = _Stuck("slow")
    said: list[str] = []
    d = Dispatcher([out], capacity=100, log=said.append)
    for i in range(3):
        d.emit(make_alert(i))
    wait_until(out.entered.is_set, what="the output blocked")
    d.hurry(0.0)
    closing = _close_in_thread(d, timeout=3600)
    closing.join(10)
    assert not closing.is_alive()
    assert d.stats()["slow"].undelivered == 3
    assert said == ["tiercel: output slow: 3 alerts not delivered at shutdown"]
    out.release.set()


def test_a_flush_that_completes_says_nothing() -> None:
    out = _Stuck("fine")
    out.release.set()
    said: list[str] = []
    d = Dispatcher([out], capacity=100, log=said.append)
    for i in range(3):
        d.emit(make_alert(i))
    d.hurry(5.0)
    d.close(timeout=60)
    s = d.stats()["fine"]
    assert (s.delivered, s.dropped, s.undelivered) == (3, 0, 0) and said == []


def test_counts_add_up_across_dispatchers() -> None:
    a = OutputStats(offered=5, delivered=1, dropped_failed=4, unwritable=1, undelivered=3, retried=2)
    b = OutputStats(offered=2, delivered=2, queued=0, dropped_full=0)
    a.add(b)
    assert (a.offered, a.delivered, a.dropped, a.unwritable, a.undelivered, a.retried) == (7, 3, 4, 1, 3, 2)
