"""Every state handler a syscall row names exists in the state's registry, and has what it reads."""

from __future__ import annotations

import pytest

from tiercel.events.syscalls import NONE, SYSCALLS_X86_64, Syscall
from tiercel.state.enrich import HANDLER_FACTORIES, HANDLERS
from tiercel.testing import events as b
from tiercel.testing.state import offline_enricher

# Handlers that resolve the row's first path, and those that read the fd the call acts on.
READS_A_PATH = frozenset({"open", "exec", "chdir", "path"})
READS_AN_FD = frozenset({"close", "dup", "fcntl", "connect", "bind", "accept", "fd", "fchdir"})


@pytest.mark.parametrize("sc", SYSCALLS_X86_64, ids=lambda s: s.name)
def test_the_row_handler_exists_and_has_its_parameters(sc: Syscall) -> None:
    if sc.handler is None:
        assert sc.name not in HANDLERS
        return
    assert sc.handler in HANDLER_FACTORIES
    assert sc.name in HANDLERS
    if sc.handler in READS_A_PATH:
        assert sc.paths, "its handler resolves a path the row does not name"
    if sc.handler in READS_AN_FD:
        assert sc.uses_fd != NONE, "its handler reads an fd the row does not say it uses"


def test_every_handler_serves_a_row() -> None:
    assert set(HANDLER_FACTORIES) == {sc.handler for sc in SYSCALLS_X86_64 if sc.handler is not None}


def test_an_fd_the_call_acts_on_is_attached_by_some_handler() -> None:
    # an fd argument the state stage never looks up would leave fd.* empty on that event
    assert all(sc.handler is not None for sc in SYSCALLS_X86_64 if sc.uses_fd != NONE)


@pytest.mark.parametrize("sc", SYSCALLS_X86_64, ids=lambda s: s.name)
def test_every_row_builds_and_applies(sc: Syscall) -> None:
    """The generic builder lays a row out as the decoder does (the captured parameters, in order),
    and the row's handler takes the event."""
    st = offline_enricher()
    st.table.add(b.process("app", pid=100, ppid=1, cwd="/home/alice"), [100])
    ev = b.syscall(sc.name, pid=100, comm="app")
    assert list(ev.args) == [p for p, src in sc.params if src != "-"]
    st.apply(ev)
    assert ev.proc is not None and ev.proc.pid == 100
    if sc.paths and sc.handler in READS_A_PATH:
        assert ev.abspath is not None


def test_the_builder_refuses_a_parameter_the_row_has_not() -> None:
    with pytest.raises(ValueError, match="mode"):
        b.syscall("unlinkat", {"name": "x", "mode": 1})
