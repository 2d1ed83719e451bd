"""The node's identity: the `hostname` every alert carries.

As Falco: TIERCEL_HOSTNAME, or Falco's FALCO_HOSTNAME, where set (a DaemonSet sets it from
spec.nodeName through the downward API); else the host's name. An agent in a container with the
host's /proc (`--host-proc /host/proc`, hostPID) would otherwise report its own container's name:
/proc/sys/kernel/hostname answers for the *reader's* UTS namespace, whichever /proc it is read
through, so the host's name is taken in the UTS namespace of the host's init (setns, which needs
CAP_SYS_ADMIN, the agent's capability), or from the host's /etc/hostname, before the agent's own.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path

ENV_VARS = ("TIERCEL_HOSTNAME", "FALCO_HOSTNAME")
CLONE_NEWUTS = 0x04000000


def hostname(env: Mapping[str, str] | None = None, host_proc: Path = Path("/proc")) -> str:
    env = os.environ if env is None else env
    for var in ENV_VARS:
        value = env.get(var, "").strip()
        if value:
            return value
    if host_proc != Path("/proc"):
        init = host_proc / "1"
        name = _in_uts_of(init / "ns" / "uts") or _read(init / "root" / "etc" / "hostname")
        if name:
            return name
    return socket.gethostname()


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _in_uts_of(ns_path: Path) -> str:
    """The host name in the UTS namespace at ns_path, read by a throwaway thread (setns moves only
    the calling thread); "" when that namespace cannot be entered."""
    result: list[str] = []

    def enter_and_read() -> None:
        try:
            fd = os.open(ns_path, os.O_RDONLY)
        except OSError:
            return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(fd, CLONE_NEWUTS) == 0:
                result.append(socket.gethostname())
        finally:
            os.close(fd)

    t = threading.Thread(target=enter_and_read, name="tiercel-hostname")
    t.start()
    t.join()
    return result[0] if result else ""
