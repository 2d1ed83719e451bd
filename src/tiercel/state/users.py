"""uid/gid -> names, from the host's /etc/passwd and /etc/group (read through the host's /proc)."""

from __future__ import annotations

import os
from pathlib import Path


def _read_db(paths: list[Path]) -> dict[int, str]:
    for p in paths:
        try:
            lines = p.read_text(errors="replace").splitlines()
        except OSError:
            continue
        out: dict[int, str] = {}
        for line in lines:
            parts = line.split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                out.setdefault(int(parts[2]), parts[0])
        return out
    return {}


class UserTable:
    """Names for uids and gids. Re-read when the files change, at most once per lookup miss."""

    def __init__(self, host_proc: Path = Path("/proc")) -> None:
        root = host_proc / "1" / "root" / "etc"
        self._passwd = [root / "passwd", Path("/etc/passwd")]
        self._group = [root / "group", Path("/etc/group")]
        self._users: dict[int, str] = {}
        self._groups: dict[int, str] = {}
        self._stamp: tuple[float, float] = (-1.0, -1.0)
        self._reload()

    def _mtimes(self) -> tuple[float, float]:
        def mtime(paths: list[Path]) -> float:
            for p in paths:
                try:
                    return os.stat(p).st_mtime
                except OSError:
                    continue
            return 0.0
        return (mtime(self._passwd), mtime(self._group))

    def _reload(self) -> None:
        stamp = self._mtimes()
        if stamp != self._stamp:
            self._stamp = stamp
            self._users = _read_db(self._passwd)
            self._groups = _read_db(self._group)

    def user(self, uid: int) -> str:
        name = self._users.get(uid)
        if name is None:
            self._reload()
            name = self._users.get(uid, "")
        return name

    def group(self, gid: int) -> str:
        name = self._groups.get(gid)
        if name is None:
            self._reload()
            name = self._groups.get(gid, "")
        return name
