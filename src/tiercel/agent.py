"""`tiercel run`: rules loaded -> probe attached for what they need -> alerts as JSON lines.

Start-up steps in order: load rules (report every error, stop on any), select rules (-D/-T/-t/
--priority), work out the syscalls to attach, start the live source, loop; teardown always runs and
prints the summary.
"""

from __future__ import annotations

import socket
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tiercel.app import CaptureOptions, LiveSource, install_signals, report
from tiercel.errors import TiercelError
from tiercel.events.model import Event
from tiercel.events.syscalls import FD_STATE_SYSCALLS, STATE_SYSCALLS, SyscallTable
from tiercel.outputs.alert import make_alert, to_json
from tiercel.rules.items import PRIORITIES
from tiercel.rules.loader import load_rules
from tiercel.rules.ruleset import Ruleset

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "rules"


class RulesProblem(TiercelError):
    exit_code = 1


@dataclass
class RunOptions:
    rules: list[Path] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)       # -D substrings
    disable_tags: list[str] = field(default_factory=list)  # -T
    only_tags: list[str] = field(default_factory=list)     # -t
    priority: str | None = None
    json: bool = True
    stats: bool = False
    match_all: bool = False
    trace: Path | None = None                               # -e: replay this capture file
    capture: CaptureOptions = field(default_factory=CaptureOptions)


def load(opts: RunOptions, err: IO[str]) -> Ruleset:
    paths = opts.rules or [DEFAULT_RULES]
    ruleset, result = load_rules(paths, match_all=opts.match_all)
    if result.errors or result.warnings:
        print(result.render_text(), file=err)
    if result.errors:
        raise RulesProblem(f"{len(result.errors)} error(s) in the rule files; nothing was started")
    for sub in opts.disable:
        ruleset.disable_matching(sub)
    if opts.disable_tags:
        ruleset.disable_tags(opts.disable_tags)
    if opts.only_tags:
        ruleset.only_tags(opts.only_tags)
    if opts.priority:
        names = [p.lower() for p in PRIORITIES]
        if opts.priority.lower() not in names:
            raise RulesProblem(f"unknown priority '{opts.priority}': one of {', '.join(PRIORITIES)}")
        ruleset.min_priority(names.index(opts.priority.lower()))
    return ruleset


def syscalls_for(ruleset: Ruleset, table: SyscallTable) -> set[str]:
    """The syscalls the enabled rules can match, plus those the process and fd state needs."""
    if ruleset.matches_any_type:
        return set(table.by_name)
    wanted = {t for t in ruleset.needed_event_types() if t in table.by_name}
    return wanted | STATE_SYSCALLS | FD_STATE_SYSCALLS


class AlertWriter:
    """Matches each event and writes its alerts (stdout JSON for now; the outputs issue adds sinks)."""

    def __init__(self, ruleset: Ruleset, out: IO[str], json: bool) -> None:
        self.ruleset = ruleset
        self.out = out
        self.json = json
        self.hostname = socket.gethostname()
        self.by_rule: Counter[str] = Counter()
        self.by_priority: Counter[str] = Counter()

    def __call__(self, ev: Event) -> None:
        for m in self.ruleset.match(ev):
            alert = make_alert(m.rule, ev, hostname=self.hostname)
            self.by_rule[alert.rule] += 1
            self.by_priority[alert.priority] += 1
            self.out.write((to_json(alert) if self.json else alert.output) + "\n")
            self.out.flush()

    def summary(self, err: IO[str]) -> None:
        print(f"Events detected: {sum(self.by_rule.values())}", file=err)
        print("Rule counts by severity:", file=err)
        for p in PRIORITIES:
            if self.by_priority[p]:
                print(f"   {p.upper()}: {self.by_priority[p]}", file=err)
        print("Triggered rules by rule name:", file=err)
        for name, n in self.by_rule.most_common():
            print(f"   {name}: {n}", file=err)


def make_source(opts: RunOptions, sink: Callable[[Event], None]) -> LiveSource:
    """The event source: a capture file to replay (-e), or the live kernel."""
    if opts.trace is not None:
        from tiercel.scap.replay import ReplaySource  # built by the capture-file issue
        return ReplaySource(opts.trace, opts.capture, sink)  # type: ignore[return-value]
    return LiveSource(opts.capture, sink)


def run_agent(opts: RunOptions, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    ruleset = load(opts, err)
    writer = AlertWriter(ruleset, out, opts.json)
    table = SyscallTable()
    opts.capture.syscalls = syscalls_for(ruleset, table)
    source = make_source(opts, writer)
    install_signals(source)
    started = False
    try:
        source.start()
        started = True
        print(f"tiercel: running {len(ruleset.enabled_rules())} rules "
              f"({len(opts.capture.syscalls)} syscalls attached)", file=err, flush=True)
        source.run(opts.capture.duration)
    finally:
        source.stop()
        if started:
            if opts.stats or opts.trace is not None:  # Falco always prints it on replay
                writer.summary(err)
            report(source.counters, err)
    return 0
