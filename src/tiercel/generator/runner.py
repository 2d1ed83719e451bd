"""Run actions: pick them, set up what they need (test host, container), report, clean up.

`--check` (whether a running agent alerted for each action) is tiercel.generator.check.
"""

from __future__ import annotations

import sys
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


def perform(action: Action, ctx: Context) -> Outcome:
    reason = action.available()
    if reason:
        return Outcome(action, skipped=reason)
    try:
        return Outcome(action, expected=action.run(ctx))
    except Exception as e:
        return Outcome(action, error=f"{type(e).__name__}: {e}")


def run_actions(actions: list[Action], sleep: float = 0.0, target: tuple[str, int] | None = None,
                out: IO[str] = sys.stdout) -> int:
    failed = 0
    with context(actions, target) as ctx:
        for i, a in enumerate(actions):
            if i and sleep:
                time.sleep(sleep)
            o = perform(a, ctx)
            status = "skipped" if o.skipped else "error" if o.error else "done"
            failed += status == "error"
            print(f"{a.name:40} {status:9} {a.rule}"
                  + (f"  ({o.skipped or o.error})" if o.skipped or o.error else ""), file=out, flush=True)
    return 1 if failed else 0
