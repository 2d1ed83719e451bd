"""The attack corpus run once against an agent with the given rules (used by the test and the report)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.attacks.corpus import BEHAVIOURS, Behaviour, Lab, build_helper, unavailable
from tests.attacks.live import Window, agent, run_windows
from tiercel.generator import actions_container
from tiercel.generator.base import Context
from tiercel.generator.nettarget import TestHost


@contextmanager
def lab() -> Iterator[Lab]:
    ctx = Context()
    the_lab = Lab(ctx, helper="")
    try:
        the_lab.helper = build_helper(ctx.scratch) or ""
        try:
            host = TestHost.create()
            ctx.cleanups.append(host.close)
            the_lab.target = ctx.target = host.target
        except Exception:  # network behaviours are then skipped with the reason
            pass
        if actions_container._docker() is None:
            actions_container.container(ctx)  # started before the first barrier: no action's doing
        yield the_lab
    finally:
        the_lab.close()
        ctx.close()


def run_corpus(rules: Sequence[Path], behaviours: Sequence[Behaviour] = BEHAVIOURS) -> dict[str, Window]:
    with lab() as the_lab, agent(rules) as a:
        items = [(b.id, (lambda b=b: b.perform(the_lab)), unavailable(b, the_lab),
                  b.rules if b.wait else ()) for b in behaviours]
        return run_windows(a, items)
