"""uid/gid names from the host's passwd and group files (a fake host root under tmp_path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiercel.state.processes import ProcessTable
from tiercel.state.users import UserTable
from tiercel.testing import events as b
from tiercel.testing.state import offline_enricher
from tiercel.testing.users import write_host_etc

USERS = {0: "root", 33: "www-data", 1000: "alice"}
GROUPS = {0: "root", 33: "www-data", 100: "users"}


@pytest.fixture
def host(tmp_path: Path) -> Path:
    return write_host_etc(tmp_path / "proc", USERS, GROUPS)


@pytest.mark.parametrize(("uid", "user"), [(0, "root"), (33, "www-data"), (1000, "alice"), (4321, "")])
def test_user_names(host: Path, uid: int, user: str) -> None:
    assert UserTable(host).user(uid) == user


@pytest.mark.parametrize(("gid", "group"), [(0, "root"), (100, "users"), (1000, "")])
def test_group_names(host: Path, gid: int, group: str) -> None:
    assert UserTable(host).group(gid) == group


def test_the_first_entry_of_a_uid_wins_and_broken_lines_are_skipped(host: Path) -> None:
    passwd = host / "1/root/etc/passwd"
    passwd.write_text("alice:x:1000:1000::/home/alice:/bin/bash\n"
                      "broken line\n"
                      "nouid:x:abc:1::/:/bin/sh\n"
                      "toor:x:1000:0::/root:/bin/sh\n")
    users = UserTable(host)
    assert (users.user(1000), users.user(0)) == ("alice", "")


def test_a_user_added_later_is_found_on_the_next_miss(host: Path) -> None:
    users = UserTable(host)
    assert users.user(1001) == ""
    passwd = host / "1/root/etc/passwd"
    passwd.write_text(passwd.read_text() + "bob:x:1001:1001::/home/bob:/bin/sh\n")
    st = passwd.stat()
    os.utime(passwd, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a changed file, no waiting
    assert users.user(1001) == "bob" and users.user(1000) == "alice"


def test_the_process_table_names_users_from_the_host(host: Path) -> None:
    table = ProcessTable(host)
    table.add(b.process("nginx", pid=100, ppid=1, uid=33, gid=33, loginuid=1000), [100])
    p = table.procs[100]
    assert (p.user, p.group, p.loginname) == ("www-data", "www-data", "alice")


def test_the_offline_state_names_users_from_its_dicts() -> None:
    st = offline_enricher(users={7: "seven"}, groups={8: "eight"})
    ev = st.apply(b.openat("/tmp/x", pid=100, comm="app", uid=7, gid=8))
    assert ev.proc is not None and (ev.proc.user, ev.proc.group) == ("seven", "eight")
