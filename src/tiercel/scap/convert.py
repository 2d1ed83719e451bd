"""Raw capture events -> the Event model, with the enter parameters merged into the exit event.

A capture holds an enter and an exit event per syscall. The exit becomes one Event (evt.dir '<') with
the exit's parameters followed by those only the enter carried (older exit versions lack them, e.g.
an old `openat` exit has only `fd`). The enter is also kept as its own Event (evt.dir '>'): Falco
evaluates rules on both, and its regression counts (8 `open` events for 4 opens) depend on it.

What the live probe reads from the task (tgid, comm, credentials) a capture does not store per
event; it comes from the state, and from the parameters that clone/execve/setuid exits carry.
"""

from __future__ import annotations

import posixpath
from typing import Any

from tiercel.events.model import DIR_ENTER, DIR_EXIT, Event, Process
from tiercel.scap import events as E
from tiercel.scap.reader import RawEvent
from tiercel.scap.state import set_container
from tiercel.state.processes import CLONE_THREAD, ProcessTable

NO_ID = 0xFFFFFFFF
# Internal and metadata events: never shown to rules (sysdig does not print them either).
SKIPPED_CODES = frozenset({234, 228, 272, 324, 280, 286, 148, 149, 146, 152})
_RES_PARAMS = ("res", "fd", "res_or_fd")
_UID_AFTER = {"setuid": "uid", "setresuid": "euid", "setreuid": "euid"}
_GID_AFTER = {"setgid": "gid", "setresgid": "egid", "setregid": "egid"}


class Converter:
    def __init__(self, table: ProcessTable) -> None:
        self.table = table
        self._enters: dict[int, tuple[int, dict[str, Any]]] = {}   # tid -> (code, args)

    def convert(self, raw: RawEvent) -> Event | None:
        """The Event for one raw event; None for internal events."""
        code = raw.code
        if code in SKIPPED_CODES:
            return None
        name = E.event_name(code, raw.params)
        args = E.decode(code, raw.params)
        if not E.is_exit(code):
            if name == "procexit":
                return self._event(raw, name, DIR_ENTER, {"status": args.get("status", 0)})
            self._enters[raw.tid] = (code, args)
            return self._event(raw, name, DIR_ENTER, args)
        enter = self._enters.pop(raw.tid, None)
        if enter is not None and enter[0] == code - 1:
            for k, v in enter[1].items():
                if args.get(k) is None:
                    args[k] = v
        ev = self._event(raw, name, DIR_EXIT, args)
        first = next(iter(args), None)
        if first in _RES_PARAMS and isinstance(args[first], int):
            ev.res = args[first]
        self._exit_fixups(ev)
        return ev

    def _event(self, raw: RawEvent, name: str, dir_: str, args: dict[str, Any]) -> Event:
        proc = self.table.threads.get(raw.tid)
        pid = proc.pid if proc is not None else args.get("pid") or raw.tid
        ev = Event(num=raw.num, ts=raw.ts, type=name, dir=dir_, tid=raw.tid, pid=pid, cpu=raw.cpu,
                   args=args)
        if proc is not None:
            ev.uid, ev.gid, ev.comm = proc.uid, proc.gid, proc.comm
        else:
            ev.uid = ev.gid = NO_ID
        return ev

    def _exit_fixups(self, ev: Event) -> None:
        """What the task looked like after the syscall, from the exit's parameters."""
        args = ev.args
        t = ev.type
        if t in ("execve", "execveat") and ev.res == 0:
            exe = args.get("exe") or ""
            ev.comm = args.get("comm") or posixpath.basename(exe)
            if isinstance(args.get("uid"), int):
                ev.uid = args["uid"]
            if isinstance(args.get("gid"), int):
                ev.gid = args["gid"]
            if isinstance(args.get("pid"), int):
                ev.pid = args["pid"]
        elif t in ("clone", "clone3", "fork", "vfork") and ev.res is not None:
            self._clone(ev)
        elif t in ("dup", "dup2", "dup3") and args.get("oldfd") is None:
            args["oldfd"] = args.get("fd")   # older dup events name the duplicated fd `fd`
        elif t in _UID_AFTER and ev.res == 0:
            ev.uid = _id_or(args.get(_UID_AFTER[t]), ev.uid)
        elif t in _GID_AFTER and ev.res == 0:
            ev.gid = _id_or(args.get(_GID_AFTER[t]), ev.gid)

    def _clone(self, ev: Event) -> None:
        args = ev.args
        flags = args.get("flags") or 0
        args["flags"] = flags
        if ev.res is not None and ev.res > 0:   # the parent's side: the model's clone event
            args["child_pid"] = ev.pid if flags & CLONE_THREAD else ev.res
        elif ev.res == 0 and ev.tid not in self.table.threads:
            self._child_first_seen(ev, flags)

    def _child_first_seen(self, ev: Event, flags: int) -> None:
        """A child whose parent's clone was not captured: build it from its own clone exit."""
        args = ev.args
        ptid = args.get("ptid") or 0
        parent = self.table.threads.get(ptid)
        if flags & CLONE_THREAD and parent is not None:
            parent.threads.add(ev.tid)
            self.table.threads[ev.tid] = parent
            ev.pid = parent.pid
            return
        pid = args.get("pid") or ev.tid
        cwd = args.get("cwd") or "/"
        proc = Process(pid=pid, ppid=parent.pid if parent else ptid, comm=args.get("comm") or "",
                       exe=args.get("exe") or "", args=list(args.get("args") or []),
                       cwd=cwd if cwd.endswith("/") else cwd + "/",
                       uid=_id_or(args.get("uid"), NO_ID), gid=_id_or(args.get("gid"), NO_ID),
                       parent=parent, start_ts=ev.ts)
        set_container(proc, args.get("cgroups") or [])
        self.table.add(proc, [ev.tid])
        ev.pid, ev.comm, ev.uid, ev.gid = proc.pid, proc.comm, proc.uid, proc.gid


def _id_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and value != NO_ID else default


def after_apply(ev: Event, tup: Any, threads: dict[int, Process] | None = None) -> None:
    """State the capture knows better than the model's generic handlers: the cwd and parent an
    execve reports, and both ends of a connection from the exit's socket tuple (`tup`, as decoded:
    the state stage replaces evt.arg.tuple with the fd's name)."""
    args = ev.args
    proc = ev.proc
    cgroups = args.get("cgroups")
    # an exec, or the child's side of a clone
    if (proc is not None and isinstance(cgroups, list) and cgroups and ev.res == 0
            and (ev.type in ("execve", "execveat") or ev.type in _CLONES)):
        set_container(proc, cgroups)
    if ev.type in ("execve", "execveat") and ev.res == 0 and proc is not None:
        cwd = args.get("cwd")
        if isinstance(cwd, str) and cwd.startswith("/"):
            proc.cwd = cwd if cwd.endswith("/") else cwd + "/"
        if not proc.exepath and str(args.get("exe", "")).startswith("/"):
            proc.exepath = args["exe"]
        ptid = args.get("ptid")
        if isinstance(ptid, int) and ptid > 0 and (proc.parent is None or proc.ppid != proc.parent.pid):
            # a process whose fork the capture did not hold: its parent, as the exec reports it
            parent = threads.get(ptid) if threads is not None else None
            proc.parent = parent if parent is not proc else None
            proc.ppid = parent.pid if parent is not None else ptid
    if ev.type in _TUPLE_EVENTS and isinstance(tup, tuple) and len(tup) == 4 and ev.fd is not None:
        fd = ev.fd
        fd.cip, fd.cport, fd.sip, fd.sport = tup
        if ev.type != "connect" and fd.cip in _ZERO_IPS and not fd.cport:
            fd.cip = ""   # an accept with no peer: written by a live capture that did not know it
        if fd.typechar not in ("4", "6"):
            fd.typechar = "6" if ":" in str(tup[0]) else "4"
        fd.l4proto = fd.l4proto or "tcp"
        fd.name = f"{fd.cip}:{fd.cport}->{fd.sip}:{fd.sport}"
        args["tuple"] = fd.name


_TUPLE_EVENTS = frozenset({"connect", "accept", "accept4"})
_CLONES = frozenset({"clone", "clone3", "fork", "vfork"})
_ZERO_IPS = frozenset({"0.0.0.0", "::"})
