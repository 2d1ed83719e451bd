"""The attack corpus live: one agent with the default rules (stable + incubating), every behaviour
run once between barriers, then each behaviour's expected rules asserted on its own window."""

from __future__ import annotations

import pytest

from tests.attacks.attack_run import run_corpus
from tests.attacks.corpus import BEHAVIOURS
from tests.attacks.live import DEFAULT_RULES, Window

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def windows() -> dict[str, Window]:
    return run_corpus(DEFAULT_RULES)


@pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=[b.id for b in BEHAVIOURS])
def test_behaviour_is_detected(windows: dict[str, Window], behaviour) -> None:  # type: ignore[no-untyped-def]
    w = windows[behaviour.id]
    if w.skipped:
        pytest.skip(w.skipped)
    assert w.error is None, w.error
    missing = set(behaviour.rules) - w.rules
    known = {r: why for r, why in behaviour.miss.items() if r in missing}
    assert not missing - set(known), f"not fired: {sorted(missing)}; fired: {sorted(w.rules)}"
    unexpected = set(behaviour.miss) - missing
    assert not unexpected, f"listed as missed but fired now (remove from miss): {sorted(unexpected)}"
    if known:
        pytest.xfail("; ".join(f"{r}: {why}" for r, why in known.items()))


def test_corpus_is_wide_enough() -> None:
    tactics = {b.tactic for b in BEHAVIOURS}
    assert len(BEHAVIOURS) >= 60 and len(tactics) >= 9
    variants = " ".join(b.variant for b in BEHAVIOURS)
    for v in ("python3", "perl", "sh builtin", "renamed", "relative", "openat2", "execveat", "symlink",
              "hard link", "memfd", "short-lived", "thread", "container"):
        assert v in variants, v
