"""The fuzzing suite's shared bounds: a fixed seed, a time and a memory bound for every case.

Hypothesis runs derandomized (its seed is fixed by the test's own text), keeps no example database,
and each test sets its own `max_examples`, so the whole suite takes well under two minutes and gives
the same cases on every machine. Inputs that once failed live in corpus/ and are run every time.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, settings

CORPUS = Path(__file__).parent / "corpus"

settings.register_profile(
    "fuzz", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
settings.load_profile("fuzz")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def bounded(seconds: float = 5.0, megabytes: float = 200.0) -> Iterator[None]:
    """The case must end within `seconds` and raise the process's peak memory by less than
    `megabytes` (the peak only grows, so this bounds what the case itself needed)."""
    start, peak = time.monotonic(), _peak_mb()
    yield
    took, grew = time.monotonic() - start, _peak_mb() - peak
    assert took < seconds, f"took {took:.1f} s"
    assert grew < megabytes, f"memory peak grew by {grew:.0f} MB"


def one_line(message: str) -> None:
    """A clear error: one line, not a traceback."""
    assert message and "\n" not in message.strip() and "Traceback" not in message, message
