"""Start-up as an ordered list of small steps, and a teardown that always runs (Falco's app.cpp).

Each step has a start and, optionally, a stop. `run_steps` starts the steps in order, runs the main
loop, then runs the stops in reverse order, whatever happened. A step's stop is due as soon as its
start has begun, so it must cope with a start that failed half-way. A start that raises ends
start-up (its exception goes on to the caller after the teardown); a stop that raises is reported
in one line and the next stop still runs, so the outputs, stopped near the end, are always flushed.

    run_steps([Step("outputs", stop=close_outputs), Step("source", source.start, source.stop)],
              loop, log)
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

Action = Callable[[], None]


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class Step:
    name: str
    start: Action = _nothing
    stop: Action | None = None


def run_steps(steps: Sequence[Step], loop: Action, log: Callable[[str], None]) -> bool:
    """Start every step, run the loop, stop every step begun; False when some stop failed."""
    begun: list[Step] = []
    try:
        for step in steps:
            begun.append(step)
            step.start()
        loop()
    finally:
        clean = teardown(begun, log)
    return clean


def teardown(steps: Sequence[Step], log: Callable[[str], None]) -> bool:
    """Run the steps' stops in reverse order, each on its own: a failure is one line, and the
    stops after it still run."""
    clean = True
    for step in reversed(steps):
        if step.stop is None:
            continue
        try:
            step.stop()
        except Exception as e:
            clean = False
            log(f"tiercel: stopping {step.name} failed: {type(e).__name__}: {e}")
    return clean


def on_stop_signals(stop: Callable[[], None]) -> None:
    """SIGINT and SIGTERM call `stop` (which must only set flags: it runs inside the handler)."""
    def handler(_sig: int, _frame: FrameType | None) -> None:
        stop()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
