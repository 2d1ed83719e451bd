"""Errors a user sees: one clear line, never a traceback."""

from __future__ import annotations


class TiercelError(Exception):
    """Root of every error tiercel reports to its user; the message is the whole report."""

    exit_code = 1


class EnvironmentProblem(TiercelError):
    """The host cannot run the probe: not root, no headers, no tracefs, BPF denied."""

    exit_code = 2
