"""The dispatcher: one bounded queue and one worker thread per output, so capture never waits on a sink.

`emit` only appends the alert to each output's queue (or counts it dropped when that queue is full)
and returns. Each worker takes what is queued in one batch, hands it to its output and, on failure,
retries the undelivered rest with exponential back-off up to the output's `max_retries`; a batch it
then gives up on is counted dropped. Per output, always:

    offered = delivered + dropped + queued + in flight          (after close: delivered + dropped)

One alert never costs another: when an output raises anything but OutputError on a batch (a value it
cannot write, a bug), the batch is sent again one alert at a time, and the alert that fails alone is
counted `unwritable` (part of dropped) and said once per output, with its cause.

An output that starts failing (OutputError: disk full, connection refused) is said once, with the
cause, and once more when it delivers again, with how many alerts were dropped meanwhile.

`close` flushes within a time bound that `hurry` can shorten while it runs (a stop signal): what an
output has not taken by then is counted `undelivered` (part of dropped) and said once per output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tiercel.outputs.alert import Alert
from tiercel.outputs.base import Item, Output, OutputError

BATCH = 512
BACKOFF_FIRST = 0.05
BACKOFF_MAX = 5.0


@dataclass
class OutputStats:
    offered: int = 0
    delivered: int = 0
    retried: int = 0          # delivery attempts repeated after a failure
    dropped_full: int = 0     # the queue was full
    dropped_failed: int = 0   # retries exhausted, or still undelivered when the flush time ran out
    queued: int = 0
    unwritable: int = 0       # of dropped_failed: alerts the output could not write at all
    undelivered: int = 0      # of dropped_failed: still queued or in flight when the flush ended

    @property
    def dropped(self) -> int:
        return self.dropped_full + self.dropped_failed

    def add(self, other: OutputStats) -> None:
        """Add `other`'s counts to these (one output across the dispatchers reloads replaced)."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class TokenBucket:
    """Falco's `outputs.rate`/`max_burst`: `rate` tokens a second, at most `max_burst` saved up."""

    def __init__(self, rate: float, max_burst: float) -> None:
        self.rate = rate
        self.max_burst = max_burst
        self.tokens = max_burst
        self.last = time.monotonic()

    def claim(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.max_burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Worker:
    """One output, its queue and its thread."""

    def __init__(self, output: Output, capacity: int, log: Callable[[str], None]) -> None:
        self.output = output
        self.log = log
        self.capacity = capacity
        self.queue: deque[Item] = deque()
        self.stats = OutputStats()
        self.wake = threading.Event()
        self.stopping = False     # finish what is queued, then end
        self.abandoned = False    # the flush time ran out: count the rest dropped, deliver no more
        self.inflight = 0
        self.trouble: str | None = None   # the cause while the output is failing
        self.dropped_before = 0            # dropped_failed when the trouble began
        self.lock = threading.Lock()  # worker-side counters vs. the final accounting at close
        self.thread = threading.Thread(target=self._run, name=f"output-{output.name}", daemon=True)

    def offer(self, item: Item) -> None:
        self.stats.offered += 1
        if len(self.queue) >= self.capacity:
            self.stats.dropped_full += 1
            return
        self.queue.append(item)
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.clear()
            if not self.queue:
                if self.stopping:
                    return
                self.wake.wait(0.5)
                continue
            with self.lock:  # taken together, so abandon() never misses a popped batch
                if self.abandoned:
                    return
                batch = [self.queue.popleft() for _ in range(min(BATCH, len(self.queue)))]
                self.inflight = len(batch)
            self._deliver(batch)
            if self.abandoned:
                return

    def _deliver(self, batch: list[Item]) -> None:
        attempt = 0
        delay = BACKOFF_FIRST
        while batch and not self.abandoned:
            try:
                n = self.output.send(batch)
            except OutputError as e:
                n = 0
                self._failing(str(e))
            except Exception:  # a bug in one output must not end its worker (STYLE 9)
                batch, n = self._one_by_one(batch), 0
            if n:
                self._recovered()
            self._count(delivered=n)
            batch = batch[n:]
            if not batch:
                return
            if n == 0:
                attempt += 1
                if attempt > self.output.max_retries:
                    # The retry buffer is this one batch: give it up, so a dead sink costs one
                    # round of back-off per batch rather than per alert.
                    self._count(failed=len(batch))
                    return
                self._count(retried=1)
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
            else:
                attempt, delay = 0, BACKOFF_FIRST

    def _failing(self, cause: str) -> None:
        if self.trouble is None:
            self.trouble, self.dropped_before = cause, self.stats.dropped_failed
            self.log(f"tiercel: output {self.output.name} is failing: {cause} (alerts are retried, "
                     "then dropped and counted; said again when it delivers)")

    def _recovered(self) -> None:
        if self.trouble is not None:
            lost = self.stats.dropped_failed - self.dropped_before
            self.trouble = None
            self.log(f"tiercel: output {self.output.name} delivers again ({lost} alerts dropped "
                     "while it failed)")

    def _one_by_one(self, batch: list[Item]) -> list[Item]:
        """Send `batch` alert by alert, so only the alert that cannot be written is lost; return
        the rest from the first ordinary failure (OutputError) on, for the usual retries."""
        for i, item in enumerate(batch):
            if self.abandoned:
                return []
            try:
                if self.output.send([item]):
                    self._recovered()
                    self._count(delivered=1)
            except OutputError as e:
                self._failing(str(e))
                return batch[i:]
            except Exception as e:
                self._count(failed=1, unwritable=1)
                if self.stats.unwritable == 1:
                    self.log(f"tiercel: output {self.output.name}: an alert of rule {item.alert.rule!r} "
                             f"could not be written and was dropped ({type(e).__name__}: {e}); "
                             f"further ones are only counted")
        return []

    def _sleep(self, seconds: float) -> None:
        """Back-off that ends early once the worker is abandoned."""
        deadline = time.monotonic() + seconds
        while not self.abandoned and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _count(self, delivered: int = 0, failed: int = 0, retried: int = 0,
               unwritable: int = 0) -> None:
        with self.lock:
            if self.abandoned:
                return
            self.stats.delivered += delivered
            self.stats.dropped_failed += failed
            self.stats.unwritable += unwritable
            self.stats.retried += retried
            self.inflight -= delivered + failed

    def abandon(self) -> int:
        """The flush time ran out: whatever is still queued or in flight is dropped, and counted;
        returns how many alerts that was."""
        with self.lock:
            self.abandoned = True
            left = len(self.queue) + self.inflight
            self.stats.dropped_failed += left
            self.stats.undelivered += left
            self.queue.clear()
            self.inflight = 0
            return left

    def snapshot(self) -> OutputStats:
        with self.lock:
            s = dataclasses.replace(self.stats)
            s.queued = len(self.queue) + self.inflight
            return s


class Dispatcher:
    """Fans each alert out to every output's worker. Thread-safe `emit`."""

    def __init__(self, outputs: Sequence[Output], capacity: int, rate: TokenBucket | None = None,
                 capacities: dict[str, int] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        """`capacities`: a queue size per output name, where one should differ from `capacity`;
        `log`: where an output's trouble is said (a line on stderr by default)."""
        sizes = capacities or {}
        say = log or _stderr
        self.workers = [Worker(o, sizes.get(o.name, capacity), say) for o in outputs]
        self.rate = rate
        self.produced = 0
        self.throttled = 0        # refused by outputs.rate / max_burst before any queue
        self.log = say
        self._until = math.inf    # monotonic time by which a flush must end: set by `hurry`
        self._lock = threading.Lock()
        for w in self.workers:
            w.thread.start()

    def emit(self, alert: Alert) -> None:
        item = Item(alert)
        with self._lock:
            self.produced += 1
            if self.rate is not None and not self.rate.claim():
                self.throttled += 1
                return
            for w in self.workers:
                w.offer(item)

    def reopen(self) -> None:
        for w in self.workers:
            with contextlib.suppress(OSError):  # the next send reports it and is retried
                w.output.reopen()

    def hurry(self, seconds: float) -> None:
        """Make a running or later `close` end within `seconds` from now (what is still queued
        then is counted dropped). Only sets a number: safe in a signal handler (SIGINT, SIGTERM)."""
        self._until = min(self._until, time.monotonic() + seconds)

    def abort_flush(self) -> None:
        """Make a running or later `close` give up on what is still queued at once."""
        self.hurry(0.0)

    def close(self, timeout: float, when: str = "at shutdown") -> None:
        """Flush every queue within `timeout` seconds in all, or by the time `hurry` set; count
        what is left as dropped and say it once per output ("N alerts not delivered `when`"). A
        flush still going after a second is said once."""
        start = time.monotonic()
        deadline = start + timeout
        said = False
        for w in self.workers:
            w.stopping = True
            w.wake.set()
        for w in self.workers:
            while w.thread.is_alive() and (now := time.monotonic()) < min(deadline, self._until):
                w.thread.join(min(0.05, max(0.0, min(deadline, self._until) - now)))
                if not said and w.thread.is_alive() and time.monotonic() - start >= 1.0:
                    said = True
                    bound = min(deadline, self._until) - start
                    self.log(f"tiercel: waiting up to {bound:.3g} s for output {w.output.name} to "
                             "take its queued alerts (stop again to drop them now)")
            if w.thread.is_alive() and (left := w.abandon()):
                self.log(f"tiercel: output {w.output.name}: {left} alerts not delivered {when}")
        for w in self.workers:
            if not w.thread.is_alive():
                with contextlib.suppress(OSError):
                    w.output.close()

    def stats(self) -> dict[str, OutputStats]:
        return {w.output.name: w.snapshot() for w in self.workers}


def _stderr(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)
