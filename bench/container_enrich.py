"""Cost of container enrichment per event, with a warm cache.

Prints the time per event of the state stage (Enricher.apply) for an exec whose cgroup names a
container (parse the cgroup name, find the container in the registry's cache) against an exec on the
host, and for an ordinary open in a container against one on the host (containers cost nothing
there: the process already carries its container), plus reading container.name and k8s.pod.name.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tiercel.container.docker import DockerEngine
from tiercel.events.model import Event
from tiercel.rules import FieldTable
from tiercel.testing.events import execve, openat, process
from tiercel.testing.state import offline_enricher

N = 200_000
ID = "3b7c2b2d6f1c9a7e4e1f0c8b5a6d2e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def per_event(make: Callable[[int], Event], apply: Callable[[Event], object]) -> float:
    events = [make(i) for i in range(N)]
    t0 = time.perf_counter()
    for ev in events:
        apply(ev)
    return (time.perf_counter() - t0) / N * 1e9


def main() -> None:
    registry = DockerEngine("/nonexistent.sock")  # warm cache: nothing to ask a daemon
    c = registry.get("docker", ID)
    c.name, c.labels = "web", {"io.kubernetes.pod.name": "web-0"}
    enricher = offline_enricher(containers=registry)
    for pid, in_container in ((100, True), (200, False)):
        enricher.table.add(process("app", pid=pid, ppid=1, container=c if in_container else None), [pid])

    def exec_ev(pid: int, cgroup: str) -> Callable[[int], Event]:
        return lambda i: execve("/bin/app", exe="app", cgroup=cgroup, pid=pid, num=i, ts=i)

    def open_ev(pid: int) -> Callable[[int], Event]:
        return lambda i: openat("/etc/hosts", pid=pid, num=i, ts=i)

    rows = [
        ("execve in a container", per_event(exec_ev(100, ID), enricher.apply)),
        ("execve on the host", per_event(exec_ev(200, "session-1.scope"), enricher.apply)),
        ("openat in a container", per_event(open_ev(100), enricher.apply)),
        ("openat on the host", per_event(open_ev(200), enricher.apply)),
    ]
    fields = FieldTable()
    sample = enricher.apply(open_ev(100)(0))
    for name in ("container.name", "k8s.pod.name", "container.id"):
        extract = fields.resolve(name, None).extract
        rows.append((f"read {name}", per_event(lambda i: sample, extract)))
    for label, ns in rows:
        print(f"{label:28s} {ns:8.0f} ns/event")


if __name__ == "__main__":
    main()
