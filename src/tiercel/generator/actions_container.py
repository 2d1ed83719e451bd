"""Actions inside a throw-away container on the local engine (--network none)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from tiercel.generator.base import Context, action


def _docker() -> str | None:
    if not shutil.which("docker"):
        return "no docker command"
    if not (os.path.exists("/var/run/docker.sock") or os.environ.get("DOCKER_HOST")):
        return "no Docker engine"
    return None


def _docker_run(*args: str) -> str:
    out = subprocess.run(["docker", *args], check=True, capture_output=True)
    return out.stdout.decode().strip()


def container(ctx: Context) -> str:
    """The run's container (started once, removed by ctx.close): name."""
    if ctx.container is None:
        name = ctx.tag
        _docker_run("run", "-d", "--rm", "--name", name, "--network", "none", "--cap-add", "SYS_ADMIN",
                    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                    ctx.image, "sleep", "3600")
        ctx.container = name
        ctx.cleanups.append(lambda: _remove(name))
    return ctx.container


def _exec(ctx: Context, *argv: str, tty: bool = False) -> None:
    name = container(ctx)
    cmd = ["docker", "exec", *(["-t"] if tty else []), name, *argv]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def _cid(ctx: Context) -> dict[str, Any]:
    name = container(ctx)
    return {"container.id": _docker_run("inspect", "-f", "{{.Id}}", name)[:12], "container.name": name}


@action("Terminal shell in container", where="container", available=_docker)
def terminal_shell_in_container(ctx: Context) -> dict[str, Any]:
    """docker exec -t C sh -c true."""
    _exec(ctx, "sh", "-c", "true", tty=True)
    return {"proc.name": "sh", "user.name": "root", **_cid(ctx)}


@action("Non-interactive shell in container", where="container", available=_docker)
def shell_in_container(ctx: Context) -> dict[str, Any]:
    """docker exec C sh -c true."""
    _exec(ctx, "sh", "-c", "true")
    return {"proc.name": "sh", "user.name": "root", **_cid(ctx)}


@action("Read sensitive file untrusted", where="container", available=_docker)
def read_sensitive_file_in_container(ctx: Context) -> dict[str, Any]:
    """docker exec C cat /etc/shadow."""
    _exec(ctx, "cat", "/etc/shadow")
    return {"proc.name": "cat", "fd.name": "/etc/shadow", "user.name": "root", **_cid(ctx)}


@action("Drop and execute new binary in container", where="container", available=_docker)
def drop_and_execute(ctx: Context) -> dict[str, Any]:
    """Copy busybox to /tmp in the container and run the copy."""
    _exec(ctx, "busybox", "cp", "/bin/busybox", "/tmp/true")
    _exec(ctx, "/tmp/true")
    _exec(ctx, "busybox", "rm", "/tmp/true")
    return {"proc.name": "true", **_cid(ctx)}


@action("Mount in container", where="container", available=_docker)
def mount_in_container(ctx: Context) -> dict[str, Any]:
    """Mount and unmount a tmpfs inside the container."""
    _exec(ctx, "busybox", "mkdir", "-p", "/tmp/mnt")
    _exec(ctx, "busybox", "mount", "-t", "tmpfs", "tiercel-gen", "/tmp/mnt")
    _exec(ctx, "busybox", "umount", "/tmp/mnt")
    return {"proc.name": "busybox", **_cid(ctx)}


@action("Detect release_agent file container escapes", where="container", available=_docker)
def release_agent(ctx: Context) -> dict[str, Any]:
    """Write a file named release_agent inside the container (not a cgroup file)."""
    _exec(ctx, "touch", "/tmp/release_agent")
    _exec(ctx, "busybox", "rm", "/tmp/release_agent")
    return {"proc.name": "touch", **_cid(ctx)}


@action("Launch sensitive mount container", where="container", available=_docker)
def sensitive_mount_container(ctx: Context) -> dict[str, Any]:
    """Start (and remove) a container with the host's /etc mounted read-only."""
    name = f"{ctx.tag}-mount"
    cid = _docker_run("run", "-d", "--rm", "--name", name, "--network", "none", "-v", "/etc:/host-etc:ro",
                      ctx.image, "sleep", "60")
    ctx.cleanups.append(lambda: _remove(name))
    return {"container.id": cid[:12], "container.name": name}


@action("Launch suspicious network tool in container", where="container", maturity="incubating",
        available=_docker)
def network_tool_in_container(ctx: Context) -> dict[str, Any]:
    """Run a program named nmap (busybox under another name) in the container."""
    _exec(ctx, "busybox", "ln", "-sf", "/bin/busybox", "/bin/nmap")
    subprocess.run(["docker", "exec", container(ctx), "/bin/nmap"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _exec(ctx, "busybox", "rm", "/bin/nmap")
    return {"proc.name": "nmap", **_cid(ctx)}


def _remove(name: str) -> None:
    subprocess.run(["docker", "rm", "-f", name], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
