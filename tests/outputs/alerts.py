"""Synthetic alerts for the output tests, nasty ones included. The receivers they deliver to are
tiercel.testing.receivers (the soak bench uses them too)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from tiercel.outputs.alert import Alert

# Newlines, quotes, control characters, a C1 control, U+2028, and bytes that are not UTF-8
# (as `surrogateescape` leaves them in a str).
NASTY = 'a\nb\r\n"quoted" \\ \x00\x1b[31m\x85\u2028 end' + b"\xff\xfe".decode("utf-8", "surrogateescape")


def make_alert(i: int = 0, text: str = "", priority: str = "Warning") -> Alert:
    msg = f"alert {i} {text}"
    return Alert(time=1_700_000_000_000_000_000 + i, rule=f"Rule {text}", priority=priority,
                 source="syscall", output=f"12:00:00.000000000: {priority} {msg}",
                 output_fields={"proc.cmdline": f"cat {text}", "fd.name": text, "n": i,
                                "raw": text.encode("utf-8", "surrogateescape")},
                 tags=("test", text), hostname="host")


def wait_until(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


def lines_of(path: str | os.PathLike[str]) -> list[bytes]:
    with open(path, "rb") as f:
        return f.read().splitlines()
