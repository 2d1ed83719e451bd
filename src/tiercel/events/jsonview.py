"""The debugging view of an event: one flat JSON object keyed by Falco field names (like
`sysdig -j`), written by `tiercel capture --json`.

The values are the field table's, the very ones conditions and outputs see. The table is handed in
(`EventView(FieldTable())`, from tiercel.rules): events/ comes before rules/ and does not import it.
Which fields appear depends on what the event has: the process's when it has one, the descriptor's
when it names one, directory and file name for files, addresses and ports for IP sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from tiercel.events.model import Event

EVENT = ("evt.num", "evt.rawtime", "evt.type", "evt.dir", "evt.cpu", "evt.res", "thread.tid", "proc.pid",
         "evt.args")
PATHS = ("evt.abspath", "evt.abspath.dst")   # only the ones the event has
PROCESS = ("proc.ppid", "proc.name", "proc.exe", "proc.exepath", "proc.cmdline", "proc.args", "proc.cwd",
           "proc.pname", "proc.aname", "user.uid", "user.name", "user.loginuid", "group.gid",
           "container.id", "proc.tty", "proc.vpid")
FD = ("fd.num", "fd.type", "fd.typechar", "fd.name")
FILE = ("fd.directory", "fd.filename")       # files and directories with a name
IP = ("fd.sip", "fd.sport", "fd.cip", "fd.cport", "fd.l4proto")

Extract = Callable[[Event], Any]


class Field(Protocol):
    @property
    def extract(self) -> Extract: ...


class FieldResolver(Protocol):
    def resolve(self, name: str, arg: str | None = None) -> Field: ...


class EventView:
    """event -> {field name: value}, with every field resolved once, here."""

    def __init__(self, fields: FieldResolver) -> None:
        def bind(names: Iterable[str]) -> tuple[tuple[str, Extract], ...]:
            return tuple((n, fields.resolve(n).extract) for n in names)

        self._event, self._paths, self._process = bind(EVENT), bind(PATHS), bind(PROCESS)
        self._fd, self._file, self._ip = bind(FD), bind(FILE), bind(IP)

    def __call__(self, ev: Event) -> dict[str, Any]:
        out = {name: get(ev) for name, get in self._event}
        for name, get in self._paths:
            value = get(ev)
            if value is not None:
                out[name] = value
        if ev.proc is not None:
            out.update((name, get(ev)) for name, get in self._process)
        fd = ev.fd
        if fd is not None:
            out.update((name, get(ev)) for name, get in self._fd)
            if fd.typechar in ("f", "d") and fd.name:
                out.update((name, get(ev)) for name, get in self._file)
            if fd.typechar in ("4", "6"):
                out.update((name, get(ev)) for name, get in self._ip)
        return out
