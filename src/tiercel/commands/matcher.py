"""The rules-to-outputs glue of `tiercel run`: the source's sink, which matches each event, counts the
matches and hands each alert to the outputs (or holds it while its container's metadata is on its
way)."""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections import Counter
from collections.abc import Callable
from typing import IO

from tiercel.common.priority import NAMES, SHORT
from tiercel.config import Config
from tiercel.events.model import Event
from tiercel.outputs.alert import Alert, make_alert
from tiercel.outputs.append import Extras
from tiercel.outputs.dispatcher import Dispatcher
from tiercel.outputs.hold import MetadataWait, snapshot, waiting_for
from tiercel.rules import Ruleset
from tiercel.rules.matching.ruleset import CompiledRule


class Matcher:
    """The source's sink: matches each event and hands its alerts to the dispatcher. A reload swaps
    rules, outputs and extras in one assignment, between two events."""

    def __init__(self, ruleset: Ruleset, dispatcher: Dispatcher, extras: Extras, cfg: Config) -> None:
        self.hostname = os.environ.get("FALCO_HOSTNAME") or socket.gethostname()  # as Falco
        self.by_rule: Counter[str] = Counter()
        self.by_priority: Counter[str] = Counter()
        # (rule, priority, source, tags): Falco's falcosecurity_falco_rules_matches_total labels
        self.matches: Counter[tuple[str, str, str, tuple[str, ...]]] = Counter()
        self.hold: MetadataWait | None = None   # set for a live source asking a container runtime
        self.retired_rule_errors = 0   # counted by the rulesets that reloads replaced
        self.current = _current(ruleset, dispatcher, extras, cfg)
        # another source's counts, apart: its thread never writes the syscall source's
        self._other: tuple[Counter[str], Counter[str], Counter[tuple[str, str, str, tuple[str, ...]]]] = (
            Counter(), Counter(), Counter())
        self._other_lock = threading.Lock()

    def swap(self, ruleset: Ruleset, dispatcher: Dispatcher, extras: Extras, cfg: Config) -> None:
        old = self.current[0]
        self.current = _current(ruleset, dispatcher, extras, cfg)
        self.retired_rule_errors += old.errors

    @property
    def ruleset(self) -> Ruleset:
        return self.current[0]

    @property
    def rule_errors(self) -> int:
        """Rule evaluations that raised, over every ruleset this run has had."""
        return self.retired_rule_errors + self.ruleset.errors

    def __call__(self, ev: Event) -> None:
        ruleset, dispatcher, extras, iso = self.current
        for m in ruleset.match(ev):
            rule = m.rule
            _count(rule, self.by_rule, self.by_priority, self.matches)
            container = waiting_for(ev) if self.hold is not None else None
            if self.hold is not None and container is not None:  # its metadata is on its way
                self.hold.hold(container, functools.partial(self.render, rule, snapshot(ev), extras, iso))
                continue
            dispatcher.emit(self.render(rule, ev, extras, iso))

    def other_source(self, source: str) -> Callable[[Event], None]:
        """The sink of another source's events (k8s_audit): its rules only, no container wait.
        Another thread may call it beside the syscall source's: the counts are taken under a lock."""
        def sink(ev: Event) -> None:
            ruleset, dispatcher, extras, iso = self.current
            for m in ruleset.match_source(source, ev):
                with self._other_lock:
                    _count(m.rule, *self._other)
                dispatcher.emit(self.render(m.rule, ev, extras, iso))
        return sink

    def totals(self) -> tuple[Counter[str], Counter[str], Counter[tuple[str, str, str, tuple[str, ...]]]]:
        """by rule, by priority, by (rule, priority, source, tags): every source's matches."""
        with self._other_lock:
            rules, prios, matches = Counter(self._other[0]), Counter(self._other[1]), Counter(self._other[2])
        rules.update(self.by_rule)
        prios.update(self.by_priority)
        matches.update(self.matches)
        return rules, prios, matches

    def render(self, rule: CompiledRule, ev: Event, extras: Extras | None, iso: bool) -> Alert:
        alert = make_alert(rule, ev, hostname=self.hostname, time_iso8601=iso)
        return extras.apply(alert, rule, ev) if extras is not None else alert

    def emit_current(self, alert: Alert) -> None:
        """A held alert goes to the outputs of now (a reload may have replaced those of its match)."""
        self.current[1].emit(alert)

    def summary(self, err: IO[str]) -> None:
        by_rule, by_priority, _ = self.totals()
        print(f"Events detected: {sum(by_rule.values())}", file=err)
        print("Rule counts by severity:", file=err)
        for p, short in zip(NAMES, SHORT, strict=True):
            if by_priority[p]:
                print(f"   {short}: {by_priority[p]}", file=err)
        print("Triggered rules by rule name:", file=err)
        for name, n in by_rule.most_common():
            print(f"   {name}: {n}", file=err)


def _count(rule: CompiledRule, by_rule: Counter[str], by_priority: Counter[str],
           matches: Counter[tuple[str, str, str, tuple[str, ...]]]) -> None:
    by_rule[rule.name] += 1
    by_priority[NAMES[rule.priority]] += 1
    matches[rule.name, NAMES[rule.priority], rule.source, tuple(rule.tags)] += 1


def _current(ruleset: Ruleset, dispatcher: Dispatcher, extras: Extras,
             cfg: Config) -> tuple[Ruleset, Dispatcher, Extras | None, bool]:
    return ruleset, dispatcher, extras if extras else None, cfg.time_format_iso_8601
