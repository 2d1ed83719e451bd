"""The debugging view of an event: one flat JSON object keyed by Falco field names (like
`sysdig -j`), written by `tiercel capture --json`."""

from __future__ import annotations

import posixpath
from typing import Any

from tiercel.events.model import Event

ANCESTORS = 8


def event_fields(ev: Event) -> dict[str, Any]:
    out: dict[str, Any] = {
        "evt.num": ev.num, "evt.rawtime": ev.ts, "evt.type": ev.type, "evt.dir": ev.dir,
        "evt.cpu": ev.cpu, "evt.res": ev.res, "thread.tid": ev.tid, "proc.pid": ev.pid,
        "evt.args": {k: list(v) if isinstance(v, tuple) else v for k, v in ev.args.items()},
    }
    if ev.abspath is not None:
        out["evt.abspath"] = ev.abspath
    if ev.abspath_dst is not None:
        out["evt.abspath.dst"] = ev.abspath_dst
    p = ev.proc
    if p is not None:
        parent = p.parent
        out.update({
            "proc.ppid": p.ppid, "proc.name": p.comm, "proc.exe": p.exe, "proc.exepath": p.exepath,
            "proc.cmdline": p.cmdline, "proc.args": " ".join(p.args), "proc.cwd": p.cwd,
            "proc.pname": parent.comm if parent else None,
            "proc.aname": [a.comm for a in _ancestors(ev)],
            "user.uid": p.uid, "user.name": p.user, "user.loginuid": p.loginuid,
            "group.gid": p.gid, "container.id": p.container_id or "host", "proc.tty": p.tty,
            "proc.vpid": p.vpid,
        })
    fd = ev.fd
    if fd is not None:
        out.update({"fd.num": fd.num, "fd.type": fd.type, "fd.typechar": fd.typechar,
                    "fd.name": fd.name})
        if fd.typechar in ("f", "d") and fd.name:
            out["fd.directory"] = posixpath.dirname(fd.name)
            out["fd.filename"] = posixpath.basename(fd.name)
        if fd.typechar in ("4", "6"):
            out.update({"fd.sip": fd.sip, "fd.sport": fd.sport, "fd.cip": fd.cip,
                        "fd.cport": fd.cport, "fd.l4proto": fd.l4proto})
    return out


def _ancestors(ev: Event) -> list[Any]:
    out: list[Any] = []
    p = ev.proc.parent if ev.proc else None
    while p is not None and len(out) < ANCESTORS:
        out.append(p)
        p = p.parent
    return out
