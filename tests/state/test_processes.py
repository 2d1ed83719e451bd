"""The process table, offline: fork, clone, exec, threads, exit and reaping, from synthetic events.

Every event goes through Enricher.apply, as in a live run; nothing is read from this machine's /proc
or /etc (tiercel.testing.state).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tiercel.events.model import Event, Process
from tiercel.state.enrich import Enricher
from tiercel.testing import events as b
from tiercel.testing.state import offline_enricher

ALICE: b.Who = {"uid": 1000, "gid": 1000}  # raw events carry the task's credentials
CONTAINER_ID = "3b7c2b2d6f1c9a7e4e1f0c8b5a6d2e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture
def st() -> Enricher:
    """A table holding one login shell: bash, pid 100, alice (1000) in /home/alice, on a tty, with
    its terminal on 0-2 and a file it opened close-on-exec on 3."""
    st = offline_enricher()
    bash = b.process("bash", pid=100, ppid=1, exe="-bash", cwd="/home/alice", uid=1000, gid=1000,
                     loginuid=1000, tty=34816, start_ts=b.T0 - b.SEC,
                     fds=[b.file_fd("/dev/pts/0", n, flags=b.O_RDWR) for n in (0, 1, 2)])
    st.table.add(bash, [100])
    st.apply(b.openat("/home/alice/.bash_history", flags=b.O_RDONLY | b.O_CLOEXEC, res=3, pid=100))
    return st


def bash(st: Enricher) -> Process:
    return st.table.procs[100]


def test_a_process_added_to_the_table_gets_its_user_and_group_names(st: Enricher) -> None:
    p = bash(st)
    assert (p.user, p.group, p.loginname) == ("alice", "alice", "alice")
    assert st.table.threads[100] is p


def test_fork_copies_the_parent(st: Enricher) -> None:
    ev = st.apply(b.fork(200, pid=100, comm="bash", ts=b.T0 + 5))
    child = st.table.procs[200]
    parent = bash(st)
    assert ev.proc is parent                  # the event is the parent's
    assert child.parent is parent and child.ppid == 100 and child.pid == 200
    assert (child.comm, child.exe, child.exepath, child.args, child.cwd) == \
        (parent.comm, parent.exe, parent.exepath, parent.args, parent.cwd)
    assert (child.uid, child.gid, child.user, child.group) == (1000, 1000, "alice", "alice")
    assert (child.loginuid, child.loginname, child.tty) == (1000, "alice", 34816)
    assert child.start_ts == b.T0 + 5
    assert child.threads == {200} and st.table.threads[200] is child
    assert {n: f.name for n, f in child.fds.items()} == {n: f.name for n, f in parent.fds.items()}


def test_a_forked_child_has_its_own_fd_table(st: Enricher) -> None:
    st.apply(b.fork(200, pid=100, comm="bash"))
    st.apply(b.close(3, pid=200, comm="bash"))
    st.apply(b.openat("/tmp/child", res=4, pid=200, comm="bash"))
    assert sorted(st.table.procs[200].fds) == [0, 1, 2, 4]
    assert sorted(bash(st).fds) == [0, 1, 2, 3]


def test_clone_with_clone_files_shares_the_fd_table(st: Enricher) -> None:
    st.apply(b.clone(200, flags=b.CLONE_FILES, pid=100, comm="bash"))
    st.apply(b.openat("/tmp/shared", res=4, pid=200, comm="bash"))
    assert bash(st).fds[4].name == "/tmp/shared"


def test_exec_replaces_the_program_and_keeps_the_rest(st: Enricher) -> None:
    st.apply(b.fork(200, pid=100, comm="bash"))
    ev = st.apply(b.execve("/usr/bin/ls", ["-l", "/tmp"], pid=200, **ALICE))
    p = st.table.procs[200]
    assert ev.proc is p and ev.abspath == "/usr/bin/ls"
    assert (p.comm, p.exe, p.args, p.exepath) == ("ls", "ls", ["-l", "/tmp"], "/usr/bin/ls")
    assert (p.pid, p.ppid, p.parent, p.cwd, p.user) == (200, 100, bash(st), "/home/alice/", "alice")
    assert p.cmdline == "ls -l /tmp"


def test_exec_of_a_relative_path_is_resolved_against_the_cwd(st: Enricher) -> None:
    st.apply(b.execve("./bin/run", pid=100, **ALICE))
    assert bash(st).exepath == "/home/alice/bin/run"


def test_a_failed_exec_changes_nothing(st: Enricher) -> None:
    ev = st.apply(b.execve("/usr/bin/nope", ["x"], res=-2, pid=100, comm="bash", **ALICE))
    p = bash(st)
    assert ev.failed and (p.comm, p.exe, p.exepath, p.args) == ("bash", "-bash", "/usr/bin/bash", [])
    assert 3 in p.fds


def test_exec_drops_close_on_exec_fds(st: Enricher) -> None:
    st.apply(b.execve("/usr/bin/cat", pid=100, **ALICE))
    assert sorted(bash(st).fds) == [0, 1, 2]


def test_exec_of_a_setuid_program_takes_its_uid(st: Enricher) -> None:
    st.apply(b.execve("/usr/bin/sudo", ["id"], pid=100, uid=0, gid=0))
    p = bash(st)
    assert (p.uid, p.user, p.gid, p.group) == (0, "root", 0, "root")
    assert (p.loginuid, p.loginname) == (1000, "alice")  # the login uid is for life


def test_exec_in_a_child_sharing_the_fd_table_leaves_the_parents_fds(st: Enricher) -> None:
    """execve unshares the fd table before it closes the close-on-exec descriptors."""
    st.apply(b.clone(200, flags=b.CLONE_FILES, pid=100, comm="bash"))
    st.apply(b.execve("/usr/bin/cat", pid=200, **ALICE))
    assert sorted(st.table.procs[200].fds) == [0, 1, 2]
    assert sorted(bash(st).fds) == [0, 1, 2, 3]


@pytest.mark.parametrize(("cgroup", "container_id"), [
    (f"docker-{CONTAINER_ID}.scope", CONTAINER_ID[:12]),
    (CONTAINER_ID, CONTAINER_ID[:12]),
    ("session-3.scope", ""),
], ids=["docker systemd scope", "bare id", "host session"])
def test_exec_takes_the_container_of_its_cgroup(st: Enricher, cgroup: str, container_id: str) -> None:
    st.apply(b.fork(200, pid=100, comm="bash"))
    st.apply(b.execve("/bin/sh", cgroup=cgroup, pid=200))
    p = st.table.procs[200]
    assert p.container_id == container_id
    assert (p.container.full_id if p.container else "") == (CONTAINER_ID if container_id else "")


def test_children_inherit_the_container_and_keep_it_when_the_cgroup_is_unknown(st: Enricher) -> None:
    st.apply(b.fork(200, pid=100, comm="bash"))
    st.apply(b.execve("/bin/sh", cgroup=f"docker-{CONTAINER_ID}.scope", pid=200))
    st.apply(b.fork(201, pid=200, comm="sh"))
    st.apply(b.execve("/bin/cat", pid=201))   # no cgroup name (no BTF) and no /proc entry
    child = st.table.procs[201]
    assert child.container is st.table.procs[200].container and child.container_id == CONTAINER_ID[:12]


def test_threads_share_their_process(st: Enricher) -> None:
    ev = st.apply(b.thread(101, pid=100, comm="bash"))
    p = bash(st)
    assert ev.args["child_pid"] == 100 and 101 not in st.table.procs
    assert st.table.threads[101] is p and p.threads == {100, 101}
    st.apply(b.openat("/tmp/from-thread", res=4, pid=100, tid=101, comm="bash"))
    st.apply(b.chdir("/tmp", pid=100, tid=101, comm="bash"))
    opened = st.apply(b.openat("x", res=5, pid=100, comm="bash"))  # the leader sees both
    assert p.fds[4].name == "/tmp/from-thread" and opened.abspath == "/tmp/x"


def test_a_thread_first_seen_by_its_event_joins_its_process(st: Enricher) -> None:
    ev = st.apply(b.openat("/etc/hosts", res=4, pid=100, tid=150, comm="bash"))
    assert ev.proc is bash(st) and st.table.threads[150] is bash(st) and 150 in bash(st).threads


def test_a_thread_exit_keeps_the_process(st: Enricher) -> None:
    st.apply(b.thread(101, pid=100, comm="bash"))
    ev = st.apply(b.procexit(pid=100, tid=101, comm="bash"))
    p = bash(st)
    assert ev.proc is p and not p.exited
    assert 101 not in st.table.threads and p.threads == {100}


def _exit_leader(st: Enricher) -> None:
    st.apply(b.procexit(pid=200, tid=200, comm="bash"))


def _exit_threads_then_leader(st: Enricher) -> None:
    st.apply(b.procexit(pid=200, tid=201, comm="bash"))
    st.apply(b.procexit(pid=200, tid=200, comm="bash"))


def _exit_leader_then_threads(st: Enricher) -> None:
    st.apply(b.procexit(pid=200, tid=200, comm="bash"))
    st.apply(b.procexit(pid=200, tid=201, comm="bash"))


@pytest.mark.parametrize("exits", [_exit_leader, _exit_threads_then_leader, _exit_leader_then_threads],
                         ids=["leader (exit_group)", "threads then leader", "leader then threads"])
def test_exit_removes_the_process_and_every_thread(st: Enricher, exits: Callable[[Enricher], None]) -> None:
    st.apply(b.fork(200, pid=100, comm="bash"))
    st.apply(b.thread(201, pid=200, comm="bash"))
    child = st.table.procs[200]
    exits(st)
    assert 200 not in st.table.procs and {200, 201}.isdisjoint(st.table.threads)
    assert child.exited and child.threads == set() and child.fds == {}
    assert list(st.table.procs) == [100] and set(st.table.threads) == {100}


def test_a_late_record_of_a_thread_after_its_leader_exit_leaves_nothing_behind(st: Enricher) -> None:
    """The leader's exit read first, then a record of another thread (the soak caught a server
    thread's accept4 so): the process found again holds that thread only, and goes with it."""
    st.apply(b.fork(200, pid=100, comm="python3"))
    st.apply(b.thread(201, pid=200, comm="python3"))
    st.apply(b.procexit(pid=200, tid=200, comm="python3"))
    st.apply(b.close(5, pid=200, tid=201, comm="python3"))
    st.apply(b.procexit(pid=200, tid=201, comm="python3"))
    assert 200 not in st.table.procs and {200, 201}.isdisjoint(st.table.threads)
    assert list(st.table.procs) == [100]


def test_the_exit_event_still_carries_the_process(st: Enricher) -> None:
    st.apply(b.fork(200, pid=100, comm="bash"))
    st.apply(b.execve("/usr/bin/sleep", ["1"], pid=200))
    ev = st.apply(b.procexit(status=0, pid=200, comm="sleep"))
    assert ev.proc is not None and ev.proc.exited
    assert (ev.proc.comm, ev.proc.pid, ev.proc.ppid) == ("sleep", 200, 100)


def test_a_child_still_names_its_exited_parent(st: Enricher) -> None:
    st.apply(b.fork(200, pid=100, comm="bash"))
    st.apply(b.execve("/usr/sbin/nginx", pid=200))
    st.apply(b.fork(300, pid=200, comm="nginx"))
    st.apply(b.procexit(pid=200, comm="nginx"))
    ev = st.apply(b.execve("/bin/sh", ["-c", "id"], pid=300))
    assert ev.proc is not None and ev.proc.parent is not None
    assert ev.proc.parent.comm == "nginx" and ev.proc.parent.exited
    assert ev.proc.ancestor(2) is bash(st)


def test_an_unknown_task_is_made_up_from_its_event_and_counted(st: Enricher) -> None:
    ev = st.apply(b.openat("/etc/hosts", res=3, pid=4242, comm="cron", uid=0))
    p = st.table.procs[4242]
    assert ev.proc is p and (p.comm, p.exe, p.uid, p.user, p.ppid) == ("cron", "cron", 0, "root", 0)
    assert st.table.lazy_reads == 1
    st.apply(b.openat("/etc/passwd", res=4, pid=4242, comm="cron"))
    assert st.table.lazy_reads == 1


def test_the_exit_of_an_unknown_task_is_a_stand_in_left_out_of_the_table(st: Enricher) -> None:
    ev = st.apply(b.procexit(status=9, pid=4242, comm="ghost", uid=1000))
    assert ev.proc is not None and ev.proc.exited and (ev.proc.pid, ev.proc.comm) == (4242, "ghost")
    assert 4242 not in st.table.procs and 4242 not in st.table.threads and len(st.table) == 1


@pytest.mark.parametrize(("call", "uid", "user", "gid", "group"), [
    (b.setuid(0, pid=100, comm="bash", uid=0, gid=1000), 0, "root", 1000, "alice"),
    (b.setgid(33, pid=100, comm="bash", uid=1000, gid=33), 1000, "alice", 33, "www-data"),
    (b.setuid(0, res=-1, pid=100, comm="bash", **ALICE), 1000, "alice", 1000, "alice"),
], ids=["setuid", "setgid", "failed setuid"])
def test_set_id_calls_rename_the_user(st: Enricher, call: Event, uid: int, user: str, gid: int,
                                      group: str) -> None:
    st.apply(call)
    p = bash(st)
    assert (p.uid, p.user, p.gid, p.group) == (uid, user, gid, group)


def test_a_user_without_a_name_gets_an_empty_one(st: Enricher) -> None:
    st.apply(b.setuid(4321, pid=100, comm="bash", uid=4321, gid=1000))
    assert (bash(st).uid, bash(st).user) == (4321, "")


def test_the_table_stays_the_size_of_the_live_processes(st: Enricher) -> None:
    """10,000 short commands (fork, exec, open, exit) from one shell, some with a thread: the table
    ends as it started, and so do the shell's fds and threads."""
    for i in range(10_000):
        pid = 1000 + i % 30_000
        st.apply(b.fork(pid, pid=100, comm="bash"))
        st.apply(b.execve("/usr/bin/true", pid=pid))
        st.apply(b.openat("/etc/ld.so.cache", res=3, pid=pid, comm="true"))
        if i % 7 == 0:
            st.apply(b.thread(pid + 40_000, pid=pid, comm="true"))
        st.apply(b.procexit(pid=pid, comm="true"))
    assert list(st.table.procs) == [100] and set(st.table.threads) == {100}
    assert sorted(bash(st).fds) == [0, 1, 2, 3] and bash(st).threads == {100}


def test_processes_that_fork_and_exit_in_a_chain_keep_a_bounded_ancestry(st: Enricher) -> None:
    """A daemon that re-forks and exits, 2,000 times: the live one must not hold every exited
    generation through its parent links (they are memory the table no longer counts)."""
    st.apply(b.fork(1000, pid=100, comm="bash"))
    for pid in range(1000, 3000):
        st.apply(b.fork(pid + 1, pid=pid, comm="daemon"))
        st.apply(b.procexit(pid=pid, comm="daemon"))
    live = st.table.procs[3000]
    chain = [a for a in (live.ancestor(n) for n in range(1, 10)) if a is not None]
    assert chain[0].pid == 2999 and chain[0].exited   # its parent, exited, still named
    assert len(chain) <= 2
    assert list(st.table.procs) == [100, 3000]
