"""Tokens of Falco's condition language, read on demand by the parser.

libsinsp's parser has no token stream: at each point of the grammar it tries the tokens that may
come next, in a fixed order, straight on the text. The same is done here, so that inputs such as
`a.b existsand c` or `x.y ==value` lex exactly as Falco lexes them. The token shapes:

    blank            any run of ' ', '\\t', '\\b', '\\r', '\\n'
    identifier       [a-zA-Z]+[a-zA-Z0-9_]*
    field name       identifier ('.' identifier)+
    field argument   a quoted string, or [^][\"' and blanks]+
    hex number       0[xX][0-9a-zA-Z]+
    number           [+-]?[0-9]+[.]?[0-9]*([eE][+-][0-9]+)?
    quoted string    "..." or '...': ends at the first delimiter not preceded by a backslash
    bare string      [^()\"' and blanks =,]+

Escapes inside quoted strings: \\b \\f \\n \\r \\t \\\\ \\/ and \\xHH, \\" only inside "...", \\'
only inside '...', and "\\ " (backslash space) which stands for one backslash, kept because old
upstream rules contain it.
"""

from __future__ import annotations

import re

BLANKS = " \t\b\r\n"
_SPACE = " \t\n\v\f\r"  # POSIX [[:space:]], used where libsinsp's regexes say so

NOT_BLANK = re.compile(rf"not[{_SPACE}\b]+")
IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
FIELD_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+")
FIELD_ARG_BARE = re.compile(rf"[^\]\[\"'{_SPACE}]+")
HEX_NUMBER = re.compile(r"0[xX][0-9a-zA-Z]+")
NUMBER = re.compile(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")
BARE_STR = re.compile(rf"[^()\"'{_SPACE}=,]+")

_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "/": "/",
                   " ": "\\"}
_HEX = frozenset("0123456789abcdefABCDEF")


class LexError(Exception):
    """A malformed token; the parser reports it as a ConditionSyntaxError at `pos`."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class Scanner:
    """A cursor over the condition text with libsinsp's lexing primitives.

    Each `lex_*` method consumes a token and returns it (or True), or consumes nothing and returns
    None (or False). `last` is the last token consumed, for error messages.
    """

    __slots__ = ("last", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.last = ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def blank(self) -> bool:
        start, text = self.pos, self.text
        while self.pos < len(text) and text[self.pos] in BLANKS:
            self.pos += 1
        return self.pos > start

    def literal(self, s: str) -> bool:
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            self.last = s
            return True
        return False

    def one_of(self, options: tuple[str, ...]) -> str | None:
        for s in options:
            if self.literal(s):
                return s
        return None

    def regex(self, rx: re.Pattern[str]) -> str | None:
        m = rx.match(self.text, self.pos)
        if m is None or m.end() == self.pos:
            return None
        self.pos = m.end()
        self.last = m.group()
        return self.last

    def quoted(self) -> str | None:
        """A quoted string, unescaped; None when the cursor is not on a complete one."""
        text, start = self.text, self.pos
        if start >= len(text) or text[start] not in "'\"":
            return None
        delim = text[start]
        prev = "\\"  # so that the opening delimiter never closes the string
        i = start
        while i < len(text):
            c = text[i]
            if c == delim and prev != "\\":
                self.pos = i + 1
                self.last = text[start:i + 1]
                return unescape(text[start + 1:i], delim, start)
            prev = c
            i += 1
        return None


def unescape(body: str, delim: str, pos: int) -> str:
    """Decode the escapes of a quoted string's body (`pos` locates errors); the body does not end in
    a backslash (Scanner.quoted ends a string at the first quote not preceded by one)."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        i += 1
        if c != "\\":
            out.append(c)
            continue
        e = body[i]     # there is one: the scanner never ends a body on a backslash (it escapes the quote)
        i += 1
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
        elif e in "'\"":
            if e != delim:
                other = "'-quoted" if delim == "'" else '"-quoted'
                raise LexError(f"invalid \\{e} escape in {other} string", pos)
            out.append(e)
        elif e == "x":
            out.append(_hex_escape(body[i:i + 2], pos))
            i += 2
        else:
            raise LexError(f"unsupported string escape sequence: \\{e}", pos)
    return "".join(out)


def _hex_escape(digits: str, pos: int) -> str:
    if len(digits) < 2:
        raise LexError("truncated hex char escape sequence", pos)
    if digits[0] not in _HEX or digits[1] not in _HEX:
        raise LexError(f"invalid hex char escape sequence: {digits}", pos)
    return chr(int(digits, 16))
