"""Kernel drops as Falco's syscall-event-drop alert, per `syscall_event_drops`.

Checked once a second: when records were lost and lost / (seen + lost) is above `threshold`, the
configured actions run, at most as often as the token bucket (`rate`, `max_burst`) allows:
`log` a line on stderr, `alert` Falco's internal alert (rule "Falco internal: syscall event drop",
priority Debug, counts as strings in output_fields, as Falco writes them), `exit` the agent. The
alert says which kinds were lost (`n_drops_buffer_<kind>`, the /metrics drop labels: rule, state, fd,
clone_fork, proc_exit): a lost rule record is an attack that may have gone unseen, a lost fd record
is state the kernel describes again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tiercel.config import SyscallEventDrops
from tiercel.outputs.alert import Alert
from tiercel.outputs.dispatcher import TokenBucket
from tiercel.rules import format_time
from tiercel.telemetry.falco_metrics import DROP_KINDS

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
        self.last_kinds: dict[str, int] = {}
        self.occurrences = 0      # seconds with drops above the threshold
        self.actions_taken = 0

    def check(self, events: int, lost: int, now_ns: int | None = None,
              lost_by_kind: dict[str, int] | None = None) -> bool:
        """Compare with the previous check; False means an `exit` action fired."""
        prev, self.last = self.last, (events, lost)
        kinds = {k: n - self.last_kinds.get(k, 0) for k, n in (lost_by_kind or {}).items()}
        self.last_kinds = dict(lost_by_kind or {})
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
        return self._act(n_evts + n_drops, n_drops, now_ns or time.time_ns(), kinds)

    def _act(self, n_evts: int, n_drops: int, now: int, kinds: dict[str, int] | None = None) -> bool:
        named = {DROP_KINDS.get(k, k): n for k, n in (kinds or {}).items() if n > 0}
        by_kind = f" ({', '.join(f'{k} {n}' for k, n in named.items())})" if named else ""
        msg = f"{RULE}. {n_drops} system calls dropped in last second{by_kind}."
        keep_running = True
        for action in self.conf.actions:
            if action == "log":
                self.log(f"tiercel: {msg}")
            elif action == "alert":
                self.emit(drop_alert(now, n_evts, n_drops, msg, self.hostname, named))
            elif action == "exit":
                self.log(f"tiercel: {msg} Exiting (syscall_event_drops.actions has exit).")
                keep_running = False
        return keep_running


def drop_alert(now: int, n_evts: int, n_drops: int, msg: str, hostname: str,
               kinds: dict[str, int] | None = None) -> Alert:
    fields = {"ebpf_enabled": "1", "n_drops": str(n_drops), "n_drops_buffer_total": str(n_drops),
              "n_evts": str(n_evts), **{f"n_drops_buffer_{k}": str(n) for k, n in (kinds or {}).items()}}
    return Alert(time=now, rule=RULE, priority="Debug", source="internal",
                 output=f"{format_time(now)}: Debug {msg}", output_fields=fields, hostname=hostname)
