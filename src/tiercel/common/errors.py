"""Errors a user sees: one clear line, never a traceback."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, the line and paragraph separators, and the bidirectional overrides a
# name from a hostile file could use to make a message read differently from what it says.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every control and direction-changing character as an escape (`\\x0a`,
    `\\u202e`), so a message quoting a file's or an option's text stays one honest line."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                            else f"\\u{ord(m.group()):04x}", text)


class TiercelError(Exception):
    """Root of every error tiercel reports to its user; the message is the whole report."""

    exit_code = 1


class EnvironmentProblem(TiercelError):
    """The host cannot run the probe: not root, no headers, no tracefs, BPF denied."""

    exit_code = 2
