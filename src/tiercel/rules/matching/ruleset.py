"""Compiled rules indexed by event type (Falco's evttype_index_ruleset).

Each event is checked only against the enabled rules that can match its `evt.type`, plus the rules
with no event-type restriction, in definition order. Like Falco (`rule_matching: first`, its default)
the first matching rule wins; `match_all=True` reports every matching rule instead.

Selection mirrors Falco's command line: `-D` disables rules whose name contains a substring, `-T`
disables rules with a tag, `-t` runs only rules with one of the tags, `--priority` drops rules less
severe than a level. A rule with `enabled: false` stays off unless enabled by name.

Rules of another source than syscall (`source: k8s_audit`) are selected alike but never indexed by
event type: `match` sees syscall rules only, `match_source` one other source's rules, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tiercel.common.priority import Priority
from tiercel.common.wildcard import wildcard_matcher
from tiercel.events.model import Event
from tiercel.rules.files.diagnostics import SourceSpan
from tiercel.rules.language import syntax
from tiercel.rules.matching.plan import Compile, Plan, build_plan
from tiercel.rules.output import OutputFormat


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    """A loaded rule. `evttypes` is None when the condition does not restrict the event type."""

    id: int
    name: str
    desc: str
    priority: Priority            # an int: 0 Emergency ... 7 Debug
    source: str
    tags: tuple[str, ...]
    enabled: bool
    evttypes: frozenset[str] | None
    predicate: Callable[[Event], bool]
    output: OutputFormat
    span: SourceSpan | None = None
    condition: str = ""
    node: syntax.Node | None = None      # the expanded condition, for per-event-type specialisation

    def render_output(self, event: Event) -> tuple[str, dict[str, Any]]:
        """The rule's message for this event and its output_fields values."""
        return self.output.render(event), self.output.fields(event)


@dataclass(frozen=True, slots=True)
class Match:
    rule: CompiledRule
    event: Event


class Ruleset:
    """The rules of one load, with the current selection and the per-event-type index."""

    def __init__(self, rules: Sequence[CompiledRule], match_all: bool = False,
                 compile_: Compile | None = None,
                 source_compile: Callable[[str], Compile] | None = None) -> None:
        """`compile_` (condition tree -> Compiled) enables shared-check plans; without it each
        candidate rule's predicate is called in turn. `source_compile` gives the same for another
        source's rules (their fields are that source's)."""
        self.rules = list(rules)
        self.match_all = match_all
        self.errors = 0           # predicates that raised: counted, never fatal
        self._compile = compile_
        self._active = {r.name: r.enabled for r in self.rules}
        self._index: dict[str, tuple[CompiledRule, ...]] = {}
        self._catchall: tuple[CompiledRule, ...] = ()
        self._plans: dict[str, Plan] = {}
        self._other: dict[str, tuple[CompiledRule, ...]] = {}   # source -> its enabled rules
        self._source_compile = source_compile
        self._other_plans: dict[str, Plan] = {}
        self._rebuild()

    @property
    def compiler(self) -> Compile | None:
        """Condition tree -> its compiled record: what analyses of the rules (the kernel filter)
        use to evaluate parts of a condition."""
        return self._compile

    # -- selection -------------------------------------------------------------------------------

    def enable(self, name: str, enabled: bool = True) -> None:
        """Switch one rule on or off by its exact name."""
        if name in self._active:
            self._active[name] = enabled
            self._rebuild()

    def disable_matching(self, substring: str) -> int:
        """-D: disable every rule whose name contains `substring`; returns how many matched."""
        hits = [r for r in self.rules if substring in r.name]
        for r in hits:
            self._active[r.name] = False
        self._rebuild()
        return len(hits)

    def disable_tags(self, tags: Iterable[str]) -> None:
        """-T: disable the rules carrying any of these tags."""
        drop = set(tags)
        for r in self.rules:
            if drop.intersection(r.tags):
                self._active[r.name] = False
        self._rebuild()

    def only_tags(self, tags: Iterable[str]) -> None:
        """-t: keep only the rules carrying at least one of these tags."""
        keep = set(tags)
        for r in self.rules:
            if not keep.intersection(r.tags):
                self._active[r.name] = False
        self._rebuild()

    def select(self, enable: bool, rule: str | None = None, tag: str | None = None) -> int:
        """Falco's `rules:` entry: switch on or off the rules whose name matches `rule` or that carry a
        tag matching `tag` (`*` is any text, all else literal); returns how many matched."""
        by_name, by_tag = _wildcard(rule), _wildcard(tag)
        hits = [r for r in self.rules
                if (by_name is not None and by_name(r.name))
                or (by_tag is not None and any(by_tag(t) for t in r.tags))]
        for r in hits:
            self._active[r.name] = enable
        self._rebuild()
        return len(hits)

    def min_priority(self, level: int) -> None:
        """--priority: drop rules less severe than `level` (a Priority, or its int: 4 is Warning)."""
        for r in self.rules:
            if r.priority > level:
                self._active[r.name] = False
        self._rebuild()

    def enabled_rules(self) -> list[CompiledRule]:
        return [r for r in self.rules if self._active[r.name]]

    def _rebuild(self) -> None:
        """Per event type: its rules and the catch-all rules, merged in definition order."""
        everything = self.enabled_rules()
        enabled = [r for r in everything if r.source == "syscall"]
        self._other = {}
        self._other_plans = {}
        for r in everything:
            if r.source != "syscall":
                self._other[r.source] = (*self._other.get(r.source, ()), r)
        self._catchall = tuple(r for r in enabled if r.evttypes is None)
        types = {t for r in enabled if r.evttypes is not None for t in r.evttypes}
        self._index = {t: tuple(r for r in enabled if r.evttypes is None or t in r.evttypes)
                       for t in types}
        self._plans = {}          # rebuilt lazily, per event type, on its first event

    # -- matching --------------------------------------------------------------------------------

    def needed_event_types(self) -> set[str]:
        """The event types some enabled rule restricts itself to (what the probe must attach).

        Rules without a restriction are not in this set; `matches_any_type` says whether one exists.
        """
        return set(self._index)

    @property
    def matches_any_type(self) -> bool:
        return bool(self._catchall)

    def candidates(self, evttype: str) -> tuple[CompiledRule, ...]:
        return self._index.get(evttype, self._catchall)

    def match(self, event: Event) -> list[Match]:
        """The rule (or, with match_all, every rule) that matches the event, in definition order."""
        plan = self._plans.get(event.type)
        if plan is None:
            plan = self._plans[event.type] = self._plan(event.type)
        hits: list[CompiledRule] = []
        try:
            plan(event, hits)
        except Exception:  # one bad event never stops the agent: retry rule by rule
            self.errors += 1
            hits = []
            self._one_by_one(self.candidates(event.type), event, hits)
        if not hits:
            return []
        if len(hits) > 1:
            hits.sort(key=_rule_id)
        return [Match(r, event) for r in (hits if self.match_all else hits[:1])]

    def sources(self) -> set[str]:
        """The sources the enabled rules are for."""
        syscall = {"syscall"} if self._index or self._catchall else set()
        return syscall | set(self._other)

    def match_source(self, source: str, event: Event) -> list[Match]:
        """As `match`, for an event of another source: its enabled rules in definition order."""
        plan = self._other_plans.get(source)
        if plan is None:
            plan = self._other_plans[source] = self._source_plan(source)
        hits: list[CompiledRule] = []
        try:
            plan(event, hits)
        except Exception:  # as `match`: retry rule by rule
            self.errors += 1
            hits = []
            self._one_by_one(self._other.get(source, ()), event, hits)
        if len(hits) > 1:
            hits.sort(key=_rule_id)
        return [Match(r, event) for r in (hits if self.match_all else hits[:1])]

    def _source_plan(self, source: str) -> Plan:
        rules = self._other.get(source, ())
        if self._source_compile is not None and all(r.node is not None for r in rules):
            try:
                return build_plan(rules, source, self._source_compile(source))
            except Exception:  # a plan is an optimisation
                self.errors += 1
        return lambda ev, out: self._one_by_one(rules, ev, out)

    def _plan(self, evttype: str) -> Plan:
        rules = self.candidates(evttype)
        if self._compile is not None and all(r.node is not None for r in rules):
            try:
                return build_plan(rules, evttype, self._compile)
            except Exception:  # a plan is an optimisation: fall back to the rules' own predicates
                self.errors += 1
        return lambda ev, out: self._one_by_one(rules, ev, out)

    def _one_by_one(self, rules: Sequence[CompiledRule], event: Event, out: list[CompiledRule]) -> None:
        for rule in rules:
            try:
                hit = rule.predicate(event)
            except Exception:
                self.errors += 1
                continue
            if hit:
                out.append(rule)
                if not self.match_all:
                    return


def _wildcard(pattern: str | None) -> Callable[[str], bool] | None:
    return None if pattern is None else wildcard_matcher(pattern)


def _rule_id(rule: CompiledRule) -> int:
    return rule.id
