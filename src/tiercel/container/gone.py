"""Containers the runtime has destroyed, forgotten a while later rather than at once.

A container's processes' last records can reach the agent after the runtime's destroy event: the
probe wakes the agent only every 256 KB of records and the agent reads the ring every poll interval
(100 ms), while a `docker run --rm` of one command is destroyed some 20 ms after it started. Forgotten
at the destroy, such a record would find no name (the runtime no longer knows the container).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import Any

KEEP_S = 10.0


class GoneLater:
    def __init__(self, cache: MutableMapping[str, Any], on_forget: Callable[[str], None] | None = None,
                 keep_s: float = KEEP_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.cache, self.on_forget, self.keep_s, self.clock = cache, on_forget, keep_s, clock
        self._queue: deque[tuple[float, str]] = deque()

    def gone(self, full_id: str) -> None:
        """The runtime destroyed it: forget it KEEP_S from now."""
        self._queue.append((self.clock(), full_id))
        self.forget_due()

    def forget_due(self) -> None:
        now = self.clock()
        while self._queue and now - self._queue[0][0] >= self.keep_s:
            _, full_id = self._queue.popleft()
            self.cache.pop(full_id, None)
            if self.on_forget is not None:
                self.on_forget(full_id)
