"""The live `k8s_audit` source: the webhook's queued events to the rules (tiercel.sources.base.Source).

Alone (`--disable-source syscall`, `engine.kind: nodriver`), `run` is the agent's main loop; beside
the syscall source, the agent runs the same loop in a thread of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Set
from typing import Any

from tiercel.k8saudit.events import deliver
from tiercel.k8saudit.webhook import Webhook, WebhookConfig
from tiercel.sources.base import Counters, Sink


class AuditWebhookSource:
    def __init__(self, config: WebhookConfig, sink: Sink) -> None:
        self.webhook = Webhook(config)
        self.sink = sink
        self._counters = Counters()
        self._stopping = threading.Event()

    @property
    def counters(self) -> Counters:
        s = self.webhook.stats
        return Counters(records=s.events, events=self._counters.events, decode_errors=s.errors,
                        event_errors=self._counters.event_errors)

    @property
    def mode(self) -> str:
        return f"Kubernetes audit events from {self.webhook.config.url}"

    def start(self) -> None:
        self.webhook.start()

    def run(self, duration: float | None) -> None:
        """Deliver queued events until `duration` passed or `interrupt()`; then what was queued
        (every request answered 200 has its events evaluated)."""
        end = None if duration is None else time.monotonic() + duration
        while not self._stopping.is_set():
            wait = 0.5 if end is None else min(0.5, end - time.monotonic())
            if wait <= 0:
                break
            self._deliver(self.webhook.take(wait))
        while (docs := self.webhook.take(0)) is not None:
            self._deliver(docs)

    def _deliver(self, docs: list[dict[str, Any]] | None) -> None:
        for doc in docs or ():
            deliver(doc, self._counters, self.sink)

    def interrupt(self) -> None:
        self._stopping.set()

    def stop(self) -> None:
        self._stopping.set()
        self.webhook.stop()

    def summary(self) -> str:
        """What the webhook took and refused, in one line for the end of the run."""
        s = self.webhook.stats
        return (f"tiercel: k8s audit webhook: {s.requests} requests, {s.events} events; refused: "
                f"{s.bad_requests} bad, {s.too_large} too large, {s.rate_limited} over the rate, "
                f"{s.queue_full} with the queue full, {s.connections_refused} connections over the limit")

    def attach(self, syscalls: Set[str]) -> frozenset[str]:
        del syscalls
        return frozenset()
