"""Container ids on replay, from the cgroups a capture carries (process list, execve and clone
exits), and kept when tiercel writes a capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiercel.events.model import Container, Event, Process
from tiercel.scap.state import container_of
from tiercel.scap.writer import ScapWriter
from tiercel.sources.base import CaptureOptions
from tiercel.sources.replay import ReplaySource
from tiercel.testing.events import process

ID = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"
CASES = [
    (["cpuset=/docker/" + ID, "cpu=/docker/" + ID], ("docker", ID)),
    (["cpuset=/system.slice/docker-" + ID + ".scope"], ("docker", ID)),
    (["cpu=/", "cpuset=/kubepods/besteffort/pod1234/" + ID], ("cri", ID)),
    (["cpuset=/machine.slice/libpod-" + ID + ".scope/container"], ("podman", ID)),
    (["cpuset=/kubepods.slice/kubepods-burstable.slice/crio-" + ID + ".scope"], ("cri-o", ID)),
    (["cpuset=/user.slice/user-0.slice/session-3.scope"], None),
    (["cpuset=/"], None),
    ([], None),
]


@pytest.mark.parametrize(("cgroups", "expected"), CASES, ids=lambda v: str(v)[:40])
def test_container_of(cgroups: list[str], expected: tuple[str, str] | None) -> None:
    c = container_of(cgroups)
    if expected is None:
        assert c is None
    else:
        assert c is not None and (c.type, c.full_id, c.id) == (*expected, expected[1][:12])


def _proc(pid: int, parent: Process | None, exe: str, container: Container | None) -> Process:
    return process(pid=pid, ppid=parent.pid if parent else 1, exe=exe, exepath=exe, parent=parent,
                   threads={pid}, user="root", group="root", container=container)


def test_written_capture_replays_with_its_containers(tmp_path: Path) -> None:
    app = Container(id=ID[:12], full_id=ID, type="docker")
    init = _proc(1, None, "/sbin/init", None)
    shim = _proc(50, init, "/usr/bin/containerd-shim", None)
    srv = _proc(100, shim, "/usr/bin/python3", app)
    # an exec inside the container of a process the capture first sees at that exec
    sh = _proc(101, srv, "/bin/sh", app)
    out = tmp_path / "c.scap"
    w = ScapWriter(out, hostname="test")
    w.write(Event(num=1, ts=10, type="openat", dir="<", tid=100, pid=100, res=3, proc=srv,
                  args={"fd": 3, "dirfd": -100, "name": "/etc/hosts", "flags": 0, "mode": 0}))
    w.write(Event(num=2, ts=20, type="execve", dir="<", tid=101, pid=101, res=0, comm="sh",
                  proc=sh, args={"res": 0, "exe": "/bin/sh", "args": [], "filename": "/bin/sh"}))
    w.write(Event(num=3, ts=30, type="openat", dir="<", tid=50, pid=50, res=4, proc=shim,
                  args={"fd": 4, "dirfd": -100, "name": "/run/x", "flags": 0, "mode": 0}))
    w.close()

    seen: list[tuple[str, int, str, str]] = []

    def sink(ev: Event) -> None:
        if ev.dir == "<" and ev.proc is not None:
            c = ev.proc.container
            seen.append((ev.type, ev.pid, ev.proc.container_id, c.type if c else ""))
    src = ReplaySource(out, CaptureOptions(), sink)
    src.start()
    src.run()
    src.stop()
    assert seen == [("openat", 100, ID[:12], "docker"), ("execve", 101, ID[:12], "docker"),
                    ("openat", 50, "", "")]
