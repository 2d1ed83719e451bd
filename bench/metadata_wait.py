"""What the metadata wait (tiercel/outputs/hold.py) costs: per alert that does not wait (the check on
the event path), and for one that waits, the time from its container's metadata arriving to its
dispatch (the holder re-checks every POLL_S). Prints medians; never asserts."""

from __future__ import annotations

import statistics
import threading
import time

from tiercel.events.model import Container, Event, Process
from tiercel.outputs.hold import MetadataWait, snapshot, waiting_for


def event(c: Container) -> Event:
    return Event(num=1, ts=1, type="openat", dir="<", tid=7, pid=7,
                 proc=Process(pid=7, ppid=1, comm="cat", container_id=c.id, container=c))


def main() -> None:
    named = Container(id="0123456789ab", full_id="0" * 64, name="web")
    ev = event(named)
    n = 200_000
    start = time.perf_counter_ns()
    for _ in range(n):
        waiting_for(ev)
    print(f"alert that does not wait: {(time.perf_counter_ns() - start) / n:.0f} ns added (the check)")
    fresh = Container(id="0123456789ab", full_id="0" * 64)
    start = time.perf_counter_ns()
    for _ in range(20_000):
        snapshot(event(fresh))
    print(f"alert that waits, on the event path: {(time.perf_counter_ns() - start) / 20_000:.0f} ns "
          "(copy of event and process)")
    lags = []
    for _ in range(50):
        done = threading.Event()
        sent: list[float] = []
        hold = MetadataWait(5.0, lambda a, sent=sent, done=done: (
            sent.append(time.perf_counter()), done.set()))
        c = Container(id="0123456789ab", full_id="0" * 64)
        hold.hold(c, lambda: None)  # type: ignore[arg-type, return-value]
        time.sleep(0.02)
        arrived = time.perf_counter()
        c.name = "web"
        done.wait(2)
        hold.stop()
        lags.append((sent[0] - arrived) * 1000)
    print(f"alert that waited: dispatched {statistics.median(lags):.1f} ms (median; max "
          f"{max(lags):.1f}) after its metadata arrived")


if __name__ == "__main__":
    main()
