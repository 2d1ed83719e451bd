"""What the rules engine keeps of the values it has seen: the prefilter's memos hold each distinct
value of a key field (a file path) until MEMO_LIMIT of them, so a stream of unique paths (containers'
overlay files, temporary names) must cost a bounded, small amount of memory (issue 16: the agent's
RSS grew ~1 MB a minute under the soak while memos of 16,384 paths filled)."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from tiercel.rules.files.loader import load_rules_text
from tiercel.rules.matching import prefilter
from tiercel.testing import events as b

RULES = """
- rule: Read sensitive file
  desc: a file of the list is opened
  condition: evt.type = openat and fd.name in (/etc/shadow, /etc/sudoers)
  output: "%fd.name opened by %proc.name"
  priority: WARNING
"""
BOUND = 1_500_000   # bytes: what a full memo of paths like these may hold, with room to spare


@pytest.mark.parametrize("paths", [4_000, 16_000], ids=["4k-paths", "16k-paths"])
def test_memory_kept_for_unique_paths_is_bounded(paths: int) -> None:
    rs, result = load_rules_text([("x.yaml", RULES)])
    assert not result.errors
    proc = b.process("dockerd", pid=100)
    assert [m.rule.name for m in rs.match(b.openat("/etc/shadow", proc=proc))] == ["Read sensitive file"]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(paths):
            assert not rs.match(b.openat(f"/var/lib/docker/overlay2/{i:064x}/merged/etc/hosts", proc=proc))
        gc.collect()
        kept = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert kept < BOUND
    assert [m.rule.name for m in rs.match(b.openat("/etc/shadow", proc=proc))] == ["Read sensitive file"]


def test_the_bound_is_a_few_thousand_values() -> None:
    assert 1024 <= prefilter.MEMO_LIMIT <= 4096
