"""Collect lists, macros and rules from read items, applying Falco's definition-order semantics.

What Falco does, and so what we do:
- A later definition with the same name replaces the earlier one but keeps its place (`index`);
  `visibility` records when it was last touched. A list sees only lists whose index is lower than its
  own visibility; a macro sees macros the same way; a rule sees every macro and list.
- `append: true` (or `override: {key: append}`) extends an existing item: list items are added,
  conditions are joined with a space, exceptions are merged by name. Appending to an item that does
  not exist yet is an error. `override: {key: replace}` replaces single rule properties.
- A rule item with only `enabled` switches an existing rule on or off.
Structural problems (missing keys, wrong types) are reported per item; loading continues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tiercel.rules.files import definitions
from tiercel.rules.files.definitions import (
    ENGINE_VERSION,
    CondText,
    ExceptionInfo,
    ItemError,
    ListInfo,
    MacroInfo,
    RuleInfo,
    decode_bool,
    decode_str,
    decode_tags,
    read_exceptions,
    read_overrides,
)
from tiercel.rules.files.diagnostics import (
    LOAD_DEPRECATED_ITEM,
    LOAD_INVALID_LIST_NAME,
    LOAD_INVALID_MACRO_NAME,
    LOAD_PLUGIN_VERSIONS_IGNORED,
    LOAD_UNKNOWN_ITEM,
    LOAD_UNKNOWN_SOURCE,
    LoadResult,
)
from tiercel.rules.files.reader import YNode

KNOWN_SOURCES = frozenset({"syscall", "k8s_audit"})
# Plugins whose fields and source tiercel has built in: a rules file requiring them is satisfied.
BUILT_IN_PLUGINS = {"k8saudit": "the k8s_audit source", "json": "the jevt.* fields"}
_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_BARESTR = re.compile(r"[^()\"'\s=,]+")
_RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
_RULE_REPLACEABLE = ("condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
                     "warn_evttypes", "skip-if-unknown-filter")


@dataclass
class Collector:
    """Accumulates definitions across files, in load order."""

    result: LoadResult
    lists: dict[str, ListInfo] = field(default_factory=dict)
    macros: dict[str, MacroInfo] = field(default_factory=dict)
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    required_engine_version: tuple[int, int, int] = (0, 0, 0)
    built_in_plugins: list[str] = field(default_factory=list)   # required, and built in
    _counter: int = 0

    def collect(self, items: list[YNode]) -> None:
        for item in items:
            try:
                self._collect_item(item)
            except ItemError as e:
                self.result.error(e.code, e.message, e.span, e.context)

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _collect_item(self, item: YNode) -> None:
        if "required_engine_version" in item.entries:
            self._engine_version(item)
        elif "required_plugin_versions" in item.entries:
            self._plugin_versions(item)
        elif "list" in item.entries:
            self._list(item)
        elif "macro" in item.entries:
            self._macro(item)
        elif "rule" in item.entries:
            self._rule(item)
        else:
            self.result.warning(LOAD_UNKNOWN_ITEM, "Unknown top level item", item.span)

    # -- versions --------------------------------------------------------------------------------

    def _built_in(self, name: str) -> None:
        """One notice per load naming every required plugin tiercel has built in."""
        names = self.built_in_plugins
        if name in names:
            return
        notices = self.result.notices
        old = notices.index(self._notice()) if names else len(notices)
        names.append(name)
        notices[old:old + 1] = [self._notice()]

    def _notice(self) -> str:
        names = self.built_in_plugins
        what = "; ".join(BUILT_IN_PLUGINS[n] for n in names)
        return f"required plugins {','.join(names)} built in ({what}): no plugin library is loaded"

    def _plugin_versions(self, item: YNode) -> None:
        """Plugins tiercel has built in are satisfied (a notice, once per load); others are
        accepted and ignored (a warning)."""
        node = item.entries["required_plugin_versions"]
        others: list[str] = []
        for entry in node.items if node.kind == "seq" else []:
            names = [_entry_name(entry)] + [_entry_name(a) for a in _alternatives(entry)]
            built_in = [n for n in names if n in BUILT_IN_PLUGINS]
            if built_in:
                self._built_in(built_in[0])
            else:
                others.append(names[0] or "?")
        if others or node.kind != "seq":
            self.result.warning(LOAD_PLUGIN_VERSIONS_IGNORED, "required_plugin_versions accepted and "
                                f"ignored: tiercel loads no plugins ({', '.join(others)})",
                                item.key_span("required_plugin_versions"))

    def _engine_version(self, item: YNode) -> None:
        node = item.entries["required_engine_version"]
        text = node.text if node.kind == "scalar" else ""
        version = definitions.parse_engine_version(text)
        if version is None:
            raise ItemError("Value of required_engine_version must be a number", node.span)
        if version[0] != ENGINE_VERSION[0] or version > ENGINE_VERSION:
            engine = ".".join(map(str, ENGINE_VERSION))
            raise ItemError(f"Rules require engine version {text}, but engine version is {engine}",
                            node.span)
        self.required_engine_version = max(self.required_engine_version, version)

    # -- lists -----------------------------------------------------------------------------------

    def _list(self, item: YNode) -> None:
        name = _item_name(item, "list", "List")
        ctx = (f"list '{name}'",)
        if not _BARESTR.fullmatch(name):
            self.result.warning(LOAD_INVALID_LIST_NAME, "List has an invalid name", item.span, ctx)
        definitions.warn_unknown_keys(item, definitions.LIST_KEYS, ctx, self.result)
        entries = definitions.decode_seq(item, "items", ctx, required="List must have property items")
        values = [e.text for e in entries]
        append = self._append_flag(item, ctx)
        overrides = read_overrides(item, ("items",), ("items",), ctx)
        append = append or overrides.get("items") == "append"
        info = ListInfo(name, values, item.span, item)
        if not append:
            self._define(self.lists, info)
            return
        prev = self.lists.get(name)
        if prev is None:
            raise ItemError(_dangling("List", name, overrides), item.span, ctx)
        prev.items.extend(values)
        prev.visibility = self._next()

    # -- macros ----------------------------------------------------------------------------------

    def _macro(self, item: YNode) -> None:
        name = _item_name(item, "macro", "Macro")
        ctx = (f"macro '{name}'",)
        if not _IDENTIFIER.fullmatch(name):
            self.result.warning(LOAD_INVALID_MACRO_NAME, "Macro has an invalid name: macro names must "
                                "be identifiers ([a-zA-Z]+[a-zA-Z0-9_]*)", item.span, ctx)
        definitions.warn_unknown_keys(item, definitions.MACRO_KEYS, ctx, self.result)
        cond = _condition(item, ctx, "Macro must have property condition")
        append = self._append_flag(item, ctx)
        overrides = read_overrides(item, ("condition",), ("condition",), ctx)
        append = append or overrides.get("condition") == "append"
        if not append:
            self._define(self.macros, MacroInfo(name, cond, item.span, item))
            return
        prev = self.macros.get(name)
        if prev is None:
            raise ItemError(_dangling("Macro", name, overrides), item.span, ctx)
        prev.cond = prev.cond.join(cond)
        prev.visibility = self._next()

    # -- rules -----------------------------------------------------------------------------------

    def _rule(self, item: YNode) -> None:
        name = _item_name(item, "rule", "Rule")
        ctx = (f"rule '{name}'",)
        definitions.warn_unknown_keys(item, definitions.RULE_KEYS, ctx, self.result)
        append = self._append_flag(item, ctx)
        overrides = read_overrides(item, _RULE_APPENDABLE, _RULE_REPLACEABLE, ctx)
        if overrides:
            self._rule_overrides(item, name, overrides, ctx)
        elif append:
            self._rule_append(item, name, ctx)
        elif not any(k in item.entries for k in ("condition", "output", "desc", "priority")):
            self._rule_enable(item, name, ctx)
        else:
            self._rule_define(item, name, ctx)

    def _rule_define(self, item: YNode, name: str, ctx: tuple[str, ...]) -> None:
        cond = _condition(item, ctx, "Rule must have property condition")
        output_node = _required(item, "output", ctx, "Rule must have property output")
        desc = decode_str(item, "desc", ctx, required="Rule must have property desc")
        prio_node = _required(item, "priority", ctx, "Rule must have property priority")
        priority = definitions.decode_priority(prio_node, ctx)
        source = decode_str(item, "source", ctx) or "syscall"
        rule = RuleInfo(
            name=name, cond=cond, output=decode_str(item, "output", ctx).strip(),
            output_node=output_node, desc=desc, priority=priority, source=source,
            tags=decode_tags(item, ctx), span=item.span, node=item,
            enabled=bool(decode_bool(item, "enabled", ctx, True)),
            warn_evttypes=bool(decode_bool(item, "warn_evttypes", ctx, True)),
            skip_if_unknown_filter=bool(decode_bool(item, "skip-if-unknown-filter", ctx, False)),
            exceptions=read_exceptions(item, ctx, append=False, result=self.result),
        )
        prev = self.rules.get(name)
        if prev is not None and prev.source != source:
            raise ItemError("Rule has been re-defined with a different source", item.span, ctx)
        for ex in rule.exceptions:
            if ex.fields is None:
                raise ItemError(f"Rule exception item {ex.name}: must have fields property with a "
                                "list of fields", ex.span, (*ctx, f"exception '{ex.name}'"))
        if source not in KNOWN_SOURCES:
            rule.unknown_source = True
            self.result.warning(LOAD_UNKNOWN_SOURCE, f"Unknown source {source}, skipping",
                                item.span, ctx)
        self._define(self.rules, rule)

    def _rule_append(self, item: YNode, name: str, ctx: tuple[str, ...]) -> None:
        cond = _condition(item, ctx, None) if "condition" in item.entries else None
        exceptions = read_exceptions(item, ctx, append=True, result=self.result)
        if cond is None and "exceptions" not in item.entries:
            raise ItemError("Appended rule must have exceptions or condition property", item.span, ctx)
        prev = self.rules.get(name)
        if prev is None:
            raise ItemError(f"Rule {name} has 'append' key but no rule by that name already exists",
                            item.span, ctx)
        if cond is not None and cond.text:
            prev.cond = prev.cond.join(cond)
        _merge_exceptions(prev, exceptions, ctx)
        prev.visibility = self._next()

    def _rule_overrides(self, item: YNode, name: str, overrides: dict[str, str],
                        ctx: tuple[str, ...]) -> None:
        for key in _RULE_REPLACEABLE:
            if key in item.entries and key not in overrides:
                raise ItemError(f"Unexpected key '{key}': no corresponding entry under 'override' is "
                                "defined.", item.key_span(key), ctx)
        prev = self.rules.get(name)
        if prev is None:
            verb = "append" if "append" in overrides.values() else "replace"
            msg = ("Rule uses 'append' or 'override.<key>: append' but no rule by that name already "
                   "exists" if verb == "append" else "An 'override.<key>: replace' to a rule was "
                   "requested but no rule by that name already exists")
            raise ItemError(msg, item.span, ctx)
        for key, op in overrides.items():
            if key not in item.entries:
                raise ItemError(f"An {op} override for '{key}' was specified but '{key}' is not defined",
                                item.key_span("override"), ctx)
            definitions.apply_override(prev, item, key, op, ctx, self.result)
            if key == "exceptions" and op == "append":
                _merge_exceptions(prev, read_exceptions(item, ctx, True, self.result), ctx)
        prev.visibility = self._next()

    def _rule_enable(self, item: YNode, name: str, ctx: tuple[str, ...]) -> None:
        enabled = decode_bool(item, "enabled", ctx, None)
        if enabled is None:
            raise ItemError("Rule must have property condition", item.span, ctx)
        prev = self.rules.get(name)
        if prev is None:
            raise ItemError("Rule has 'enabled' key but no rule by that name already exists",
                            item.span, ctx)
        prev.enabled = enabled

    # -- shared ----------------------------------------------------------------------------------

    def _append_flag(self, item: YNode, ctx: tuple[str, ...]) -> bool:
        append = bool(decode_bool(item, "append", ctx, False))
        if append and "override" in item.entries:
            raise ItemError("Keys 'override' and 'append: true' cannot be used together. Add an "
                            "'append' entry (e.g. 'condition: append') under 'override' instead.",
                            item.key_span("append"), ctx)
        if append:
            self.result.warning(LOAD_DEPRECATED_ITEM, "'append' key is deprecated. Add an 'append' "
                                "entry (e.g. 'condition: append') under 'override' instead.",
                                item.key_span("append"), ctx)
        return append

    def _define(self, table: dict, info: ListInfo | MacroInfo | RuleInfo) -> None:  # type: ignore[type-arg]
        visibility = self._next()
        prev = table.get(info.name)
        info.index = prev.index if prev is not None else visibility
        info.visibility = visibility
        table[info.name] = info


def _item_name(item: YNode, key: str, kind: str) -> str:
    node = item.entries[key]
    if node.is_null or (node.kind == "scalar" and not node.text):
        raise ItemError(f"{kind} name is empty", item.span)
    if node.kind != "scalar":
        raise ItemError(f"{kind} name must be a string, not a {node.type_name()}", node.span)
    return node.text


def _required(item: YNode, key: str, ctx: tuple[str, ...], message: str) -> YNode:
    node = item.get(key)
    if node is None:
        raise ItemError(message, item.span, ctx)
    return node


def _condition(item: YNode, ctx: tuple[str, ...], missing: str | None) -> CondText:
    if missing is not None:
        _required(item, "condition", ctx, missing)
    decode_str(item, "condition", ctx, required=missing or "")
    return CondText.from_node(item.entries["condition"])


def _dangling(kind: str, name: str, overrides: dict[str, str]) -> str:
    if overrides:
        key = "items" if kind == "List" else "condition"
        return (f"{kind} uses 'append' or 'override.{key}: append' but no {kind.lower()} by that "
                "name already exists")
    return f"{kind} {name} has 'append' key but no {kind.lower()} by that name already exists"


def _merge_exceptions(rule: RuleInfo, new: list[ExceptionInfo], ctx: tuple[str, ...]) -> None:
    """Appended exceptions: values join an existing exception of that name, or a new one is added."""
    by_name = {ex.name: ex for ex in rule.exceptions}
    for ex in new:
        ectx = (*ctx, f"exception '{ex.name}'")
        prev = by_name.get(ex.name)
        if prev is None:
            if ex.fields is None:
                raise ItemError(f"Rule exception new item {ex.name}: must have fields property with a "
                                "list of fields", ex.span, ectx)
            rule.exceptions.append(ex)
            by_name[ex.name] = ex
            continue
        if ex.fields is not None:
            raise ItemError("Can not append exception fields to existing exception, only values",
                            ex.span, ectx)
        if ex.comps is not None:
            raise ItemError("Can not append exception comps to existing exception, only values",
                            ex.span, ectx)
        prev.values.extend(ex.values)
        prev.value_spans.extend(ex.value_spans)


def _entry_name(entry: YNode) -> str:
    name = entry.entries.get("name") if entry.kind == "map" else None
    return name.text if name is not None and name.kind == "scalar" else ""


def _alternatives(entry: YNode) -> list[YNode]:
    alts = entry.entries.get("alternatives") if entry.kind == "map" else None
    return list(alts.items) if alts is not None and alts.kind == "seq" else []
