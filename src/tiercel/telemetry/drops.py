"""Kernel drops as Falco's syscall-event-drop alert, per `syscall_event_drops`.

Checked once a second: when records were lost and lost / (seen + lost) is above `threshold`, the
configured actions run, at most as often as the token bucket (`rate`, `max_burst`) allows:
`log` a line on stderr, `alert` Falco's internal alert (rule "Falco internal: syscall event drop",
priority Debug, counts as strings in output_fields, as Falco writes them), `exit` the agent.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tiercel.config import SyscallEventDrops
from tiercel.outputs.alert import Alert
from tiercel.outputs.dispatcher import TokenBucket
from tiercel.rules import format_time

RULE = "Falco internal: syscall event drop"


class DropMonitor:
    def __init__(self, conf: SyscallEventDrops, emit: Callable[[Alert], None],
                 log: Callable[[str], None], hostname: str = "") -> None:
        self.conf = conf
        self.emit = emit
        self.log = log
        self.hostname = hostname
        self.bucket = TokenBucket(conf.rate, conf.max_burst)
        self.threshold = 0.0 if conf.simulate_drops else conf.threshold
        self.last: tuple[int, int] | None = None
        self.occurrences = 0      # seconds with drops above the threshold
        self.actions_taken = 0

    def check(self, events: int, lost: int, now_ns: int | None = None) -> bool:
        """Compare with the previous check; False means an `exit` action fired."""
        prev, self.last = self.last, (events, lost)
        if prev is None:
            return True
        n_evts, n_drops = events - prev[0], lost - prev[1]
        if self.conf.simulate_drops:
            n_drops += 1
        if n_drops <= 0 or n_drops / max(1, n_evts + n_drops) <= self.threshold:
            return True
        self.occurrences += 1
        if not self.bucket.claim():
            return True
        self.actions_taken += 1
        return self._act(n_evts + n_drops, n_drops, now_ns or time.time_ns())

    def _act(self, n_evts: int, n_drops: int, now: int) -> bool:
        msg = f"{RULE}. {n_drops} system calls dropped in last second."
        keep_running = True
        for action in self.conf.actions:
            if action == "log":
                self.log(f"tiercel: {msg}")
            elif action == "alert":
                self.emit(drop_alert(now, n_evts, n_drops, msg, self.hostname))
            elif action == "exit":
                self.log(f"tiercel: {msg} Exiting (syscall_event_drops.actions has exit).")
                keep_running = False
        return keep_running


def drop_alert(now: int, n_evts: int, n_drops: int, msg: str, hostname: str) -> Alert:
    fields = {"ebpf_enabled": "1", "n_drops": str(n_drops), "n_drops_buffer_total": str(n_drops),
              "n_evts": str(n_evts)}
    return Alert(time=now, rule=RULE, priority="Debug", source="internal",
                 output=f"{format_time(now)}: Debug {msg}", output_fields=fields, hostname=hostname)
