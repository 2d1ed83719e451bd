"""The rules pipeline: read -> collect -> parse -> passes -> compile -> Ruleset + LoadResult.

Loading never stops at the first problem: each file, item, macro and rule fails on its own, and the
result lists every error and warning with its position. A rule whose condition uses a broken macro
is skipped quietly (the macro's own error says what is wrong) so one typo gives one error.

    ruleset, result = load_rules([Path("rules/")])
    print(result.render_text())
    for m in ruleset.match(event): ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiercel.common.files import Unreadable, path_kind
from tiercel.common.safeyaml import FileRefused, read_text
from tiercel.events.model import Event
from tiercel.rules.fields.spec import FieldError, UnknownField
from tiercel.rules.files.collector import Collector
from tiercel.rules.files.definitions import CondText, ItemError, MacroInfo, RuleInfo
from tiercel.rules.files.diagnostics import (
    LOAD_COMPILE_CONDITION,
    LOAD_ERR_COMPILE_CONDITION,
    LOAD_ERR_COMPILE_OUTPUT,
    LOAD_ERR_FILE_READ,
    LOAD_ERR_UNKNOWN_FIELD,
    LOAD_ERR_UNKNOWN_MACRO,
    LOAD_ERR_VALIDATE,
    LOAD_NO_EVTTYPE,
    LOAD_UNFILLED_FIELD,
    LOAD_UNKNOWN_FILTER,
    LOAD_UNUSED_LIST,
    LOAD_UNUSED_MACRO,
    LoadResult,
    SourceSpan,
)
from tiercel.rules.files.reader import read_items
from tiercel.rules.files.rule_exceptions import condition_with_exceptions
from tiercel.rules.language import passes, syntax
from tiercel.rules.language.compiler import Compiled, CompileError, compile_condition
from tiercel.rules.language.parser import ConditionSyntaxError, parse_condition
from tiercel.rules.matching.ruleset import CompiledRule, Ruleset
from tiercel.rules.output import OutputFormat, OutputFormatError, compile_output

RULE_FILE_SUFFIXES = (".yaml", ".yml")


def rule_files(paths: Iterable[Path | str], result: LoadResult) -> list[Path]:
    """Files in the order given; a directory contributes its *.yaml files sorted by name (as Falco)."""
    out: list[Path] = []
    for p in map(Path, paths):
        try:  # a name the system refuses (too long, a NUL byte, a loop of links): one error, as missing
            kind = path_kind(p)
        except Unreadable as e:
            result.error(LOAD_ERR_FILE_READ, f"Could not read rules file {p}: {e.why}",
                         SourceSpan.whole_file(str(p)))
            continue
        if kind == "directory":
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.suffix in RULE_FILE_SUFFIXES))
        elif kind == "file":
            out.append(p)
        else:
            result.error(LOAD_ERR_FILE_READ, f"Could not read rules file {p}: no such file or directory",
                         SourceSpan.whole_file(str(p)))
    return out


def load_rules(paths: Iterable[Path | str], fields: Any = None, match_all: bool = False, *,
               warn_unfilled: bool = False) -> tuple[Ruleset, LoadResult]:
    """Load rule files and directories, in order, into one ruleset.

    `warn_unfilled` adds a LOAD_UNFILLED_FIELD warning for each field a rule's condition reads that
    nothing in tiercel fills yet (its checks are always false). Off by default: the warnings of a
    load are otherwise exactly Falco's.
    """
    result = LoadResult()
    sources: list[tuple[str, str]] = []
    for f in rule_files(paths, result):
        try:  # only a regular file under a size limit: a FIFO or /dev/zero is an error, not a hang
            sources.append((str(f), read_text(f, "rules file")))
        except FileRefused as e:
            result.error(LOAD_ERR_FILE_READ, f"Could not read rules file {f}: {e.why}",
                         SourceSpan.whole_file(str(f)))
    return load_rules_text(sources, fields, match_all, result, warn_unfilled=warn_unfilled)


def load_rules_text(sources: Sequence[tuple[str, str]], fields: Any = None,
                    match_all: bool = False, result: LoadResult | None = None, *,
                    warn_unfilled: bool = False) -> tuple[Ruleset, LoadResult]:
    """Load rules from (name, text) pairs, in order; `fields` defaults to the full field table."""
    result = result if result is not None else LoadResult()
    if fields is None:
        from tiercel.rules.fields.table import FieldTable
        fields = FieldTable()
    collector = Collector(result)
    for name, text in sources:
        collector.collect(read_items(name, text, result))
    state = _Compilation(collector, fields, result, warn_unfilled)
    rules = state.run()
    table = fields

    def compile_(node: syntax.Node) -> Compiled:
        return compile_condition(node, table)

    def source_compile(source: str) -> Callable[[syntax.Node], Compiled]:
        source_table = state.table_for(source)
        return lambda node: compile_condition(node, source_table)

    return Ruleset(rules, match_all=match_all, compile_=compile_, source_compile=source_compile), result


@dataclass
class _Compilation:
    """Turns collected definitions into compiled rules, recording diagnostics on the way."""

    col: Collector
    fields: Any                                                   # a FieldTable
    result: LoadResult
    warn_unfilled: bool = False
    lists: dict[str, list[str]] = field(default_factory=dict)
    macros: dict[str, syntax.Node] = field(default_factory=dict)    # resolved macro trees
    broken: set[str] = field(default_factory=set)                 # macros that failed to load
    used_lists: set[str] = field(default_factory=set)
    used_macros: set[str] = field(default_factory=set)
    parsed_macros: dict[str, syntax.Node] = field(default_factory=dict)
    macro_failures: dict[str, tuple[str, str, int] | None] = field(default_factory=dict)

    def run(self) -> list[CompiledRule]:
        self._compile_lists()
        self._compile_macros()
        rules = []
        for info in self.col.rules.values():
            rule = None if info.unknown_source else self._compile_rule(info)
            if rule is not None:
                rules.append(rule)
            else:
                self._mark_used_by(info)
        self._warn_unused()
        return rules

    def _mark_used_by(self, info: RuleInfo) -> None:
        """The macros and lists a rule names count as used even when the rule is skipped (an unknown
        source, an error of its own): they are not what is unused."""
        try:
            table = self.fields if info.unknown_source else self.table_for(info.source)
            node = parse_condition(condition_with_exceptions(
                info, lambda text: self._field_exists(text, table)).text)
        except (ItemError, ConditionSyntaxError):
            return
        self.used_macros.update(n.name for n in syntax.walk(node) if isinstance(n, syntax.Identifier))
        self._mark_lists(node)

    # -- lists -----------------------------------------------------------------------------------

    def _compile_lists(self) -> None:
        """Falco: an item naming a list defined earlier (by index) is replaced by that list's items.
        A list beyond passes.MAX_LIST_ITEMS (lists that double at each level) is an error, and
        empty from then on."""
        for info in self.col.lists.values():
            items: list[str] = []
            refs: list[str] = []
            for item in info.items:
                ref = self.col.lists.get(item)
                if ref is not None and ref.index < info.visibility and item in self.lists:
                    self.used_lists.add(item)
                    refs.append(item)
                    items.extend(self.lists[item])
                else:
                    items.append(item)
                if len(items) > passes.MAX_LIST_ITEMS:
                    via = " through " + ", ".join(f"list '{r}'" for r in dict.fromkeys(refs)) if refs else ""
                    self.result.error(LOAD_ERR_VALIDATE, f"list expands to more than "
                                      f"{passes.MAX_LIST_ITEMS} items{via}", info.span,
                                      (f"list '{info.name}'",))
                    items = []
                    break
            self.lists[info.name] = items

    # -- macros ----------------------------------------------------------------------------------

    def _compile_macros(self) -> None:
        parsed: dict[str, syntax.Node] = {}
        for info in self.col.macros.values():
            node = self.parse(info.cond, (f"macro '{info.name}'", "condition"))
            if node is None:
                self.broken.add(info.name)
            else:
                parsed[info.name] = node
                self._mark_lists(node)
        self.parsed_macros = parsed
        for info in self.col.macros.values():
            if info.name in parsed:
                self._resolve_macro(info, parsed)

    def _resolve_macro(self, info: MacroInfo, parsed: dict[str, syntax.Node]) -> None:
        """A macro sees the macros whose index is below its visibility (defined before its last edit)."""
        visible = {m.name: self.macros.get(m.name, parsed.get(m.name)) for m in self.col.macros.values()
                   if m.index < info.visibility and m.name not in self.broken}
        node = self.expand_macros(parsed[info.name], info.cond,
                                  {k: v for k, v in visible.items() if v is not None},
                                  (f"macro '{info.name}'", "condition"))
        if node is None:
            self.broken.add(info.name)
        else:
            self.macros[info.name] = node

    # -- rules -----------------------------------------------------------------------------------

    def table_for(self, source: str) -> Any:
        """The field table of a rule's source (the loader's own for syscall rules)."""
        for_source = getattr(self.fields, "for_source", None)
        return self.fields if source == "syscall" or for_source is None else for_source(source)

    def _compile_rule(self, info: RuleInfo) -> CompiledRule | None:
        ctx = (f"rule '{info.name}'",)
        table = self.table_for(info.source)
        try:
            cond = condition_with_exceptions(info, lambda text: self._field_exists(text, table))
        except ItemError as e:
            self.result.error(e.code, e.message, e.span, e.context)
            return None
        output = self._compile_output(info, ctx, table)
        node = self.parse(cond, (*ctx, "condition"))
        if output is None or node is None:
            return None
        self._mark_lists(node)
        expanded = self.run_passes(node, cond, (*ctx, "condition"))
        if expanded is None:
            return None
        predicate = self._compile_condition(info, cond, expanded.node, node, table)
        if predicate is None:
            return None
        if self.warn_unfilled:
            self._warn_unfilled(info, expanded.node, table)
        if expanded.evttypes is None and info.warn_evttypes and info.source == "syscall":
            self.result.warning(LOAD_NO_EVTTYPE, "Rule matches too many evt.type values. This has a "
                                "significant performance penalty.", info.span, ctx)
        return CompiledRule(id=info.index, name=info.name, desc=info.desc, priority=info.priority,
                            source=info.source, tags=info.tags, enabled=info.enabled,
                            evttypes=expanded.evttypes, predicate=predicate, output=output,
                            span=info.span, condition=cond.text, node=expanded.node)

    def _compile_output(self, info: RuleInfo, ctx: tuple[str, ...], table: Any) -> OutputFormat | None:
        try:
            return compile_output(info.output, table)
        except OutputFormatError as e:
            span = _output_span(info, e.pos)
            if info.skip_if_unknown_filter:
                self.result.warning(LOAD_UNKNOWN_FILTER, e.message, span, (*ctx, "output"))
            else:
                self.result.error(LOAD_ERR_COMPILE_OUTPUT, e.message, span, (*ctx, "output"))
            return None

    def _compile_condition(self, info: RuleInfo, cond: CondText, node: syntax.Node,
                           own: syntax.Node, table: Any) -> Callable[[Event], bool] | None:
        """Compile; on failure, blame the macro that fails the same way, else the rule's own text."""
        warnings: list[tuple[str, int]] = []
        try:
            predicate = compile_condition(node, table, warnings).check
        except (CompileError, FieldError) as e:
            message, pos = _error_parts(e)
            ctx: tuple[str, ...] = (f"rule '{info.name}'", "condition")
            span = cond.span_at(pos)
            for ref in _macro_refs(own) if table is self.fields else []:
                culprit = self._macro_failure(ref)
                if culprit is not None and culprit[1] == message:
                    name, _, mpos = culprit
                    ctx = (*ctx, f"macro '{name}'")
                    span = self.col.macros[name].cond.span_at(mpos)
                    break
            unknown = isinstance(e, UnknownField) or isinstance(e.__cause__, UnknownField)
            if unknown and info.skip_if_unknown_filter:
                self.result.warning(LOAD_UNKNOWN_FILTER, message, span, ctx)
            else:
                code = LOAD_ERR_UNKNOWN_FIELD if unknown else LOAD_ERR_COMPILE_CONDITION
                self.result.error(code, message, span, ctx)
            return None
        for message, _pos in warnings:
            # the offset may be inside a macro's text, so point at the rule itself
            self.result.warning(LOAD_COMPILE_CONDITION, message, info.span,
                                (f"rule '{info.name}'", "condition"))
        return predicate

    def _warn_unfilled(self, info: RuleInfo, node: syntax.Node, table: Any) -> None:
        """One warning per field of the condition that no tiercel source fills (FieldDef.unfilled)."""
        refs = {(n.name, n.arg): n for n in syntax.walk(node) if isinstance(n, syntax.FieldRef)}
        names = [fd.name for fd in (table.resolve(*key) for key in refs) if fd.unfilled]
        for name in dict.fromkeys(names):
            self.result.warning(LOAD_UNFILLED_FIELD, f"field '{name}' has no value in tiercel (nothing "
                                "fills it yet): every check on it is false", info.span,
                                (f"rule '{info.name}'", "condition"))

    def _macro_failure(self, name: str) -> tuple[str, str, int] | None:
        """(macro, message, pos) of the innermost macro under `name` that does not compile alone."""
        if name in self.macro_failures:
            return self.macro_failures[name]
        self.macro_failures[name] = None          # guards against cycles
        found = None
        for ref in _macro_refs(self.parsed_macros.get(name)):
            found = self._macro_failure(ref)
            if found is not None:
                break
        if found is None and name in self.macros:
            try:
                compile_condition(self.macros[name], self.fields)
            except (CompileError, FieldError) as e:
                message, pos = _error_parts(e)
                found = (name, message, pos)
        self.macro_failures[name] = found
        return found

    def _field_exists(self, text: str, table: Any) -> bool:
        m = _FIELD_WITH_ARG.fullmatch(text.strip())
        if m is None:
            return False
        try:
            table.resolve(m[1], m[2])
        except FieldError:
            return False
        return True

    # -- shared by macros and rules --------------------------------------------------------------

    def parse(self, cond: CondText, ctx: tuple[str, ...]) -> syntax.Node | None:
        try:
            return parse_condition(cond.text)
        except ConditionSyntaxError as e:
            self.result.error(LOAD_ERR_COMPILE_CONDITION, e.message, cond.span_at(e.pos), ctx)
            return None

    def expand_macros(self, node: syntax.Node, cond: CondText, macros: dict[str, syntax.Node],
                      ctx: tuple[str, ...]) -> syntax.Node | None:
        """A macro's condition with the macros it sees expanded; an unknown one is an error at its
        position."""
        if not self._macros_usable(node):
            return None
        try:
            return passes.expand_macros(node, macros)
        except (passes.UndefinedMacro, passes.MacroCycle) as e:
            self.result.error(LOAD_ERR_UNKNOWN_MACRO, str(e), cond.span_at(e.pos), ctx)
        except passes.ConditionTooLarge as e:
            self.result.error(LOAD_ERR_COMPILE_CONDITION, self._too_large(e), cond.span_at(e.pos), ctx)
        return None

    def run_passes(self, node: syntax.Node, cond: CondText, ctx: tuple[str, ...]
                   ) -> passes.Expanded | None:
        """A rule's condition through every pass; an unknown macro or a list where one value is
        expected is an error at its position."""
        if not self._macros_usable(node):
            return None
        try:
            return passes.run_passes(node, self.macros, self.lists)
        except (passes.UndefinedMacro, passes.MacroCycle) as e:
            self.result.error(LOAD_ERR_UNKNOWN_MACRO, str(e), cond.span_at(e.pos), ctx)
        except passes.InvalidListUse as e:
            self.result.error(LOAD_ERR_COMPILE_CONDITION, str(e), cond.span_at(e.pos), ctx)
        except passes.ConditionTooLarge as e:
            self.result.error(LOAD_ERR_COMPILE_CONDITION, self._too_large(e), cond.span_at(e.pos), ctx)
        return None

    def _too_large(self, e: passes.ConditionTooLarge) -> str:
        """The message, with the chain of macros it grew through (the longest, as written)."""
        if e.macro is None:
            return str(e)
        return f"{e} through {passes.macro_chain(self._longest_chain(e.macro))}"

    def _longest_chain(self, name: str) -> list[str]:
        """The longest chain of macro references from `name`, as the macros are written."""
        memo: dict[str, list[str]] = {}
        order: list[tuple[str, bool]] = [(name, False)]
        while order:                    # iterative: the chain may be far longer than the stack
            macro, ready = order.pop()
            refs = [r for r in _macro_refs(self.parsed_macros.get(macro)) if r != macro]
            if ready:
                tails = [memo.get(r, []) for r in refs]
                memo[macro] = [macro, *max(tails, key=len, default=[])]
            elif macro not in memo:
                memo[macro] = [macro]   # a placeholder that also stops cycles
                order.append((macro, True))
                order.extend((r, False) for r in refs if r not in memo)
        return memo[name]

    def _macros_usable(self, node: syntax.Node) -> bool:
        """False when `node` names a macro that failed to load (its own error says why); the macros
        it names count as used."""
        refs = [n for n in syntax.walk(node) if isinstance(n, syntax.Identifier)]
        self.used_macros.update(r.name for r in refs)   # a broken one too: it has its own error
        return not any(r.name in self.broken for r in refs)

    def _mark_lists(self, node: syntax.Node) -> None:
        for n in syntax.walk(node):
            if isinstance(n, syntax.Value) and not n.quoted and n.text in self.lists:
                self.used_lists.add(n.text)

    def _warn_unused(self) -> None:
        for name, info in self.col.macros.items():
            if name not in self.used_macros:
                self.result.warning(LOAD_UNUSED_MACRO, "Macro not referred to by any other rule/macro",
                                    info.span, (f"macro '{name}'",))
        for name, linfo in self.col.lists.items():
            if name not in self.used_lists:
                self.result.warning(LOAD_UNUSED_LIST, "List not referred to by any other rule/macro",
                                    linfo.span, (f"list '{name}'",))


_FIELD_WITH_ARG = re.compile(r"([^\[\]\s]+)(?:\[([^\]]*)\])?")


def _macro_refs(node: syntax.Node | None) -> list[str]:
    if node is None:
        return []
    return list(dict.fromkeys(n.name for n in syntax.walk(node) if isinstance(n, syntax.Identifier)))


def _error_parts(e: Exception) -> tuple[str, int]:
    return getattr(e, "message", None) or str(e), getattr(e, "pos", 0) or 0


def _output_span(info: RuleInfo, pos: int) -> SourceSpan:
    """Where offset `pos` of the (stripped) output is in the file, when the output is one scalar."""
    node = info.output_node
    if node is None:
        return info.span
    if node.text.strip() != info.output:
        return node.span
    return node.span_of_offset(pos + len(node.text) - len(node.text.lstrip()))
