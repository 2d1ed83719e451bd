"""`capture --json`'s view of an event: Falco field names, the field table's values, and only the
groups of fields the event has."""

from __future__ import annotations

from tiercel.events.jsonview import EVENT, FD, FILE, IP, PROCESS, EventView
from tiercel.events.model import Event, Fd, Process
from tiercel.rules import FieldTable

VIEW = EventView(FieldTable(user_name=lambda uid: None, group_name=lambda gid: None, hostname="h"))


def _event(**kw: object) -> Event:
    return Event(num=7, ts=1_700_000_000_000_000_000, type="openat", dir="<", tid=12, pid=12, res=3,
                 args={"fd": 3, "name": "/etc/passwd", "flags": 1}, **kw)  # type: ignore[arg-type]


def _connect(**kw: object) -> Event:
    return Event(num=8, ts=1_700_000_000_000_000_000, type="connect", dir="<", tid=12, pid=12, res=-111,
                 args={"fd": 4}, **kw)  # type: ignore[arg-type]


def test_event_without_process_or_fd() -> None:
    got = VIEW(_connect())
    assert list(got) == list(EVENT)
    assert got["evt.num"] == 8 and got["evt.type"] == "connect" and got["evt.res"] == "ECONNREFUSED"
    assert got["thread.tid"] == 12 and got["evt.args"].startswith("fd=4")


def test_file_event() -> None:
    parent = Process(pid=1, ppid=0, comm="bash")
    proc = Process(pid=12, ppid=1, comm="cat", exe="cat", exepath="/usr/bin/cat", args=["/etc/passwd"],
                   parent=parent, user="root")
    ev = _event(proc=proc, fd=Fd(num=3, typechar="f", name="/etc/passwd"),
                abspath="/etc/passwd")
    got = VIEW(ev)
    assert set(got) == {*EVENT, "evt.abspath", *PROCESS, *FD, *FILE}
    assert got["proc.cmdline"] == "cat /etc/passwd" and got["proc.pname"] == "bash"
    assert got["proc.aname"] == ["bash"] and got["container.id"] == "host"
    assert (got["fd.name"], got["fd.directory"], got["fd.filename"]) == ("/etc/passwd", "/etc", "passwd")


def test_socket_event_has_addresses() -> None:
    fd = Fd(num=4, typechar="4", name="10.0.0.1:5000->10.0.0.2:80", cip="10.0.0.1",
            cport=5000, sip="10.0.0.2", sport=80, l4proto="tcp")
    got = VIEW(_connect(proc=Process(pid=12, ppid=1, comm="curl"), fd=fd))
    assert set(got) == {*EVENT, *PROCESS, *FD, *IP}
    assert (got["fd.sip"], got["fd.sport"], got["fd.l4proto"]) == ("10.0.0.2", 80, "tcp")
