"""Run actions: pick them, set up what they need (test host, container), report, clean up.

`--check` reads a running agent's JSON alerts (one per line) from stdin, e.g.
`tiercel run | tiercel generate --all --check`, and reports per action whether its rule fired.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from tiercel.generator import actions_container, actions_host, actions_net  # noqa: F401 - register
from tiercel.generator.base import REGISTRY, Action, Context
from tiercel.generator.nettarget import TestHost


class GeneratorError(Exception):
    pass


def select(names: Iterable[str], everything: bool, maturity: str | None = None) -> list[Action]:
    names = list(names)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise GeneratorError(f"unknown action(s): {', '.join(unknown)} (see --list)")
    chosen = list(REGISTRY.values()) if everything else [REGISTRY[n] for n in names]
    return [a for a in chosen if maturity is None or a.maturity == maturity]


def listing(actions: Iterable[Action]) -> str:
    rows = [f"{a.name:40} {a.where:9} {a.maturity:10} {a.rule}" for a in actions]
    return "\n".join([f"{'ACTION':40} {'WHERE':9} {'MATURITY':10} EXPECTED RULE", *rows])


@contextmanager
def context(actions: list[Action], target: tuple[str, int] | None = None) -> Iterator[Context]:
    """A run's context; creates the test host when an outbound action needs one and no target is given."""
    ctx = Context(target=target)
    try:
        if target is None and any(a.where == "network" for a in actions):
            host = TestHost.create()
            ctx.cleanups.append(host.close)
            ctx.target = host.target
        yield ctx
    finally:
        ctx.close()


@dataclass
class Outcome:
    action: Action
    expected: dict[str, Any] | None = None
    skipped: str | None = None
    error: str | None = None
    alert: dict[str, Any] | None = None


def perform(action: Action, ctx: Context) -> Outcome:
    reason = action.available()
    if reason:
        return Outcome(action, skipped=reason)
    try:
        return Outcome(action, expected=action.run(ctx))
    except Exception as e:
        return Outcome(action, error=f"{type(e).__name__}: {e}")


class AlertFeed:
    """Alerts read from a stream by a thread; `wait_rule` takes the first new alert of a rule."""

    def __init__(self, stream: IO[str]) -> None:
        self.q: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                continue

    def wait_rule(self, rule: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                alert = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if alert.get("rule") == rule:
                return alert
        return None


def run_actions(actions: list[Action], sleep: float = 0.0, target: tuple[str, int] | None = None,
                check: bool = False, timeout: float = 5.0, out: IO[str] = sys.stdout) -> int:
    feed = AlertFeed(sys.stdin) if check else None
    failed = 0
    with context(actions, target) as ctx:
        for i, a in enumerate(actions):
            if i and sleep:
                time.sleep(sleep)
            o = perform(a, ctx)
            status = "skipped" if o.skipped else "error" if o.error else "done"
            if feed is not None and o.expected is not None:
                o.alert = feed.wait_rule(a.rule, timeout)
                status = "alerted" if o.alert else "NO ALERT"
            failed += status in ("error", "NO ALERT")
            print(f"{a.name:40} {status:9} {a.rule}"
                  + (f"  ({o.skipped or o.error})" if o.skipped or o.error else ""), file=out, flush=True)
    return 1 if failed else 0
