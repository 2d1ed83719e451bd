"""User and group names for tests: a table from dicts, or passwd/group files under a fake host root."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tiercel.state.users import UserTable

USERS = {0: "root", 1: "daemon", 33: "www-data", 65534: "nobody", 1000: "alice"}
GROUPS = {0: "root", 1: "daemon", 33: "www-data", 65534: "nogroup", 1000: "alice"}


class StaticUserTable(UserTable):
    """A UserTable that reads no files: names from the dicts given, "" for any other id."""

    def __init__(self, users: Mapping[int, str] = USERS, groups: Mapping[int, str] = GROUPS) -> None:
        self._users = dict(users)
        self._groups = dict(groups)

    def user(self, uid: int) -> str:
        return self._users.get(uid, "")

    def group(self, gid: int) -> str:
        return self._groups.get(gid, "")


def write_host_etc(host_proc: Path, users: Mapping[int, str] = USERS,
                   groups: Mapping[int, str] = GROUPS) -> Path:
    """Write passwd and group where UserTable(host_proc) looks first (host_proc/1/root/etc) and
    return host_proc."""
    etc = host_proc / "1" / "root" / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text("".join(f"{name}:x:{uid}:{uid}::/:/bin/sh\n" for uid, name in users.items()))
    (etc / "group").write_text("".join(f"{name}:x:{gid}:\n" for gid, name in groups.items()))
    return host_proc
