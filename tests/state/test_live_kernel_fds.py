"""The kernel as the fd table, live: on a mixed socket workload, every fd field the kernel describes
equals what the state computed from the records before it (all records pass here: no filter), field
by field, except where the kernel knows more (a connecting socket's own end, l4proto of unix sockets
and of sockets with no end yet: libsinsp's <NA>)."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.livecapture import LiveCapture
from tiercel.events.model import Event, Fd
from tiercel.state.enrich import Enricher
from tiercel.state.processes import ProcessTable

pytestmark = pytest.mark.live
FIELDS = ("typechar", "l4proto", "sip", "sport", "cip", "cport", "is_server", "name")
SOCKET_CALLS = {"socket", "connect", "bind", "listen", "accept", "accept4", "dup", "dup2", "dup3", "fcntl"}

WORKLOAD = r'''
import os, socket
pairs = []
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(fam); s.bind((host, 0)); s.listen(8)
    for _ in range(3):
        c = socket.socket(fam); c.connect(s.getsockname()[:2]); a, _ = s.accept()
        os.dup(c.fileno()); os.dup2(a.fileno(), 60); pairs.append((c, a))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(("127.0.0.1", 9)); os.dup(u.fileno())
path = os.environ["SOCK"]
x = socket.socket(socket.AF_UNIX); x.bind(path); x.listen(1)
y = socket.socket(socket.AF_UNIX); y.connect(path); z, _ = x.accept(); os.dup2(y.fileno(), 0)
'''


@dataclass
class Seen:
    ev: str
    before: dict[str, object]
    after: dict[str, object]


def _fields(fd: Fd | None) -> dict[str, object]:
    return {f: getattr(fd, f) for f in FIELDS} if fd is not None else {}


def test_kernel_fd_fields_equal_the_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each event is applied twice: to the agent's state with the kernel's description, and (a copy
    without it) to a shadow state that knows only what the records said."""
    seen: list[Seen] = []
    shadow = Enricher(table=ProcessTable())
    real_apply = Enricher.apply

    def apply_both(self: Enricher, ev: Event) -> Event:
        if self is shadow:
            return real_apply(self, ev)
        copy = dataclasses.replace(ev, args=dict(ev.args), proc=None, fd=None, kfd=None)
        real_apply(shadow, copy)
        out = real_apply(self, ev)
        if ev.kfd is not None and ev.type in SOCKET_CALLS:
            seen.append(Seen(ev.type, _fields(copy.fd), _fields(ev.fd)))
        return out

    monkeypatch.setattr(Enricher, "apply", apply_both)
    monkeypatch.setenv("SOCK", str(tmp_path / "s.sock"))
    syscalls = SOCKET_CALLS | {"execve", "clone", "clone3", "fork", "vfork", "exit", "exit_group", "close"}
    with LiveCapture(syscalls=syscalls) as cap:
        if not cap.source.kernel_fds:
            pytest.skip("this kernel's BTF lacks the socket fields fd_describe reads")
        proc = cap.run([sys.executable, "-c", WORKLOAD])
        assert proc.returncode == 0
    compared = [s for s in seen if s.before and s.before["typechar"] in ("4", "6", "u")]
    assert len(compared) >= 20, [s.ev for s in seen]
    kinds = {(s.ev, s.after["typechar"]) for s in compared}
    # os.dup is fcntl(F_DUPFD_CLOEXEC); os.dup2 is dup2 (or dup3)
    assert {("connect", "4"), ("accept4", "6"), ("dup2", "u"), ("fcntl", "4"), ("bind", "u")} <= kinds
    for s in compared:
        for f in FIELDS:
            was, now = s.before[f], s.after[f]
            if f == "l4proto" and (s.after["typechar"] == "u" or now == ""):
                assert now == "", (s.ev, s.after)      # libsinsp's <NA>
            elif f == "name" and "->" in str(was):
                # end by end: the kernel adds what the state did not know (a connecting side's own
                # end, the port a bind to port 0 was given)
                for old, new in zip(str(was).split("->"), str(now).split("->"), strict=True):
                    ip, _, port = old.rpartition(":")
                    if ip and port != "0":
                        assert old == new, (s.ev, was, now)
            elif was not in ("", 0):            # what the state knew (False: not known either)
                assert now == was, (s.ev, f, was, now, s.before, s.after)
