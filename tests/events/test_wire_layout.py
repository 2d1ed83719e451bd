"""The Python mirror (events/wire.py) matches probe/events.h as the C compiler lays it out."""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import pytest

from tiercel.events import wire

PROBE = Path(__file__).resolve().parents[2] / "probe"
STRUCTS = {
    "rec_hdr": wire.RecHdr, "rec_syscall": wire.RecSyscall, "rec_clone": wire.RecClone,
    "rec_exit": wire.RecExit, "shape": wire.Shape, "fd_info": wire.FdInfo,
}


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """sizeof and offsetof of every struct and field, printed by a program built with gcc."""
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <linux/types.h>", '#include "events.h"',
             "int main(void) {"]
    for name, cls in STRUCTS.items():
        lines.append(f'printf("{name} %zu\\n", sizeof(struct {name}));')
        for field, _ in cls._fields_:
            lines.append(f'printf("{name}.{field} %zu\\n", offsetof(struct {name}, {field}));')
    lines.append("return 0; }")
    tmp = tmp_path_factory.mktemp("layout")
    (tmp / "layout.c").write_text("\n".join(lines))
    subprocess.run(["gcc", f"-I{PROBE}", "-o", str(tmp / "layout"), str(tmp / "layout.c")], check=True)
    out = subprocess.run([str(tmp / "layout")], check=True, capture_output=True, text=True).stdout
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


@pytest.mark.parametrize("name", list(STRUCTS))
def test_struct_matches(c_layout: dict[str, int], name: str) -> None:
    cls = STRUCTS[name]
    assert ctypes.sizeof(cls) == c_layout[name]
    for field, _ in cls._fields_:
        assert getattr(cls, field).offset == c_layout[f"{name}.{field}"], field


@pytest.mark.parametrize(("name", "fmt"), [("rec_hdr", wire.HDR), ("rec_clone", wire.CLONE),
                                           ("rec_exit", wire.EXIT)])
def test_struct_formats_match(c_layout: dict[str, int], name: str, fmt: object) -> None:
    assert fmt.size == c_layout[name]  # type: ignore[attr-defined]


def test_syscall_format_ends_where_data_starts(c_layout: dict[str, int]) -> None:
    assert wire.SYSCALL.size == c_layout["rec_syscall.data"] == wire.SYSCALL_DATA_OFF


def test_constants_match_header() -> None:
    text = (PROBE / "events.h").read_text()
    for const in ("SLOT0_OFF", "SLOT0_SIZE", "SLOT1_OFF", "SLOT1_SIZE", "SLOT2_OFF", "SLOT2_SIZE",
                  "DATA_SIZE", "ARGV_MAX_ARGS", "REC_F_FD"):
        assert f"#define {const} {getattr(wire, const)}" in " ".join(text.split()), const
