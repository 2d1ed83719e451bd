"""`tiercel validate RULES...`: load rule files and directories, print every error and warning.

Each problem is printed as `file:line:col: context: message`, followed by the offending line and a
caret under the column; then one status line per file (`Ok`, or the counts), and a total. The exit
status is 1 when there is any error, 0 otherwise (warnings alone do not fail validation).

Besides Falco's warnings, validation names the fields a rule reads that tiercel never fills
(LOAD_UNFILLED_FIELD): such a rule loads, but those checks are always false here.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TextIO

import orjson

from tiercel.rules.files.diagnostics import LoadResult
from tiercel.rules.files.loader import load_rules, rule_files


def validate_command(paths: list[Path], json_out: bool = False, out: TextIO | None = None) -> int:
    """Validate the files (in order, as one rule set, like `run -r`); 1 on any error, else 0."""
    out = out if out is not None else sys.stdout
    ruleset, result = load_rules(paths, warn_unfilled=True)
    if json_out:
        out.write(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 1 if result.errors else 0
    text = result.render_text()
    if text:
        out.write(text + "\n")
    for line in _file_status(paths, result):
        out.write(line + "\n")
    enabled = len(ruleset.enabled_rules())
    out.write(f"{len(result.errors)} errors, {len(result.warnings)} warnings; "
              f"{len(ruleset.rules)} rules loaded, {enabled} enabled\n")
    return 1 if result.errors else 0


def _file_status(paths: list[Path], result: LoadResult) -> list[str]:
    """`file: Ok` or `file: N errors, M warnings`, in load order."""
    errors = Counter(d.span.file for d in result.errors if d.span)
    warnings = Counter(d.span.file for d in result.warnings if d.span)
    lines = []
    for f in rule_files(paths, LoadResult()):
        name = str(f)
        e, w = errors[name], warnings[name]
        if not e and not w:
            lines.append(f"{name}: Ok")
        else:
            lines.append(f"{name}: {e} errors, {w} warnings")
    return lines
