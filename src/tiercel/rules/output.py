"""Output templates: `%field` placeholders in a rule's `output`, rendered the way Falco renders them.

Syntax (libsinsp's formatter): text with `%field`, `%field[arg]` (`%proc.aname[2]`, `%evt.arg[0]`),
`%evt.arg.name`; an optional width between `%` and the name (`%10proc.name`) pads the value. A
leading `*` (Falco adds one to every rule output) means "render even when some values are missing";
missing values render as `<NA>`. A field name is `ident(.ident)+`, so `(user=%user.name)` and
`%fd.name.` end the name where a sentence would.

A field may be wrapped in transformers, as in a condition (`%toupper(fd.name)`,
`%len(proc.args)`, `%join(",", (proc.name, user.name))`): the message shows the transformed value,
and output_fields holds both it (keyed by the expression) and each field it reads, as libsinsp does.

`%container.info` is the old shorthand for the container's id and name; it is expanded here.

Event data in the message is escaped (`escape_value`), so that the line says only what the template
says: no forged line, no hidden or reordered text.

An alert is bounded whatever the template and the values (4,000 `%fd.name` of a 60 KB name would be
240 MB): the message is at most MAX_MESSAGE characters and output_fields' strings MAX_FIELDS
characters in all. What does not fit is cut where the budget ends, and the cut says so: the message
ends `...[cut: N more characters, M fields not shown]`, a value `...[cut: N more characters]`. Nothing
past the budget is built: the fields after the cut are not even extracted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from tiercel.common.errors import TiercelError
from tiercel.events.model import Event

NA = "<NA>"
CONTAINER_INFO_EXPANSION = "container_id=%container.id container_name=%container.name"

MAX_MESSAGE = 64 << 10
MAX_FIELDS = 64 << 10
MAX_WIDTH_DIGITS = 4        # `%9999proc.name` pads to 9,999 characters at most

_TOKEN = re.compile(r"(\d*)([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)*)(?:\[([^\]\[]*)\])?")
# Escaped in message text: C0 and C1 controls and DEL (`\xNN`); the line and paragraph separators,
# zero-width and invisible characters, direction marks, bidirectional embeddings, overrides and
# isolates, and the byte-order mark (`\uNNNN`): each splits a line, or hides or reorders text in a
# viewer; lone surrogates (`\xNN` for a byte that was not UTF-8, else `\udNNN`). In event data a
# backslash is also doubled, so that a single backslash in a rendered value always starts one of
# these escapes: a name holding the four characters `\x0a` renders as `\\x0a`, a newline as `\x0a`.
_HIDDEN = "\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff"
_UNSAFE_VALUE = re.compile(f"[\\\\{_HIDDEN}]")
_UNSAFE_TEXT = re.compile(f"[{_HIDDEN}]")
# Falco renders these absolute times as text in the message but as nanoseconds in output_fields.
_TIME_FIELDS = ("evt.time", "evt.time.s", "evt.time.iso8601", "evt.datetime", "evt.datetime.s")


class OutputFormatError(Exception):
    """An output template that cannot be compiled; `pos` is the offset in the template."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class _FieldDef(Protocol):
    name: str
    type: str

    def extract(self, event: Event) -> Any: ...


class FieldResolver(Protocol):
    def resolve(self, name: str, arg: str | None) -> Any: ...


@dataclass(frozen=True, slots=True)
class FieldToken:
    """One `%field[arg]` of a template. `key` is how Falco names it in output_fields."""

    key: str
    name: str
    arg: str | None
    width: int
    pos: int
    extract: Callable[[Event], Any]
    shown: bool = True      # false: a transformer's input, in output_fields but not in the message


@dataclass(frozen=True, slots=True)
class RawToken:
    """A `%name[arg]` not yet checked against the field table."""

    key: str
    name: str
    arg: str | None
    width: int
    pos: int
    transformer: Any = None     # the parsed `%toupper(...)`, when the token is one


def tokenize(template: str) -> list[str | RawToken]:
    """Split a template into literal text and field references, without resolving fields."""
    text = template[1:] if template.startswith("*") else template
    base = len(template) - len(text)
    parts: list[str | RawToken] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "%":
            literal.append(c)
            i += 1
            continue
        opener = _transformer_at(text, i + 1)
        if opener is not None:
            if literal:
                parts.append("".join(literal))
                literal = []
            node, end = _parse_transformer(text, i + 1, opener, base)
            parts.append(RawToken(text[i + 1:end], opener, None, 0, base + i, node))
            i = end
            continue
        m = _TOKEN.match(text, i + 1)
        if m is None:
            rest = text[i + 1:]
            raise OutputFormatError(f"invalid formatting token {_shown(rest)}" if rest else
                                    "invalid formatting syntax: formatting cannot end with a %", base + i)
        if len(m.group(1)) > MAX_WIDTH_DIGITS:
            raise OutputFormatError(f"invalid formatting token {_shown(text[i + 1:])}: a width of more "
                                    f"than {MAX_WIDTH_DIGITS} digits", base + i)
        if literal:
            parts.append("".join(literal))
            literal = []
        width, name, arg = m.group(1), m.group(2), m.group(3)
        if name == "container.info" and arg is None:
            # the expansion's fields report the position of %container.info itself
            parts.extend(p if isinstance(p, str) else RawToken(p.key, p.name, p.arg, p.width, base + i)
                         for p in tokenize(CONTAINER_INFO_EXPANSION))
        else:
            key = name if arg is None else f"{name}[{arg}]"
            parts.append(RawToken(key, name, arg, int(width) if width else 0, base + i))
        i = m.end()
    if literal:
        parts.append("".join(literal))
    return parts


def _transformer_at(text: str, pos: int) -> str | None:
    """The transformer's name if one opens at `pos` (`toupper(`), else None."""
    from tiercel.rules.language.syntax import TRANSFORMERS
    for name in TRANSFORMERS:
        if text.startswith(name + "(", pos):
            return name
    return None


def _parse_transformer(text: str, pos: int, name: str, base: int) -> tuple[Any, int]:
    """`name( ... )` at `pos`, parsed by the condition grammar; the node and where it ends."""
    from tiercel.rules.language.lexer import LexError
    from tiercel.rules.language.parser import _Parser
    parser = _Parser(text)
    parser.sc.pos = pos + len(name) + 1
    try:
        node = parser.transformer_rest(name, pos)
    except LexError as e:
        raise OutputFormatError(f"invalid formatting token {_shown(text[pos:])}: {e.message}",
                                base + pos - 1) from None
    return node, parser.sc.pos


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """A compiled template: render to text, or collect the typed values for output_fields."""

    template: str
    parts: tuple[str | FieldToken, ...]

    def render(self, event: Event) -> str:
        """The message, at most MAX_MESSAGE characters (and the cut's note)."""
        out = []
        room = MAX_MESSAGE
        for i, p in enumerate(self.parts):
            if isinstance(p, str):
                s = p
            elif not p.shown:
                continue
            else:
                s = escape_value(render_value(p.extract(event), p.name))
                if p.width:
                    s = s.ljust(p.width)
            if len(s) > room:
                hidden = sum(1 for q in self.parts[i + 1:] if not isinstance(q, str) and q.shown)
                out.append(f"{s[:room]}...[cut: {len(s) - room} more characters"
                           + (f", {hidden} fields not shown]" if hidden else "]"))
                break
            out.append(s)
            room -= len(s)
        return "".join(out)

    def fields(self, event: Event) -> dict[str, Any]:
        """{key: JSON value}: strings as rendered, numbers and booleans typed, missing as None;
        the strings MAX_FIELDS characters in all (each key extracted once)."""
        out: dict[str, Any] = {}
        room = MAX_FIELDS
        for p in self.parts:
            if isinstance(p, str) or p.key in out:
                continue
            value, room = _fit(json_value(p.extract(event), p.name), room - len(p.key))
            out[p.key] = value
        return out


def _fit(value: Any, room: int) -> tuple[Any, int]:
    """`value` with its strings cut to the `room` left, and the room left after it."""
    if isinstance(value, str):
        if len(value) <= room:
            return value, room - len(value)
        room = max(room, 0)
        return f"{value[:room]}...[cut: {len(value) - room} more characters]", 0
    if isinstance(value, list):
        items = []
        for v in value:
            v, room = _fit(v, room)
            items.append(v)
        return items, room
    return value, room - 8   # a number, a boolean, null: a few characters


def _shown(rest: str) -> str:
    """The rest of a template in an error: its start, when it is long."""
    return rest if len(rest) <= 200 else rest[:200] + "..."


def compile_output(template: str, fields: FieldResolver) -> OutputFormat:
    """Resolve every placeholder against the field table; the first unknown one is an error.

    The message for an unknown field is Falco's: `invalid formatting token <rest of the template>`.
    """
    parts: list[str | FieldToken] = []
    for p in tokenize(template):
        if isinstance(p, str):
            parts.append(p)
            continue
        if p.transformer is not None:
            parts += _compile_transformer(template, p, fields)
            continue
        try:
            fdef = fields.resolve(p.name, p.arg)
        except Exception as e:
            rest = template[p.pos + 1:]
            why = getattr(e, "message", None) or (str(e) if isinstance(e, TiercelError) else "")
            raise OutputFormatError(f"invalid formatting token {_shown(rest)}"
                                    + (f": {_shown(why)}" if why else ""), p.pos) from e
        parts.append(FieldToken(p.key, p.name, p.arg, p.width, p.pos, fdef.extract))
    return OutputFormat(template, tuple(parts))


def _compile_transformer(template: str, p: RawToken, fields: FieldResolver) -> list[FieldToken]:
    """The transformer's token, then a hidden token for each field it reads (libsinsp puts both in
    output_fields: its formatter test `field_with_transformer_and_arg`)."""
    from tiercel.rules.language import syntax
    from tiercel.rules.language.compiler import _Compiler

    def failed(e: Exception) -> OutputFormatError:
        why = getattr(e, "message", None) or str(e)
        return OutputFormatError(f"invalid formatting token {_shown(template[p.pos + 1:])}"
                                 + (f": {_shown(why)}" if why else ""), p.pos)
    try:
        operand = _Compiler(fields, []).operand(p.transformer)
    except Exception as e:
        raise failed(e) from e
    out = [FieldToken(p.key, p.key, None, 0, p.pos, operand.get)]
    stack: list[Any] = [p.transformer]
    inputs: list[Any] = []
    while stack:     # the fields it reads, in the order written
        node = stack.pop()
        if isinstance(node, syntax.FieldRef):
            inputs.append(node)
        elif isinstance(node, syntax.Transformer):
            stack.extend(reversed(node.args))
        elif isinstance(node, syntax.ListValue):
            stack.extend(reversed(node.items))
    for ref in inputs:
        try:
            fdef = fields.resolve(ref.name, ref.arg)
        except Exception as e:
            raise failed(e) from e
        key = ref.name if ref.arg is None else f"{ref.name}[{ref.arg}]"
        out.append(FieldToken(key, ref.name, ref.arg, 0, p.pos, fdef.extract, shown=False))
    return out


def render_value(value: Any, name: str = "") -> str:
    """A value as Falco prints it in the message text."""
    if value is None:
        return NA
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and name in _TIME_FIELDS:
        return format_time(value, name)
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple | set | frozenset):
        return "(" + ",".join(render_value(v) for v in value) + ")"
    return str(value)


def escape_value(text: str) -> str:
    """Event data for message text: backslashes doubled, hidden and control characters escaped."""
    return _UNSAFE_VALUE.sub(_escape, text) if _UNSAFE_VALUE.search(text) else text


def escape_text(text: str) -> str:
    """A whole message (template text and values already escaped): hidden and control characters
    escaped, backslashes left as they are."""
    return _UNSAFE_TEXT.sub(_escape, text) if _UNSAFE_TEXT.search(text) else text


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    if c == "\\":
        return "\\\\"
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:        # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def json_value(value: Any, name: str = "") -> Any:
    """A value as Falco puts it in output_fields: absolute times stay nanoseconds."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    return render_value(value, name)


def format_time(ns: int, name: str = "evt.time") -> str:
    """evt.time is local wall-clock time with nanoseconds; the iso8601 form is UTC, like libsinsp."""
    secs, frac = divmod(ns, 1_000_000_000)
    if name == "evt.time.iso8601":
        return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}+0000"
    local = datetime.fromtimestamp(secs).astimezone()
    if name == "evt.time":
        return local.strftime("%H:%M:%S") + f".{frac:09d}"
    if name == "evt.time.s":
        return local.strftime("%H:%M:%S")
    if name == "evt.datetime":
        return local.strftime("%Y-%m-%d %H:%M:%S") + f".{frac:09d}"
    return local.strftime("%Y-%m-%d %H:%M:%S")
