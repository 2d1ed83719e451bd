"""`generate --check`: perform actions before a running agent and say whether each one alerted.

    tiercel run -o json_output=true | tiercel generate --all --check

Only actions whose rule the agent runs are performed (the caller works the rules out with `run`'s
own resolution of -r/-c/-o/-D/-T/-t). Before the first one, a canary, a harmless host action of a
loaded rule, is repeated until its alert comes: until then the agent may not have attached its probe.
One more canary run then marks the end of the canary's alerts (the agent handles events in order),
so that none of them is taken for an action's. Each action gets the first new alert of its rule.

Exit 1 only for a real miss (an action of a loaded rule ran and no alert came), else 0; a check that
cannot start (no agent alerts on stdin) is a GeneratorError.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from tiercel.generator.base import REGISTRY, Action, Context
from tiercel.generator.feed import Alert, AlertFeed
from tiercel.generator.runner import GeneratorError, context, perform

ALERTED, NO_ALERT, NOT_LOADED, CANNOT = "alerted", "NO ALERT", "rule not loaded", "cannot run here"
STATUSES = (ALERTED, NO_ALERT, NOT_LOADED, CANNOT)
CANARY = "read-sensitive-file"   # cat /etc/shadow: needs nothing, undoes nothing
USAGE = "tiercel run -o json_output=true | tiercel generate --all --check"


@dataclass(frozen=True)
class Report:
    action: Action
    status: str
    detail: str = ""

    def line(self) -> str:
        return (f"{self.action.name:40} {self.status:17} {self.action.rule}"
                + (f"  ({self.detail})" if self.detail else ""))


def summary(reports: Iterable[Report]) -> str:
    counts = Counter(r.status for r in reports)
    return "summary: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES)


def exit_code(reports: Iterable[Report]) -> int:
    return 1 if any(r.status == NO_ALERT for r in reports) else 0


def pick_canary(loaded: set[str], candidates: Iterable[Action]) -> Action | None:
    """A host action of a loaded rule that can run here, the sensitive-file read first."""
    hosts = sorted((a for a in candidates if a.where == "host" and a.rule in loaded),
                   key=lambda a: a.name != CANARY)
    return next((a for a in hosts if a.available() is None), None)


def belongs(alert: Alert, rule: str, expected: dict[str, Any]) -> bool:
    """The alert is of `rule` and none of its output fields contradicts what the action reported."""
    fields = alert.get("output_fields") or {}
    return alert.get("rule") == rule and all(
        fields.get(k) is None or str(fields[k]) == str(v) for k, v in expected.items())


def _canary(canary: Action, ctx: Context) -> dict[str, Any]:
    try:
        return canary.run(ctx)
    except Exception as e:
        raise GeneratorError(f"the canary action {canary.name} failed: {type(e).__name__}: {e}") from e


def _silent(feed: AlertFeed, canary: Action, timeout: float) -> str:
    if feed.ended:
        return "stdin ended before the agent's first alert: did `tiercel run` stop? (see its messages)"
    if feed.not_alerts and not feed.alerts:
        return (f"stdin has {feed.not_alerts} line(s) but no JSON alert (first: {feed.first_not_alert!r}):"
                f" run the agent with JSON output: {USAGE}")
    return (f"the agent did not alert within {timeout:g} s: is it running with JSON output "
            f"(-o json_output=true), its stdout piped to this command, and the same rules as here "
            f"(canary rule '{canary.rule}')? {USAGE}")


def wait_ready(feed: AlertFeed, canary: Action, ctx: Context, timeout: float, interval: float = 0.5,
               settle: float = 30.0) -> None:
    """Repeat the canary until its alert comes (the agent is attached), then once more to pass
    every alert of the earlier runs."""
    deadline = time.monotonic() + timeout
    while True:
        _canary(canary, ctx)
        if feed.wait_rule(canary.rule, min(interval, max(0.0, deadline - time.monotonic()))):
            break
        if feed.ended or time.monotonic() >= deadline:
            raise GeneratorError(_silent(feed, canary, timeout))
    expected = _canary(canary, ctx)
    if feed.wait(lambda a: belongs(a, canary.rule, expected), settle) is None:
        raise GeneratorError(f"the agent alerted once for the canary {canary.name}, then not within "
                             f"{settle:g} s: {_silent(feed, canary, timeout)}")


def check_one(action: Action, loaded: set[str], feed: AlertFeed, ctx: Context, timeout: float) -> Report:
    if action.rule not in loaded:
        return Report(action, NOT_LOADED)
    o = perform(action, ctx)
    if o.skipped or o.error:
        return Report(action, CANNOT, o.skipped or o.error or "")
    if feed.wait_rule(action.rule, timeout) is not None:
        return Report(action, ALERTED)
    return Report(action, NO_ALERT, "stdin ended: the agent stopped" if feed.ended else "")


def run_check(actions: list[Action], loaded: set[str], feed: AlertFeed, *, timeout: float = 10.0,
              ready_timeout: float = 60.0, sleep: float = 0.0, target: tuple[str, int] | None = None,
              out: IO[str] = sys.stdout, canaries: Iterable[Action] | None = None,
              interval: float = 0.5) -> int:
    """Report each action (and a summary) on `out`; the exit code."""
    runnable = [a for a in actions if a.rule in loaded]
    canary = pick_canary(loaded, REGISTRY.values() if canaries is None else canaries)
    if runnable and canary is None:
        raise GeneratorError("no host action's rule is loaded, so nothing tells when the agent is "
                             "ready: check with the default rules among the agent's (-r)")
    reports: list[Report] = []
    with context(runnable, target) as ctx:
        if runnable and canary is not None:
            wait_ready(feed, canary, ctx, ready_timeout, interval)
        for a in actions:
            if reports and sleep and a.rule in loaded:
                time.sleep(sleep)
            reports.append(check_one(a, loaded, feed, ctx, timeout))
            print(reports[-1].line(), file=out, flush=True)
    print(summary(reports), file=out, flush=True)
    return exit_code(reports)


def check_stdin(actions: list[Action], loaded: set[str], **kw: Any) -> int:
    """run_check on the agent's alerts piped to stdin; stdin is closed at the end, so that the
    agent (`tiercel run` notices its reader gone) stops too."""
    if os.isatty(0):
        raise GeneratorError(f"--check reads the agent's JSON alerts on stdin: {USAGE}")
    try:
        feed = AlertFeed.from_stdin()
    except OSError as e:
        raise GeneratorError(f"--check cannot read stdin ({e.strerror}): {USAGE}") from None
    try:
        return run_check(actions, loaded, feed, **kw)
    finally:
        feed.close()
