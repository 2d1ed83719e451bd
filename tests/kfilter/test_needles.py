"""Needles: `contains`, glob runs and fd.nameraw atoms judged in the kernel (a path must contain one
of a few short strings). Every crafted path, under every outcome and access mode, gives the same
alerts with and without the filter; and the filter keeps out the paths that contain none."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tiercel.events.model import Event, Process
from tiercel.events.syscalls import SyscallTable
from tiercel.kfilter.derive import derive
from tiercel.kfilter.offline import KernelView, passes
from tiercel.probe.filtertables import MAX_NEEDLES, FilterTables
from tiercel.rules.files.loader import load_rules_text
from tiercel.state.enrich import Enricher
from tiercel.state.processes import ProcessTable
from tiercel.testing.soundness import stream_alerts
from tiercel.testing.state import NO_PROC

TABLE = SyscallTable()

RULES = """
- macro: open_read
  condition: (evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)
- rule: traversal
  desc: d
  condition: >
    open_read and (fd.name startswith /etc/ or fd.name contains "id_rsa" or fd.name contains "/.ssh/")
    and fd.nameraw contains '../' and fd.nameraw glob '*../*../*'
  output: "%fd.name"
  priority: WARNING
- rule: history
  desc: d
  condition: evt.type=openat and evt.arg.flags contains O_TRUNC and fd.directory contains "hist"
  output: "%fd.name"
  priority: WARNING
- rule: keys glob
  desc: d
  condition: evt.type=open and fd.name glob "/home/*/[!.]key?.pem"
  output: "%fd.name"
  priority: WARNING
- rule: never judged
  desc: d
  condition: evt.type=openat2 and fd.nameraw glob "*/./*"
  output: "%fd.name"
  priority: WARNING
"""

PATHS = [b"/etc/hostname", b"/etc/a../b../c", b"/etc/../etc/shadow", b"/x../y../id_rsa", b"/id_rsa",
         b"/root/.ssh/../id_rsa", b"/a../id_rsa", b"/var/hist/f", b"/var/history", b"/var/histo/ry",
         b"/home/u/akey1.pem", b"/home/u/.key1.pem", b"/home/u/key1.pem", b"/home/u/v/bkey2.pem",
         b"/srv/./x", b"/srv/x", b"rel/a../b../c", b"/etc/" + b"a../" * 70, b"/etc/a../b../",
         b"/etc//a../b../c"]
FLAGS = [0, 1, 2, 0o1001, 0o1102]


def _tables() -> tuple[Any, FilterTables]:
    rs, result = load_rules_text([("needles.yaml", RULES)])
    assert not result.errors, result.errors
    return rs, derive(rs, rs.compiler, TABLE, TABLE.by_name)


def _events() -> list[Event]:
    out = []
    combos = itertools.product(["open", "openat", "openat2"], PATHS, FLAGS, [3, -2])
    for num, (name, path, flags, res) in enumerate(combos, 1):
        out.append(Event(num=num, ts=num, type=name, dir="<", tid=7, pid=7, comm="cat", uid=0, res=res,
                         args={"name": path.decode(), "flags": flags, "dirfd": -100, "mode": 0}))
    return out


def _enricher() -> Enricher:
    enricher = Enricher(NO_PROC, table=ProcessTable(NO_PROC))
    enricher.table.add(Process(pid=7, ppid=1, comm="cat", exe="cat", exepath="/usr/bin/cat",
                               args=["cat"], cwd="/", uid=0), [7])
    return enricher


def test_needle_tables_are_derived() -> None:
    _rs, tables = _tables()
    by_rule = {s.rules: s for s in tables.syscalls["openat"].slots}
    assert by_rule[("traversal",)].needles == frozenset({b".."})
    assert by_rule[("history",)].needles == frozenset({b"hi"})
    assert tables.syscalls["openat2"].slots[0].needles is not None
    never = [s for s in tables.syscalls["openat2"].slots if s.rules == ("never judged",)]
    assert never and never[0].needles == frozenset()     # no normal path holds: only unjudged pass
    assert all(len(s.needles or ()) <= MAX_NEEDLES for f in tables.syscalls.values() for s in f.slots)


def test_same_alerts_with_and_without_needles() -> None:
    rs, tables = _tables()
    plain = stream_alerts(_events(), rs, None, _enricher())
    kept = stream_alerts(_events(), rs, tables, _enricher())
    assert kept == plain
    assert {a[1] for a in plain} == {"traversal", "history", "keys glob", "never judged"}


@pytest.mark.parametrize("path, passed", [
    (b"/etc/hostname", False), (b"/etc/a../b../c", True), (b"/a../id_rsa", True),
    (b"/srv/x", False), (b"/srv/./x", True), (b"rel/x", True), (b"/etc/" + b"a" * 300, True)])
def test_openat2_paths_the_probe_keeps_or_drops(path: bytes, passed: bool) -> None:
    _rs, tables = _tables()
    assert passes(tables, KernelView("openat2", 3, b"cat", path, 0)) is passed
