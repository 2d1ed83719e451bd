"""The syscall table's numbers and parameter sources agree with the system headers and the probe, and
each row's roles (fd effects, paths, renderings, category) with its parameters and Falco's events."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pytest

from tiercel.events import wire
from tiercel.events.decode import _FD_PARAMS, plan
from tiercel.events.flags import ENUM, GROUP, RENDERINGS, USER
from tiercel.events.syscalls import (
    FD_OPTIONAL_SYSCALLS,
    FD_STATE_SYSCALLS,
    NONE,
    OPEN_FAMILY,
    STATE_SYSCALLS,
    SYSCALLS_X86_64,
    Fx,
    Syscall,
    SyscallTable,
    having,
)
from tiercel.scap import table as scap_table

UNISTD = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")


def test_numbers_match_unistd() -> None:
    numbers = dict(re.findall(r"#define __NR_(\w+) (\d+)", UNISTD.read_text()))
    for sc in SYSCALLS_X86_64:
        assert int(numbers[sc.name]) == sc.nr, sc.name


@pytest.mark.parametrize("sc", SYSCALLS_X86_64, ids=lambda s: s.name)
def test_shapes_are_consistent(sc: object) -> None:
    assert plan(sc.params)  # type: ignore[attr-defined]
    srcs = {src for _, src in sc.params}  # type: ignore[attr-defined]
    assert ("s0" in srcs) == (sc.str0 != 0xFF)  # type: ignore[attr-defined]
    assert ("s1" in srcs or "argv" in srcs) == (sc.str1 != 0xFF)  # type: ignore[attr-defined]
    assert ("s2" in srcs) == (sc.str2 != 0xFF)  # type: ignore[attr-defined]
    assert ("addr" in srcs) == (sc.sock != 0xFF)  # type: ignore[attr-defined]
    assert len(sc.shape_bytes()) == ctypes.sizeof(wire.Shape)  # type: ignore[attr-defined]


# ---- the row's roles: fd effects, paths, renderings, category -------------------------------------

ROWS = pytest.mark.parametrize("sc", SYSCALLS_X86_64, ids=lambda s: s.name)
CATEGORIES = frozenset({"other", "file", "net", "IPC", "memory", "process", "sleep", "system", "signal",
                        "user", "time", "IO_read", "IO_write", "IO_other", "wait", "scheduler"})
# Falco's parameters of each exit event, every version (a capture may carry any of them).
FALCO_PARAMS: dict[str, set[str]] = {}
for _name, _params, _ in scap_table.EVENTS[1::2]:
    FALCO_PARAMS.setdefault(_name, set()).update(p.split(":")[0] for p in _params.split())


def _arg(src: str) -> bool:
    return src[0] == "a" and src[1:].isdigit()


@ROWS
def test_fd_effects_name_an_argument(sc: Syscall) -> None:
    params = dict(sc.params)
    if sc.uses_fd != NONE:
        assert 0 <= sc.uses_fd < 6
        # a parameter holding it is an fd for the decoder too (read as a 32-bit int)
        assert sc.fd_param is None or sc.fd_param in _FD_PARAMS
    acts_on_used = Fx.DESTROYS_FD | Fx.COPIES_FD | Fx.NAMES_SOCKET
    if sc.fx & acts_on_used:
        assert sc.uses_fd != NONE, "closes, copies or names an fd it does not say it uses"
    if Fx.CREATES_FD in sc.fx:
        assert "res" in params.values(), "a new fd is its return value"
    if sc.fd_values:
        # the probe's value-set test reads the row's enumeration argument
        assert Fx.CREATES_FD in sc.fx
        assert any(_arg(params[p]) and RENDERINGS[how][1] == ENUM for p, how in sc.render if p in params)


@ROWS
def test_paths_name_string_parameters(sc: Syscall) -> None:
    params = dict(sc.params)
    assert len(sc.paths) <= 2 and (not sc.source_target or len(sc.paths) == 2)
    for path in sc.paths:
        assert params.get(path.param, "").startswith("s"), path.param
        assert path.dirfd is None or _arg(params.get(path.dirfd, "-")), path.dirfd
        assert path.dirfd is None or path.dirfd in _FD_PARAMS, path.dirfd
    assert not any(p.verbatim for p in sc.paths[1:]), "only the first path may be text"


@ROWS
def test_renderings_exist_and_name_falco_parameters(sc: Syscall) -> None:
    for param, how in sc.render:
        assert how in RENDERINGS or how in (USER, GROUP), how
        assert param in dict(sc.params) or param in FALCO_PARAMS.get(sc.name, set()), param


@ROWS
def test_category_is_one_of_libsinsp(sc: Syscall) -> None:
    assert sc.category in CATEGORIES


def test_the_derived_sets_agree() -> None:
    assert FD_OPTIONAL_SYSCALLS <= FD_STATE_SYSCALLS
    assert OPEN_FAMILY.issubset(having(Fx.CREATES_FD))
    # every open-family call names the file it opens; a process-state call is never optional
    assert all(SyscallTable().by_name[n].paths for n in OPEN_FAMILY)
    assert not STATE_SYSCALLS & FD_OPTIONAL_SYSCALLS
