"""The rules engine: Falco rule files loaded into a Ruleset that matches events.

What the rest of tiercel uses; the subpackages are the stages behind it:

    files/      YAML rule files -> definitions -> compiled rules, with every diagnostic (loader)
    language/   the condition language: lexer -> parser -> syntax tree -> passes -> compiler
    fields/     the field table conditions and outputs resolve against
    matching/   the Ruleset: rule selection, the evt.type index, per-event-type keyed plans
    output.py   a rule's `output:` template (%field placeholders) and Falco's time formats

    ruleset, result = load_rules([Path("rules/")])
    print(result.render_text())
    for m in ruleset.match(event): ...

Names are imported on first use, so `import tiercel.rules` costs nothing and the outputs can take
`format_time` without loading YAML or the field table.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiercel.rules.fields.listing import list_fields_command
    from tiercel.rules.fields.table import FieldTable
    from tiercel.rules.files.diagnostics import Diagnostic, LoadResult, SourceSpan
    from tiercel.rules.files.loader import load_rules, load_rules_text, rule_files
    from tiercel.rules.files.validate import validate_command
    from tiercel.rules.matching.ruleset import CompiledRule, Match, Ruleset
    from tiercel.rules.output import OutputFormat, OutputFormatError, compile_output, format_time

# public name -> the module that defines it
_HOMES = {
    "load_rules": "files.loader", "load_rules_text": "files.loader", "rule_files": "files.loader",
    "LoadResult": "files.diagnostics", "Diagnostic": "files.diagnostics", "SourceSpan": "files.diagnostics",
    "validate_command": "files.validate",
    "Ruleset": "matching.ruleset", "CompiledRule": "matching.ruleset", "Match": "matching.ruleset",
    "FieldTable": "fields.table", "list_fields_command": "fields.listing",
    "compile_output": "output", "OutputFormat": "output", "OutputFormatError": "output",
    "format_time": "output",
}

__all__ = ["CompiledRule", "Diagnostic", "FieldTable", "LoadResult", "Match", "OutputFormat",
           "OutputFormatError", "Ruleset", "SourceSpan", "compile_output", "format_time",
           "list_fields_command", "load_rules", "load_rules_text", "rule_files", "validate_command"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value          # later lookups skip this function
    return value
