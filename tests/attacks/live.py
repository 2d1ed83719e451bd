"""Run a corpus against one live agent: start it once, run every action between barriers, and
return the alerts each action caused (shared by the attack and benign tests and the report)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.default_rules.agentproc import Agent

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RULES = [ROOT / "rules", ROOT / "rules" / "incubating"]
STABLE_RULES = [ROOT / "rules"]
UPSTREAM = ["rules/falco_rules.yaml", "rules/falco-incubating_rules.yaml"]  # under the oracle directory
LOUD = {"Emergency", "Alert", "Critical", "Error", "Warning"}


@dataclass
class Window:
    """What one action caused: its alerts (barriers removed), or why it did not run."""

    id: str
    alerts: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None

    @property
    def rules(self) -> set[str]:
        return {a["rule"] for a in self.alerts}


@contextmanager
def agent(rules: Sequence[Path]) -> Iterator[Agent]:
    a = Agent(list(rules))
    try:
        yield a
    finally:
        a.stop()


def run_windows(agent_: Agent, items: Sequence[tuple[str, Callable[[], None], str | None, Sequence[str]]]
                ) -> dict[str, Window]:
    """items: (id, perform, reason it cannot run or None, rules to wait for before the barrier)."""
    out: dict[str, Window] = {}
    start, _ = agent_.barrier()
    for ident, perform, skip, wait_for in items:
        w = Window(ident, skipped=skip)
        out[ident] = w
        if skip:
            continue
        try:
            perform()
        except Exception as e:  # one failing action is reported, never fatal to the run
            w.error = f"{type(e).__name__}: {e}"
        for rule in wait_for:  # asynchronous alerts (container start): wait for them, bounded
            agent_.wait_alert(start, rule, {}, 15, lambda _a, _e: True)
        end, _ = agent_.barrier()
        w.alerts = [x for x in agent_.alerts[start:end] if "tiercel-barrier-" not in x.get("output", "")]
        start = end
    return out


def loud(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a.get("priority") in LOUD]


def elapsed(t0: float) -> str:
    return f"{time.monotonic() - t0:.1f}s"
