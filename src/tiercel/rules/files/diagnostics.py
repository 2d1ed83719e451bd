"""Load diagnostics: every error and warning of a rules load, with where it came from.

Codes are Falco's (`falco_load_result`) where Falco has one, so users can grep for the same names;
tiercel-only situations get codes in the same style. A `LoadResult` is filled by every stage of the
loader and rendered once, as text (compiler style: position, context chain, message, the offending
line and a caret) or as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tiercel.common.errors import printable

ERROR = "error"
WARNING = "warning"

# Falco's error codes (falco_load_result.cpp), plus tiercel's few additions at the end.
LOAD_ERR_FILE_READ = "LOAD_ERR_FILE_READ"
LOAD_ERR_YAML_PARSE = "LOAD_ERR_YAML_PARSE"
LOAD_ERR_YAML_VALIDATE = "LOAD_ERR_YAML_VALIDATE"
LOAD_ERR_COMPILE_CONDITION = "LOAD_ERR_COMPILE_CONDITION"
LOAD_ERR_COMPILE_OUTPUT = "LOAD_ERR_COMPILE_OUTPUT"
LOAD_ERR_VALIDATE = "LOAD_ERR_VALIDATE"
LOAD_ERR_UNKNOWN_MACRO = "LOAD_ERR_UNKNOWN_MACRO"      # Falco reports it as LOAD_ERR_VALIDATE
LOAD_ERR_UNKNOWN_FIELD = "LOAD_ERR_UNKNOWN_FIELD"      # Falco: LOAD_ERR_COMPILE_CONDITION

# Falco's warning codes.
LOAD_UNKNOWN_SOURCE = "LOAD_UNKNOWN_SOURCE"
LOAD_UNSAFE_NA_CHECK = "LOAD_UNSAFE_NA_CHECK"
LOAD_NO_EVTTYPE = "LOAD_NO_EVTTYPE"
LOAD_UNKNOWN_FILTER = "LOAD_UNKNOWN_FILTER"
LOAD_UNUSED_MACRO = "LOAD_UNUSED_MACRO"
LOAD_UNUSED_LIST = "LOAD_UNUSED_LIST"
LOAD_UNKNOWN_ITEM = "LOAD_UNKNOWN_ITEM"
LOAD_DEPRECATED_ITEM = "LOAD_DEPRECATED_ITEM"
LOAD_APPEND_NO_VALUES = "LOAD_APPEND_NO_VALUES"
LOAD_EXCEPTION_NAME_NOT_UNIQUE = "LOAD_EXCEPTION_NAME_NOT_UNIQUE"
LOAD_INVALID_MACRO_NAME = "LOAD_INVALID_MACRO_NAME"
LOAD_INVALID_LIST_NAME = "LOAD_INVALID_LIST_NAME"
LOAD_COMPILE_CONDITION = "LOAD_COMPILE_CONDITION"
LOAD_UNKNOWN_KEY = "LOAD_UNKNOWN_KEY"
LOAD_PLUGIN_VERSIONS_IGNORED = "LOAD_PLUGIN_VERSIONS_IGNORED"  # tiercel: no plugins to check
LOAD_UNFILLED_FIELD = "LOAD_UNFILLED_FIELD"    # tiercel: a field nothing fills yet (when asked for)


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """A position in a rules file: 1-based line and column, like every editor shows them."""

    file: str
    line: int
    col: int

    @classmethod
    def whole_file(cls, file: str) -> SourceSpan:
        """The file itself, no line (it could not be read): shown as just its name."""
        return cls(file, 0, 0)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}" if self.line > 0 else self.file


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One error or warning. `context` is the chain from the item down, e.g. ("rule 'X'", "condition")."""

    code: str
    severity: str
    message: str
    span: SourceSpan | None = None
    context: tuple[str, ...] = ()

    def headline(self) -> str:
        """The one line a user reads: `file:line:col: rule 'X' -> condition: message`."""
        where = f"{self.span}: " if self.span else ""
        tag = "warning: " if self.severity == WARNING else ""
        chain = " -> ".join(self.context)
        line = f"{where}{tag}{chain}: {self.message}" if chain else f"{where}{tag}{self.message}"
        return printable(line)  # names from the file may hold line breaks or bidi overrides

    def to_dict(self) -> dict[str, Any]:
        span = self.span
        return {
            "code": self.code, "severity": self.severity, "message": self.message,
            "file": span.file if span else None, "line": span.line if span else None,
            "col": span.col if span else None, "context": list(self.context),
        }


@dataclass
class LoadResult:
    """Everything a load found, in the order it was found; `sources` keeps file texts for carets."""

    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)   # said once, not problems (a built-in plugin)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, code: str, message: str, span: SourceSpan | None = None,
              context: tuple[str, ...] = ()) -> None:
        self.errors.append(Diagnostic(code, ERROR, message, span, context))

    def warning(self, code: str, message: str, span: SourceSpan | None = None,
                context: tuple[str, ...] = ()) -> None:
        self.warnings.append(Diagnostic(code, WARNING, message, span, context))

    def all(self) -> list[Diagnostic]:
        """Errors and warnings together, sorted by file position so the report reads top-down."""
        def key(d: Diagnostic) -> tuple[str, int, int, int]:
            s = d.span
            return (s.file, s.line, s.col, 0 if d.severity == ERROR else 1) if s else ("", 0, 0, 0)
        return sorted([*self.errors, *self.warnings], key=key)

    def render_text(self, carets: bool = True) -> str:
        """Every diagnostic as its headline, then the source line and a caret under the column."""
        out: list[str] = []
        for d in self.all():
            out.append(d.headline())
            if carets and d.span is not None:
                out.extend(highlight(self.sources.get(d.span.file), d.span))
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {"errors": [d.to_dict() for d in self.errors],
                "warnings": [d.to_dict() for d in self.warnings]}


def highlight(text: str | None, span: SourceSpan) -> list[str]:
    """The offending line, indented, and a caret under the column (sqlglot's highlight, for YAML)."""
    if text is None:
        return []
    lines = text.splitlines()
    if not 1 <= span.line <= len(lines):
        return []
    line, col = lines[span.line - 1].expandtabs(1), max(span.col - 1, 0)
    if len(line) > _SHOWN:  # a window around the column: a line can be megabytes long
        start = min(max(col - _SHOWN // 2, 0), len(line) - _SHOWN)
        line, col = line[start:start + _SHOWN], col - start
    return ["    " + line, "    " + " " * col + "^"]


_SHOWN = 160
