"""The state stage, offline: nothing is read from the /proc or /etc of the machine the test runs on,
only from the dicts and the fake /proc entries a test gives."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from tiercel.container.registry import Containers
from tiercel.state.enrich import Enricher
from tiercel.state.processes import ProcessTable
from tiercel.testing.users import GROUPS, USERS, StaticUserTable

NO_PROC = Path("/nonexistent/tiercel-testing/proc")  # a host /proc with nothing in it


def offline_enricher(users: Mapping[int, str] = USERS, groups: Mapping[int, str] = GROUPS,
                     containers: Containers | None = None, host_proc: Path = NO_PROC) -> Enricher:
    """An Enricher whose process table starts empty, knows processes only from the events it is
    given (a task seen first is made up from its event), and names users from the dicts given."""
    table = ProcessTable(host_proc, users=StaticUserTable(users, groups), containers=containers)
    return Enricher(table=table)


def write_proc_entry(proc_root: Path, pid: int, comm: str, *, ppid: int = 1, argv: Sequence[str] = (),
                     exe: str = "", cwd: str = "/", uid: int = 0, gid: int = 0, loginuid: int | None = None,
                     tty: int = 0, nspid: Sequence[int] = (), tids: Sequence[int] = (),
                     fds: Mapping[int, str] | None = None, cgroup: str = "0::/") -> Path:
    """Write what /proc/PID shows of one process under a fake /proc (`proc_root`): status, stat,
    cmdline, loginuid and cgroup files, exe and cwd links, task/TID and fd/N (links to the targets
    given: paths, "socket:[1]", "pipe:[2]", "anon_inode:[eventpoll]"). Returns the entry's folder."""
    base = proc_root / str(pid)
    (base / "fd").mkdir(parents=True, exist_ok=True)
    ids = " ".join(str(n) for n in (nspid or [pid]))
    (base / "status").write_text(f"Name:\t{comm}\nTgid:\t{pid}\nPid:\t{pid}\nPPid:\t{ppid}\n"
                                 f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\n"
                                 f"NSpid:\t{ids}\n")
    (base / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} {tty} -1 4194560 0 0 0 0\n")
    (base / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
    (base / "loginuid").write_text(str(4294967295 if loginuid is None else loginuid))
    (base / "cgroup").write_text(cgroup + "\n")
    for name, target in (("exe", exe), ("cwd", cwd)):
        if target:
            os.symlink(target, base / name)
    for tid in tids or [pid]:
        (base / "task" / str(tid)).mkdir(parents=True, exist_ok=True)
    for num, target in (fds or {}).items():
        os.symlink(target, base / "fd" / str(num))
    return base
