"""Container ids from the cgroup paths each runtime and layout produces."""

from __future__ import annotations

import pytest

from tiercel.container import cgroup

ID = "3b7c2b2d6f1c9a7e4e1f0c8b5a6d2e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9"

PATHS = [
    ("docker systemd v2", f"/system.slice/docker-{ID}.scope", ("docker", ID)),
    ("docker cgroupfs v1", f"/docker/{ID}", ("docker", ID)),
    ("docker nested init", f"/system.slice/docker-{ID}.scope/init.scope", ("docker", ID)),
    ("containerd cri systemd",
     f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice/cri-containerd-{ID}.scope",
     ("containerd", ID)),
    ("kubepods cgroupfs", f"/kubepods/besteffort/pod0b1c2d3e-aaaa-bbbb-cccc-111122223333/{ID}", ("cri", ID)),
    ("cri-o", f"/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope", ("cri-o", ID)),
    ("cri-o conmon is not the container", f"/kubepods.slice/kubepods-pod1.slice/crio-conmon-{ID}.scope",
     None),
    ("podman rootful", f"/machine.slice/libpod-{ID}.scope", ("podman", ID)),
    ("podman rootless",
     f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container",
     ("podman", ID)),
    ("podman cgroupfs", f"/libpod_parent/libpod-{ID}", ("podman", ID)),
    ("podman conmon", f"/machine.slice/libpod-conmon-{ID}.scope", None),
    ("nerdctl", f"/system.slice/nerdctl-{ID}.scope", ("containerd", ID)),
    ("containerd namespace", f"/default/{ID}", ("containerd", ID)),
    ("containerd CRI without cgroup_parent", f"/k8s.io/{ID}", ("containerd", ID)),
    ("kubepods cgroupfs v1 burstable", f"/kubepods/burstable/pod0b1c2d3e-aaaa/{ID}", ("cri", ID)),
    ("cri-o cgroupfs", f"/kubepods/besteffort/pod0b1c2d3e-aaaa/crio-{ID}", ("cri-o", ID)),
    ("systemd path without the systemd driver",
     f"/system.slice/containerd.service/kubepods-besteffort-pod0b1c2d3e_aaaa.slice:cri-containerd:{ID}",
     ("containerd", ID)),
    ("cri-o slice path", f"/kubepods-pod1.slice:crio:{ID}", ("cri-o", ID)),
    ("k3s cgroupfs", f"/kubepods/besteffort/pod0b1c2d3e-aaaa/{ID}/init", ("cri", ID)),
    ("kind: a pod inside a node container", f"/docker/{ID[::-1]}/kubepods/besteffort/pod1/{ID}",
     ("cri", ID)),
    ("host service", "/system.slice/ssh.service", None),
    ("host user session", "/user.slice/user-0.slice/session-3.scope", None),
    ("root", "/", None),
    ("short hex is not an id", "/docker/3b7c2b2d6f1c", None),
]


@pytest.mark.parametrize(("path", "expected"), [p[1:] for p in PATHS], ids=[p[0] for p in PATHS])
def test_from_path(path: str, expected: tuple[str, str] | None) -> None:
    assert cgroup.from_path(path) == expected


def test_from_proc_cgroup_v1_lines() -> None:
    text = f"12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/\n"
    assert cgroup.from_proc_cgroup(text) == ("docker", ID)


def test_from_proc_cgroup_v2_line_wins() -> None:
    text = f"0::/system.slice/docker-{ID}.scope\n"
    assert cgroup.from_proc_cgroup(text) == ("docker", ID)


def test_host_process() -> None:
    assert cgroup.from_proc_cgroup("0::/user.slice/user-0.slice/session-1.scope\n") is None


def test_short_id() -> None:
    assert cgroup.short_id(ID) == ID[:12]
