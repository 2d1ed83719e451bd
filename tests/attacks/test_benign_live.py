"""The benign corpus live: one agent with the stable default rules (what `tiercel run` loads),
every workflow run once between barriers; an alert at Warning or above is a false alarm."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.attacks.benign import WORK, Work
from tests.attacks.live import STABLE_RULES, Window, agent, loud, run_windows

pytestmark = pytest.mark.live


def run_benign(rules: list[Path]) -> dict[str, Window]:
    with tempfile.TemporaryDirectory(prefix="tiercel-benign-") as d, agent(rules) as a:
        items = []
        for w in WORK:
            scratch = Path(d) / str(len(items))
            scratch.mkdir()
            items.append((w.name, (lambda w=w, s=scratch: w.perform(s)), w.unavailable(), ()))
        return run_windows(a, items)


@pytest.fixture(scope="module")
def windows() -> dict[str, Window]:
    return run_benign(STABLE_RULES)


@pytest.mark.parametrize("work", WORK, ids=[w.name for w in WORK])
def test_no_false_alarm(windows: dict[str, Window], work: Work) -> None:
    w = windows[work.name]
    if w.skipped:
        pytest.skip(w.skipped)
    assert [(a["rule"], a["output"]) for a in loud(w.alerts)] == []
    assert w.error is None, w.error   # silence counts only for work that was done


def test_corpus_is_wide_enough() -> None:
    assert len(WORK) >= 30
