"""Container ids from cgroup paths.

Every runtime puts a container's processes in a cgroup whose name carries the container's 64-hex id;
only the spelling differs:

    docker (systemd driver)     .../docker-<id>.scope
    docker (cgroupfs driver)    /docker/<id>
    containerd CRI (systemd)    .../cri-containerd-<id>.scope
    containerd / CRI (cgroupfs) /kubepods/<qos>/pod<uid>/<id>
    CRI-O                       .../crio-<id>.scope
    podman                      .../libpod-<id>.scope, /libpod_parent/libpod-<id>
    nerdctl / plain containerd  .../nerdctl-<id>.scope, /<namespace>/<id> (CRI's own: /k8s.io/<id>)
    systemd-style cgroupsPath   .../kubepods-besteffort-pod<uid>.slice:cri-containerd:<id> (runc
      given a systemd slice:prefix:name path without the systemd driver: it becomes a directory
      of that name, e.g. below system.slice/containerd.service)

The conmon/shim helpers that runtimes place next to a container (crio-conmon-<id>.scope,
libpod-conmon-<id>.scope) are not the container.
"""

from __future__ import annotations

import re

_PREFIXED = re.compile(
    r"^(?:(docker)|(cri-containerd)|(crio)|(libpod)|(nerdctl))-([0-9a-f]{64})(?:\.scope)?$")
_SLICE = re.compile(r"^.*:(?:(docker)|(cri-containerd)|(crio)|(libpod)|(nerdctl)):([0-9a-f]{64})$")
_BARE = re.compile(r"^[0-9a-f]{64}$")
_TYPES = ("docker", "containerd", "cri-o", "podman", "containerd")
# A bare id's runtime is told by the nearest parent that names one (a CRI pod inside a kind node's
# Docker container is the pod's: /docker/<node>/kubepods/.../<id>).
_CONTEXTS = (("kubepods", "cri"), ("docker", "docker"), ("libpod", "podman"))

HOST = ""


def from_name(name: str, parents: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """(runtime, full id) from one cgroup directory name, with its parents for context."""
    m = _PREFIXED.match(name) or _SLICE.match(name)
    if m:
        kind = next(i for i in range(5) if m.group(i + 1))
        return _TYPES[kind], m.group(6)
    if _BARE.match(name):
        for parent in reversed(parents):
            for marker, runtime in _CONTEXTS:
                if marker in parent:
                    return runtime, name
        return "containerd", name
    return None


def from_path(path: str) -> tuple[str, str] | None:
    """(runtime, full id) from a cgroup path, looking from the leaf up (nested cgroups such as
    <container>/init.scope keep their container)."""
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts) - 1, -1, -1):
        found = from_name(parts[i], tuple(parts[:i]))
        if found:
            return found
    return None


def from_proc_cgroup(text: str) -> tuple[str, str] | None:
    """(runtime, full id) from the content of /proc/PID/cgroup (v2 line first, then v1 lines)."""
    lines = [line.split(":", 2) for line in text.splitlines() if line.count(":") >= 2]
    for _hierarchy, _controllers, path in sorted(lines, key=lambda p: p[0] != "0"):
        found = from_path(path)
        if found:
            return found
    return None


def short_id(full_id: str) -> str:
    """container.id: the first 12 hex digits, as Docker and Falco show it."""
    return full_id[:12]
