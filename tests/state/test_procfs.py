"""Seeding the process table from /proc, and reading a task first seen by an event: from a fake /proc."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiercel.state.enrich import Enricher
from tiercel.state.processes import ProcessTable
from tiercel.testing import events as b
from tiercel.testing.state import write_proc_entry
from tiercel.testing.users import StaticUserTable

CONTAINER_ID = "3b7c2b2d6f1c9a7e4e1f0c8b5a6d2e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture
def proc_root(tmp_path: Path) -> Path:
    """systemd (1) -> sshd (100) -> bash (200, two threads, in a container's pid namespace as 7)."""
    root = tmp_path / "proc"
    workdir = tmp_path / "work"
    workdir.mkdir()
    write_proc_entry(root, 1, "systemd", ppid=0, argv=["/sbin/init", "splash"],
                     exe="/usr/lib/systemd/systemd")
    write_proc_entry(root, 100, "sshd", argv=["sshd: alice [priv]"], exe="/usr/sbin/sshd", loginuid=1000)
    write_proc_entry(root, 200, "bash", ppid=100, argv=["-bash"], exe="/usr/bin/bash", cwd="/home/alice",
                     uid=1000, gid=1000, loginuid=1000, tty=34816, nspid=[200, 7], tids=[200, 201],
                     fds={0: "/dev/pts/0", 3: "socket:[4242]", 4: "pipe:[77]", 5: "anon_inode:[eventpoll]",
                          6: str(workdir)},
                     cgroup=f"0::/system.slice/docker-{CONTAINER_ID}.scope")
    (root / "self").mkdir()          # not a pid: ignored
    return root


def test_seed_reads_every_process_and_links_the_parents(proc_root: Path) -> None:
    table = ProcessTable(proc_root, users=StaticUserTable())
    table.seed()
    assert sorted(table.procs) == [1, 100, 200]
    init, sshd, bash = table.procs[1], table.procs[100], table.procs[200]
    assert bash.parent is sshd and sshd.parent is init and init.parent is None
    assert (table.threads[200], table.threads[201]) == (bash, bash) and bash.threads == {200, 201}


def test_seed_reads_what_proc_shows_of_a_process(proc_root: Path) -> None:
    table = ProcessTable(proc_root, users=StaticUserTable())
    table.seed()
    bash, init = table.procs[200], table.procs[1]
    assert (bash.comm, bash.exe, bash.args, bash.exepath, bash.cwd) == \
        ("bash", "-bash", [], "/usr/bin/bash", "/home/alice/")
    assert (init.exe, init.args, init.exepath) == ("/sbin/init", ["splash"], "/usr/lib/systemd/systemd")
    assert (bash.uid, bash.user, bash.gid, bash.group) == (1000, "alice", 1000, "alice")
    assert (bash.loginuid, bash.loginname, init.loginuid) == (1000, "alice", -1)
    assert (bash.vpid, bash.tty, init.vpid) == (7, 34816, 1)
    assert bash.container_id == CONTAINER_ID[:12] and init.container_id == ""


def test_seed_reads_the_fds(proc_root: Path) -> None:
    table = ProcessTable(proc_root, users=StaticUserTable())
    table.seed()
    fds = table.procs[200].fds
    assert {n: fd.typechar for n, fd in fds.items()} == {0: "f", 3: "o", 4: "p", 5: "l", 6: "d"}
    assert fds[0].name == "/dev/pts/0" and fds[6].name.endswith("/work")


def test_seed_leaves_out_the_agents_own_fds(proc_root: Path) -> None:
    write_proc_entry(proc_root, os.getpid(), "tiercel", ppid=1, argv=["tiercel", "run"],
                     exe="/usr/bin/tiercel", fds={3: "anon_inode:bpf-map", 4: "/etc/hostname"})
    table = ProcessTable(proc_root, users=StaticUserTable())
    table.seed()
    assert table.procs[os.getpid()].fds == {} and table.procs[os.getpid()].comm == "tiercel"
    assert len(table.procs[200].fds) == 5


def test_a_task_first_seen_by_an_event_is_read_from_proc(proc_root: Path) -> None:
    table = ProcessTable(proc_root, users=StaticUserTable())
    table.add(b.process("sshd", pid=100, ppid=1), [100])
    st = Enricher(table=table)
    ev = st.apply(b.openat("notes", res=9, pid=200, tid=201, comm="whatever"))
    bash = table.procs[200]
    assert ev.proc is bash and table.lazy_reads == 1
    assert (bash.comm, bash.exepath, bash.parent) == ("bash", "/usr/bin/bash", table.procs[100])
    assert ev.abspath == "/home/alice/notes" and sorted(bash.fds) == [0, 3, 4, 5, 6, 9]
    assert table.threads[201] is bash
