"""The syscall table's numbers and parameter sources agree with the system headers and the probe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tiercel.events.decode import plan
from tiercel.events.syscalls import SYSCALLS_X86_64

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
    assert len(sc.shape_bytes()) == 8  # type: ignore[attr-defined]
