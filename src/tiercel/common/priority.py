"""Falco's priorities, defined once: rules, configuration, alerts and syslog all use this module.

A priority is an `int` index, most severe first, as Falco numbers them (and as syslog severities are
numbered): 0 Emergency ... 7 Debug. `NAMES` are the names Falco writes in alerts; `SHORT` the forms
Falco prints in its summary (`INFO`, not `INFORMATIONAL`).
"""

from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    @property
    def label(self) -> str:
        """The name as it appears in an alert's `priority` (`Informational`)."""
        return NAMES[self]

    @property
    def short(self) -> str:
        """The upper-case form of Falco's run summary (`INFO` for Informational)."""
        return SHORT[self]


NAMES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug")
SHORT = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
# Every spelling Falco accepts, lower case: its names plus "info".
ACCEPTED = (*(n.lower() for n in NAMES), "info")


def parse_priority(text: str) -> Priority | None:
    """Falco's priority names, case-insensitive; "info" also means Informational."""
    low = text.strip().lower()
    if low == "info":
        return Priority.INFORMATIONAL
    for i, name in enumerate(NAMES):
        if low == name.lower():
            return Priority(i)
    return None
