"""The state a capture starts with (everything before its first event), bounded in size.

A capture can claim any number of processes, fds, users and interfaces; the Header keeps at most
LIMITS of each kind and counts what it did not keep in `dropped`, so a small crafted file (a gzip of
fd-list blocks) cannot grow the reader's memory without end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tiercel.scap import blocks as B

# How many entries of each kind the Header keeps (about 100 MB at most, all kinds full).
LIMITS = {"threads": 1 << 17, "fds": 1 << 19, "fds_per_thread": 1 << 16, "users": 1 << 16,
          "groups": 1 << 16, "interfaces": 1 << 12}


@dataclass(slots=True)
class Header:
    """Everything before the first event: the state at capture start.

    The `add_*` methods keep an entry and return True, or count it in `dropped` and return False
    when its kind is full: the reader then skips the rest of that block unparsed and adds its size to
    `skipped_bytes` (a crafted block of millions of entries costs neither memory nor time).
    """

    version: tuple[int, int] = (0, 0)
    hostname: str = ""
    num_cpus: int = 0
    boot_ts: int = 0
    threads: dict[int, B.ThreadInfo] = field(default_factory=dict)
    fds: dict[int, list[B.FdInfo]] = field(default_factory=dict)   # tid -> its fds
    users: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    interfaces: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # entries not kept, by kind
    skipped_bytes: int = 0   # list entries read through unparsed once their kind was full
    fd_count: int = 0

    def _drop(self, kind: str) -> bool:
        self.dropped[kind] = self.dropped.get(kind, 0) + 1
        return False

    def add_thread(self, t: B.ThreadInfo) -> bool:
        if t.tid not in self.threads and len(self.threads) >= LIMITS["threads"]:
            return self._drop("threads")
        self.threads[t.tid] = t
        return True

    def fd_list(self, tid: int) -> None:
        """An fd list block for `tid` begins (it may have no entries)."""
        if tid in self.fds or len(self.fds) < LIMITS["threads"]:
            self.fds.setdefault(tid, [])

    def add_fd(self, tid: int, fd: B.FdInfo) -> bool:
        fds = self.fds.get(tid)
        if fds is None or self.fd_count >= LIMITS["fds"] or len(fds) >= LIMITS["fds_per_thread"]:
            return self._drop("fds")
        fds.append(fd)
        self.fd_count += 1
        return True

    def add_user(self, uid: int, name: str) -> bool:
        if uid not in self.users and len(self.users) >= LIMITS["users"]:
            return self._drop("users")
        self.users[uid] = name
        return True

    def add_group(self, gid: int, name: str) -> bool:
        if gid not in self.groups and len(self.groups) >= LIMITS["groups"]:
            return self._drop("groups")
        self.groups[gid] = name
        return True

    def add_interface(self, name: str) -> bool:
        if len(self.interfaces) >= LIMITS["interfaces"]:
            return self._drop("interfaces")
        self.interfaces.append(name)
        return True
