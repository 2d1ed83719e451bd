"""ScapWriter: what it writes is read by Debian's sysdig and replays to the same alerts.

The events come from replaying sample captures: written again as enter/exit pairs, they must give
sysdig the same number of events tiercel reads back, and the rules the same per-rule counts as
the original capture.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tiercel.events.model import Event
from tiercel.rules import load_rules
from tiercel.scap.encode import SYSDIG_029_MAX
from tiercel.scap.reader import CaptureReader
from tiercel.scap.writer import ScapWriter
from tiercel.sources.base import CaptureOptions
from tiercel.sources.replay import ReplaySource

SUITE = "falco-regression/test"  # under the oracle directory
RULES = ["rules/single_rule.yaml", "rules/double_rule.yaml"]


def replay(path: Path, sink: object) -> ReplaySource:
    src = ReplaySource(path, CaptureOptions(), sink)  # type: ignore[arg-type]
    src.start()
    src.run()
    src.stop()
    return src


def rewrite(capture: Path, out: Path) -> ScapWriter:
    """Write the merged events of a replay (what the live source produces) to `out`."""
    w = ScapWriter(out, hostname="test")

    def sink(ev: Event) -> None:
        if ev.dir == "<" or ev.type == "procexit":
            w.write(ev)
    replay(capture, sink)
    w.close()
    return w


def alert_counts(suite: Path, path: Path) -> Counter[str]:
    ruleset, _ = load_rules([suite / r for r in RULES])
    counts: Counter[str] = Counter()

    def sink(ev: Event) -> None:
        # the merged events (what a live run matches); a rewritten capture also gains the enter
        # events that the original lacked where it started mid-syscall
        if ev.dir == "<":
            counts.update(m.rule.name for m in ruleset.match(ev))
    replay(path, sink)
    return counts


@pytest.mark.parametrize("name", ["cat_write.scap", "connect_localhost.scap", "open-multiple-files.scap"])
def test_rewritten_capture_replays_to_the_same_alerts(tmp_path: Path, name: str, oracles: Path) -> None:
    suite = oracles / SUITE
    out = tmp_path / "again.scap"
    rewrite(suite / "trace_files" / name, out)
    original = alert_counts(suite, suite / "trace_files" / name)
    assert alert_counts(suite, out) == original
    if name == "cat_write.scap":
        assert original["open_from_cat"] == 4


@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig is installed by ci/setup.sh")
def test_sysdig_reads_what_tiercel_writes(tmp_path: Path, oracles: Path) -> None:
    out = tmp_path / "w.scap"
    w = rewrite(oracles / SUITE / "trace_files/cat_write.scap", out)
    with CaptureReader(out) as r:
        codes = [e.code for e in r.events()]
    assert len(codes) == w.count
    res = subprocess.run(["sysdig", "-r", str(out), "-p", "%evt.num %evt.type %proc.name"],
                         capture_output=True, text=True, check=True)
    lines = res.stdout.splitlines()
    # sysdig 0.29 knows event codes below SYSDIG_029_MAX and skips the newer ones
    assert len(lines) == sum(1 for c in codes if c < SYSDIG_029_MAX)
    assert any(line.endswith("open cat") for line in lines)
