"""An alert for a container whose metadata is on its way waits for it, bounded; the event loop never
waits (outputs/hold.py)."""

from __future__ import annotations

import threading
import time

from tiercel.events.model import Container, Event, Process
from tiercel.outputs.alert import Alert
from tiercel.outputs.hold import MetadataWait, snapshot, waiting_for


def event(container: Container | None) -> Event:
    proc = Process(pid=7, ppid=1, comm="cat", container_id=container.id if container else "",
                   container=container)
    return Event(num=1, ts=1, type="openat", dir="<", tid=7, pid=7, proc=proc)


def alert_of(c: Container) -> Alert:
    return Alert(time=1, rule="r", priority="Warning", source="syscall", output=f"name={c.name or '<NA>'}",
                 output_fields={"container.name": c.name or None}, tags=(), hostname="h")


def fresh() -> Container:
    return Container(id="0123456789ab", full_id="0123456789ab" + "0" * 52, type="docker")


def test_which_alerts_wait() -> None:
    named = fresh()
    named.name = "web"
    assert waiting_for(event(fresh())) is not None
    assert waiting_for(event(named)) is None
    assert waiting_for(event(None)) is None          # a host process
    assert waiting_for(event(Container(id="host"))) is None


def test_snapshot_keeps_the_process_as_it_was_and_shares_the_container() -> None:
    c = fresh()
    ev = event(c)
    copy = snapshot(ev)
    assert ev.proc is not None and copy.proc is not None
    ev.proc.comm = "sh"                            # a later exec changes the table's process
    assert copy.proc.comm == "cat" and copy.proc.container is c


def test_released_as_soon_as_the_metadata_arrives() -> None:
    out: list[tuple[Alert, float]] = []
    hold = MetadataWait(5.0, lambda a: out.append((a, time.monotonic())))
    c = fresh()
    hold.hold(c, lambda: alert_of(c))
    time.sleep(0.05)
    assert out == []                               # held, not sent with <NA>
    filled = time.monotonic()
    c.name = "web"
    deadline = time.monotonic() + 2
    while not out and time.monotonic() < deadline:
        time.sleep(0.001)
    hold.stop()
    assert [a.output for a, _ in out] == ["name=web"]
    assert out[0][1] - filled < 0.5
    assert (hold.waited, hold.incomplete) == (1, 0)


def test_sent_with_what_is_known_at_the_deadline() -> None:
    out: list[Alert] = []
    hold = MetadataWait(0.05, out.append)
    c = fresh()
    start = time.monotonic()
    hold.hold(c, lambda: alert_of(c))
    while not out and time.monotonic() - start < 2:
        time.sleep(0.005)
    hold.stop()
    assert [a.output for a in out] == ["name=<NA>"]
    assert time.monotonic() - start < 1
    assert (hold.waited, hold.incomplete) == (1, 1)


def test_stop_sends_everything_held() -> None:
    out: list[Alert] = []
    hold = MetadataWait(60, out.append)
    containers = [fresh() for _ in range(3)]
    for c in containers:
        hold.hold(c, lambda c=c: alert_of(c))
    hold.stop()
    assert len(out) == 3 and (hold.waited, hold.incomplete) == (3, 3)


def test_hold_never_blocks_the_caller() -> None:
    hold = MetadataWait(60, lambda a: None)
    start = time.monotonic()
    for _ in range(1000):
        c = fresh()
        hold.hold(c, lambda c=c: alert_of(c))
    took = time.monotonic() - start
    threading.Thread(target=hold.stop).start()
    assert took < 1.0 and hold.waited == 1000
