"""`tiercel test`: rule unit tests kept beside the rule files.

    tiercel test rules/                   rules/*.yaml against the tests in rules/tests/*.yaml
    tiercel test rules/x.yaml             rules/x.yaml against rules/tests/x.yaml
    tiercel test rules/tests/x.yaml       one test file (its rules: its `rules:` key, else its parent dir)

A test file:

    rules: [../tiercel_rules.yaml]          # optional, relative to this file; default: ..
    tests:
      - name: interactive shell in a container
        events:                             # field maps (tiercel.rules.fieldmap) ...
          - {evt.type: execve, evt.dir: "<", container.id: abc, proc.name: bash, proc.tty: 34816}
        fire: [Terminal shell in container]
        not_fire: [Non-interactive shell in container]
      - name: from a capture
        capture: ../../captures/cat.scap    # ... or a capture and, optionally, its evt.nums
        events: [140, 141]
        fire: [open_from_cat]

Each enabled rule is checked on its own (as rule_matching: all) against every event of the test;
a rule fires when one event is of its event types and satisfies its condition. Each failure is one
line at the position of the rule name that failed, then `tiercel explain` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tiercel.common.errors import TiercelError, printable
from tiercel.common.files import Unreadable, path_kind
from tiercel.common.safeyaml import FileRefused, read_text
from tiercel.config.yamlfile import compose, where, yaml_problems, yaml_reason
from tiercel.rules.matching.ruleset import CompiledRule


@dataclass
class RuleTest:
    name: str
    where: str
    rules: tuple[Path, ...]
    events: list[dict[str, Any]] = field(default_factory=list)
    capture: Path | None = None
    nums: frozenset[int] = frozenset()
    fire: list[tuple[str, str]] = field(default_factory=list)      # (rule, where named)
    not_fire: list[tuple[str, str]] = field(default_factory=list)


class RuleTestError(Exception):
    pass


# -- finding and reading test files ---------------------------------------------------------------

def find_test_files(paths: Iterable[Path]) -> list[tuple[Path, tuple[Path, ...] | None]]:
    """(test file, the rules it runs against, None for its own default) for each path given."""
    out: list[tuple[Path, tuple[Path, ...] | None]] = []
    for p in paths:
        try:
            kind = path_kind(p)
            beside = _is_test_file(p) or path_kind(p.parent / "tests" / p.name) == "file"
        except Unreadable:  # too long a name, a NUL byte: reading it says why, as a test file
            kind, beside = None, False
        if kind == "directory":
            out += [(t, (p,)) for t in sorted((p / "tests").glob("*.y*ml"))]
        elif _is_test_file(p) or not beside:
            out.append((p, None))   # not a test file and none beside it: reading it says why
        else:
            out.append((p.parent / "tests" / p.name, (p,)))
    return out


def _is_test_file(p: Path) -> bool:
    return p.parent.name == "tests" or p.name.endswith((".tests.yaml", ".tests.yml"))


def read_tests(path: Path, rules: tuple[Path, ...] | None) -> list[RuleTest]:
    try:
        text = read_text(path, "test file")
        root = compose(text, str(path))
    except FileRefused as e:
        raise RuleTestError(str(e)) from None
    except yaml.YAMLError as e:
        m = getattr(e, "problem_mark", None)
        at = f"{path}:{m.line + 1}:{m.column + 1}" if m else str(path)
        raise RuleTestError(f"{at}: not valid YAML: {yaml_reason(e)}") from None
    if root is None:
        return []
    problems = yaml_problems(root)
    if problems:
        raise RuleTestError("\n".join(problems))
    top = _mapping(root, "a test file")
    if rules is None:
        given = top.get("rules")
        rules = tuple(path.parent / s for s in _strings(given)) if given else (path.parent.parent,)
    tests = top.get("tests")
    if tests is None:
        raise RuleTestError(f"{where(root)}: a test file has a `tests:` list")
    return [_test(n, path, rules) for n in _seq(tests, "tests")]


def _test(node: Node, path: Path, rules: tuple[Path, ...]) -> RuleTest:
    m = _mapping(node, "a test")
    unknown = set(m) - {"name", "events", "capture", "fire", "not_fire"}
    if unknown:
        raise RuleTestError(f"{where(node)}: unknown key {sorted(unknown)[0]!r} (name, events, capture, "
                            "fire, not_fire)")
    name = _scalar(m["name"], "name") if "name" in m else f"test at {where(node)}"
    t = RuleTest(str(name), where(node), rules,
                 fire=_names(m.get("fire")), not_fire=_names(m.get("not_fire")))
    events = _seq(m["events"], "events") if "events" in m else []
    if "capture" in m:
        t.capture = path.parent / str(_scalar(m["capture"], "capture"))
        t.nums = frozenset(_int(e) for e in events)
    else:
        if not events:
            raise RuleTestError(f"{where(node)}: test '{t.name}': give events (field maps) or a capture")
        t.events = [_event(e) for e in events]
    return t


def _event(node: Node) -> dict[str, Any]:
    event = _value(_mapping(node, "an event (a map of field values)"))
    if not isinstance(event.get("evt.type", ""), str):
        raise RuleTestError(f"{where(node)}: evt.type is one event type (a string)")
    return event


def _mapping(node: Node, what: str) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        raise RuleTestError(f"{where(node)}: expected {what} (a mapping)")
    return {str(k.value): v for k, v in node.value}


def _seq(node: Node, key: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise RuleTestError(f"{where(node)}: `{key}` is a list")
    return list(node.value)


def _scalar(node: Node, key: str) -> Any:
    if not isinstance(node, ScalarNode):
        raise RuleTestError(f"{where(node)}: `{key}` is a single value")
    return SafeConstructor().construct_object(node)


def _int(node: Node) -> int:
    v = _scalar(node, "events")
    if not isinstance(v, int) or isinstance(v, bool):
        raise RuleTestError(f"{where(node)}: with a capture, events are evt.nums")
    return v


def _strings(node: Node) -> list[str]:
    items = node.value if isinstance(node, SequenceNode) else [node]
    return [str(_scalar(n, "rules")) for n in items]


def _names(node: Node | None) -> list[tuple[str, str]]:
    if node is None:
        return []
    items = node.value if isinstance(node, SequenceNode) else [node]
    return [(str(_scalar(n, "fire")), where(n)) for n in items]


def _value(m: dict[str, Node]) -> dict[str, Any]:
    return {k: SafeConstructor().construct_document(v) for k, v in m.items()}


# -- running --------------------------------------------------------------------------------------

Fired = Callable[[RuleTest, Sequence[CompiledRule]], set[str]]


def fired_by_maps(test: RuleTest, rules: Sequence[CompiledRule]) -> set[str]:
    from tiercel.rules.fieldmap import MapFields
    from tiercel.rules.fields.table import FieldTable
    from tiercel.rules.language.compiler import compile_condition

    table = FieldTable(hostname="")
    fields = {source: MapFields(table.for_source(source)) for source in {r.source for r in rules}}
    out = set()
    for r in rules:
        assert r.node is not None
        check: Callable[[Any], bool] = compile_condition(r.node, fields[r.source]).check
        if any((r.evttypes is None or e.get("evt.type") in r.evttypes) and check(e) for e in test.events):
            out.add(r.name)
    return out


def fired_in_capture(test: RuleTest, rules: Sequence[CompiledRule]) -> set[str]:
    from tiercel.events.model import Event
    from tiercel.sources.base import CaptureOptions
    from tiercel.sources.replay import ReplaySource

    assert test.capture is not None
    out: set[str] = set()

    def sink(ev: Event) -> None:
        if test.nums and ev.num not in test.nums:
            return
        out.update(r.name for r in rules
                   if (r.evttypes is None or ev.type in r.evttypes) and r.predicate(ev))

    source = ReplaySource(test.capture, CaptureOptions(containers=False), sink)
    try:
        source.start()
        source.run()
    except TiercelError as e:  # missing, not a capture, damaged: the test fails, with the reason
        raise RuleTestError(f"{test.where}: test '{test.name}': {e}") from None
    finally:
        source.stop()
    return out


def run_tests(paths: Sequence[Path], out: IO[str]) -> int:
    """Every test of every file; one line per failure; exit status 1 when any failed."""
    from tiercel.rules import load_rules

    loaded: dict[tuple[Path, ...], list[CompiledRule]] = {}
    failures, count = [], 0
    found = find_test_files(paths)
    if not found:
        out.write("tiercel test: no tests found (DIR/tests/*.yaml, or name a test file)\n")
        return 1
    for file, rules in found:
        try:
            tests = read_tests(file, rules)
        except RuleTestError as e:
            failures.append(str(e))
            continue
        for t in tests:
            if t.rules not in loaded:
                ruleset, result = load_rules(t.rules)
                if result.errors:
                    out.write(result.render_text() + "\n")
                    return 1
                loaded[t.rules] = ruleset.rules
            count += 1
            try:
                failures += check_test(t, loaded[t.rules])
            except RuleTestError as e:
                failures.append(str(e))
    for f in failures:  # test names and file names are the user's: no control characters shown
        out.write("\n".join(printable(line) for line in f.split("\n")) + "\n")
    out.write(f"tiercel test: {count} tests, {len(failures)} failures\n")
    return 1 if failures else 0


def check_test(t: RuleTest, rules: Sequence[CompiledRule]) -> list[str]:
    by_name = {r.name: r for r in rules}
    problems = [f"{at}: test '{t.name}': no rule named '{name}'"
                for name, at in (*t.fire, *t.not_fire) if name not in by_name]
    problems += [f"{at}: test '{t.name}': rule '{name}' is disabled"
                 for name, at in t.fire if name in by_name and not by_name[name].enabled]
    if problems:
        return problems
    fired = (fired_in_capture if t.capture else fired_by_maps)(t, [r for r in rules if r.enabled])
    hint = "(tiercel explain '{}' ... --all-events says why)"
    return ([f"{at}: test '{t.name}': rule '{name}' did not fire {hint.format(name)}"
             for name, at in t.fire if name not in fired]
            + [f"{at}: test '{t.name}': rule '{name}' fired, expected not to"
               for name, at in t.not_fire if name in fired])
