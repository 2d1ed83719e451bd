"""The engine base on its own, with a runtime in memory: what a new engine file gets for nothing
(lookups off the event path, retried through an outage said once, a destroyed container forgotten
later), and the registry asking its engines in order."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable

from tiercel.container.engine import ContainerEngine
from tiercel.container.registry import Registry
from tiercel.events.model import Container


class MemoryEngine(ContainerEngine):
    """A runtime that knows the names in `known`, and answers only while `up` is set."""

    name = "memory"
    runtimes = ("podman",)

    def __init__(self, known: dict[str, str], on_unknown: Callable[[Container], None] | None = None) -> None:
        self.out = io.StringIO()
        super().__init__(on_unknown=on_unknown, log=self.out)
        self.known = known
        self.up = threading.Event()
        self.up.set()

    @property
    def where(self) -> str:
        return "/run/memory.sock"

    def _lookup(self, c: Container) -> bool:
        if not self.up.is_set():
            raise ConnectionError("down")
        c.name = self.known.get(c.full_id, "")
        return bool(c.name)

    def _watch(self) -> float:
        return 0.05

    def _close(self) -> None:
        self.up.clear()


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_get_answers_at_once_and_the_lookup_fills_the_same_object() -> None:
    e = MemoryEngine({"a" * 64: "web"})
    e.start()
    try:
        c = e.get("podman", "a" * 64)
        assert (c.id, c.type) == ("a" * 12, "podman")
        assert wait_until(lambda: c.name == "web")
        assert e.get("podman", "a" * 64) is c and e.lookups == 1
    finally:
        e.stop()


def test_outage_said_once_and_lookups_retried() -> None:
    e = MemoryEngine({"b" * 64: "db"})
    e.up.clear()
    e.start()
    try:
        c = e.get("podman", "b" * 64)
        assert wait_until(lambda: "not answering" in e.out.getvalue())
        e.up.set()
        assert wait_until(lambda: c.name == "db", 15)  # retried every RETRY_S
        text = e.out.getvalue()
        assert text.count("/run/memory.sock is not answering (ConnectionError)") == 1
        assert text.count("answering again") == 1
    finally:
        e.stop()


def test_unknown_is_handed_on_and_forgotten_here() -> None:
    handed: list[Container] = []
    e = MemoryEngine({}, on_unknown=handed.append)
    e.start()
    try:
        c = e.get("containerd", "c" * 64)
        assert wait_until(lambda: handed == [c])
        assert c.full_id not in e.cache
    finally:
        e.stop()


def test_a_destroyed_container_outlives_the_event() -> None:
    e = MemoryEngine({})
    c = e.get("podman", "d" * 64)
    e.gone.gone(c.full_id)
    assert e.get("podman", c.full_id) is c


def test_registry_asks_the_first_engine_that_takes_it_and_the_last_for_the_rest() -> None:
    first, third = MemoryEngine({}), MemoryEngine({})
    first.runtimes, third.runtimes = ("docker",), ("cri-o",)
    reg = Registry([first, MemoryEngine({}), third])
    assert reg.get("docker", "e" * 64) is first.cache["e" * 64]
    assert reg.get("podman", "f" * 64) is reg.engines[1].cache["f" * 64]
    assert reg.get("containerd", "0" * 64) is third.cache["0" * 64]   # named by no engine: the last's
    first.cache["1" * 64] = known = Container(id="1" * 12, full_id="1" * 64, type="docker")
    assert reg.get("podman", "1" * 64) is known          # known to an earlier engine: not the one named
    third.cache["2" * 64] = later = Container(id="2" * 12, full_id="2" * 64, type="cri-o")
    assert reg.get("docker", "2" * 64) is not later      # named by an earlier engine: not the one that knows
    assert Registry([]).get("docker", "3" * 64).id == "3" * 12


def test_metrics_count_the_containers_of_every_engine() -> None:
    from types import SimpleNamespace

    from tiercel.telemetry.tables import measure

    first, second = MemoryEngine({}), MemoryEngine({})
    first.get("podman", "4" * 64)
    second.get("podman", "5" * 64)
    second.get("podman", "6" * 64)
    assert measure(SimpleNamespace(containers=Registry([first, second]))).containers == 3
    assert measure(SimpleNamespace(containers=second)).containers == 2
