"""`-L` with json_output: every rule, macro and list with its details, under Falco's key names.

    {"required_engine_version": "0.57.0", "required_plugin_versions": [],
     "lists":  [{"info": {"name", "items"}, "details": {"used", "lists", "items_plain"}}],
     "macros": [{"info": {"name", "condition"},
                 "details": {"used", "macros", "lists", "operators", "condition_fields", "events"}}],
     "rules":  [{"info": {"name", "description", "condition", "output", "priority", "source", "tags",
                          "enabled"},
                 "details": {... as macros, "output_fields", "exception_fields", "exceptions",
                             "exception_operators"}}]}

As Falco's falco_engine::get_json_details: a condition's details come from its own text (the macros
and lists it names, not theirs); its events from the expanded condition (rules) or its own (macros).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tiercel.common.priority import NAMES
from tiercel.rules.files.collector import Collector
from tiercel.rules.files.definitions import ExceptionInfo
from tiercel.rules.files.diagnostics import LoadResult
from tiercel.rules.files.reader import read_items
from tiercel.rules.language import passes, syntax
from tiercel.rules.language.parser import ConditionSyntaxError, parse_condition
from tiercel.rules.matching.ruleset import CompiledRule
from tiercel.rules.output import FieldToken


def describe(sources: Sequence[tuple[str, str]], rules: Iterable[CompiledRule],
             only: str | None = None) -> dict[str, Any]:
    """The document for (name, text) rule files and the rules they loaded; `only`: -l RULE."""
    col = Collector(LoadResult())
    for name, text in sources:
        col.collect(read_items(name, text, col.result))
    parsed = {name: _parse(info.cond.text) for name, info in col.macros.items()}
    rule_trees = {name: _parse(info.cond.text) for name, info in col.rules.items()}
    macros_used = {m for n in [*parsed.values(), *rule_trees.values()] for m in _names(n, col.macros)}
    lists_used = {ref for n in [*parsed.values(), *rule_trees.values()] for ref in _lists(n, col.lists)}
    lists_used |= {i for info in col.lists.values() for i in info.items if i in col.lists}
    doc_rules = [_rule(r, col, rule_trees.get(r.name)) for r in rules if only in (None, r.name)]
    if only is not None:
        return {"rules": doc_rules}
    return {
        "required_engine_version": ".".join(map(str, col.required_engine_version)),
        "required_plugin_versions": [],
        "lists": [{"info": {"name": name, "items": list(info.items)},
                   "details": {"used": name in lists_used,
                               "lists": [i for i in info.items if i in col.lists],
                               "items_plain": [i for i in info.items if i not in col.lists]}}
                  for name, info in col.lists.items()],
        "macros": [{"info": {"name": name, "condition": info.cond.text},
                    "details": {"used": name in macros_used, **_details(parsed[name], col),
                                "events": _events(parsed[name])}}
                   for name, info in col.macros.items()],
        "rules": doc_rules,
    }


def read_sources(paths: Iterable[Path]) -> list[tuple[str, str]]:
    return [(str(p), p.read_text(errors="replace")) for p in paths]


def _rule(r: CompiledRule, col: Collector, tree: syntax.Node | None) -> dict[str, Any]:
    info = col.rules.get(r.name)
    exceptions: list[ExceptionInfo] = info.exceptions if info is not None else []
    return {
        "info": {"name": r.name, "description": r.desc, "condition": info.cond.text if info else r.condition,
                 "output": r.output.template, "priority": NAMES[r.priority], "source": r.source,
                 "tags": list(r.tags), "enabled": r.enabled},
        "details": {
            **_details(tree, col),
            "output_fields": [p.key for p in r.output.parts if isinstance(p, FieldToken)],
            "exception_fields": sorted({f for e in exceptions for f in _flat(e.fields)}),
            "exceptions": [e.name for e in exceptions],
            "exception_operators": [c for e in exceptions for c in _flat(e.comps)],
            "events": sorted(r.evttypes) if r.evttypes is not None else [],
        },
    }


def _details(tree: syntax.Node | None, col: Collector) -> dict[str, Any]:
    nodes = syntax.walk(tree) if tree is not None else []
    compares = [n for n in nodes if isinstance(n, syntax.Compare)]
    return {
        "macros": sorted(set(_names(tree, col.macros))),
        "operators": sorted({c.op for c in compares}),
        "condition_fields": sorted({n.name for n in nodes if isinstance(n, syntax.FieldRef)}),
        "lists": sorted(set(_lists(tree, col.lists))),
    }


def _events(tree: syntax.Node | None) -> list[str]:
    if tree is None:
        return []
    types = passes.event_type_set(tree)
    return [] if types.cofinite else sorted(types.names)


def _parse(text: str) -> syntax.Node | None:
    try:
        return parse_condition(text)
    except ConditionSyntaxError:
        return None


def _names(tree: syntax.Node | None, known: Iterable[str]) -> list[str]:
    if tree is None:
        return []
    known = set(known)
    return [n.name for n in syntax.walk(tree) if isinstance(n, syntax.Identifier) and n.name in known]


def _lists(tree: syntax.Node | None, known: Iterable[str]) -> list[str]:
    if tree is None:
        return []
    known = set(known)
    return [n.text for n in syntax.walk(tree)
            if isinstance(n, syntax.Value) and not n.quoted and n.text in known]


def _flat(v: str | list[str] | list[Any] | None) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return [x for item in v for x in _flat(item)]
