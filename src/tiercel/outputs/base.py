"""What every output shares: the queued item, its renderings, and the Output protocol.

An alert is rendered at most once per format, by whichever output worker asks first, so capture only
pays for queueing. Every rendering is one line that cannot forge a second or hide text: the message
(`output`) is the same escaped text in both forms (event data escaped as it was rendered, see
tiercel.rules.output; control, invisible and direction characters of the rest escaped here, so
`\\n` -> `\\x0a`, U+202E -> `\\u202e`); JSON escapes the controls of the other values itself and keeps
the rest as UTF-8, for JSON readers. Strings that carry undecodable bytes (lone surrogates from
`surrogateescape`) become `\\xNN` escapes instead of breaking the encoder, and values JSON cannot
carry faithfully (integers wider than 64 bits, NaN, bytes, other types) become strings: rendering
an alert never fails on what its fields hold.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tiercel.outputs.alert import Alert, to_json, to_json_falco031
from tiercel.rules.output import escape_text


@dataclass(frozen=True)
class Format:
    """How alerts are written (Falco's json_* keys)."""

    json: bool = True
    include_output: bool = True
    include_tags: bool = True
    falco031: bool = False     # json_format: falco-0.31
    include_message: bool = False
    include_output_fields: bool = True


class Item:
    """One queued alert; `json()` and `text()` are computed once, on first use (any thread)."""

    __slots__ = ("_json", "_text", "alert")

    def __init__(self, alert: Alert) -> None:
        self.alert = alert
        self._json: bytes | None = None
        self._text: bytes | None = None

    def json(self, fmt: Format) -> bytes:
        if self._json is None:
            self._json = json_line(self.alert, fmt)
        return self._json

    def text(self) -> bytes:
        if self._text is None:
            self._text = one_line(self.alert.output).encode()
        return self._text

    def line(self, fmt: Format) -> bytes:
        """The alert as written by stdout, file, program and syslog: JSON or text, no newline."""
        return self.json(fmt) if fmt.json else self.text()


class OutputError(Exception):
    """A delivery attempt failed; the worker retries or drops by the output's policy."""


class Output(Protocol):
    """A sink. `send` delivers the leading items of `batch` and returns how many it delivered; it may
    raise OutputError (nothing of the rest delivered). `reopen` is for SIGHUP (log rotation)."""

    name: str
    max_retries: int          # attempts after the first before the undelivered alert is dropped

    def send(self, batch: Sequence[Item]) -> int: ...
    def reopen(self) -> None: ...
    def close(self) -> None: ...


def one_line(text: str) -> str:
    """`text` with every control, invisible and direction character escaped: one line, all shown."""
    return escape_text(text)


def _unsurrogate(text: str) -> str:
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        pass
    try:  # bytes that surrogateescape carried: \xNN
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # other lone surrogates (not from a decoded byte): \udNNN
        return text.encode("utf-8", "backslashreplace").decode()


def json_line(alert: Alert, fmt: Format) -> bytes:
    """Falco's JSON alert, whatever its values hold.

    The fast path is orjson as it is. When orjson refuses the alert (undecodable bytes, an integer
    wider than 64 bits, bytes, a type it does not know) or a value would come out as something JSON
    consumers misread (NaN and infinities, which orjson writes as null), every value is made
    JSON-safe first (`jsonable`): such values become strings, the rest stay as they were.
    """
    def encode(a: Alert, output: bool, tags: bool) -> str:
        if (text := escape_text(a.output)) is not a.output:  # the same text as the text line
            a = dataclasses.replace(a, output=text)
        if fmt.falco031:
            return to_json_falco031(a, output, tags)
        return to_json(a, output, tags, fmt.include_message, fmt.include_output_fields)
    if not _has_odd_float(alert.output_fields):
        try:
            return encode(alert, fmt.include_output, fmt.include_tags).encode()
        except (TypeError, ValueError, OverflowError):  # orjson.JSONEncodeError is a TypeError
            pass
    fixed = Alert(time=alert.time if type(alert.time) is int else 0, rule=_text(alert.rule),
                  priority=_text(alert.priority), source=_text(alert.source),
                  output=_text(alert.output),
                  output_fields={_text(k): jsonable(v) for k, v in alert.output_fields.items()},
                  tags=tuple(_text(t) for t in alert.tags), hostname=_text(alert.hostname))
    return encode(fixed, fmt.include_output, fmt.include_tags).encode()


_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1   # what orjson (and most JSON consumers) take
_MAX_DEPTH = 16


def _has_odd_float(fields: Mapping[str, Any]) -> bool:
    for v in fields.values():
        if type(v) is float and not math.isfinite(v):
            return True
        if (type(v) is list or type(v) is tuple) and any(
                type(x) is float and not math.isfinite(x) for x in v):
            return True
    return False


def jsonable(value: Any, depth: int = 0) -> Any:
    """`value` as something orjson writes and JSON consumers read back unchanged, else as a string:
    integers outside 64 bits and non-finite floats as their decimal text, bytes with `\\xNN`
    escapes, strings with undecodable bytes escaped, unknown types as their `str`."""
    t = type(value)
    if t is str:
        return _unsurrogate(value)
    if value is None or t is bool:
        return value
    if t is int:
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if t is float:
        return value if math.isfinite(value) else str(value)
    if t is bytes or t is bytearray:
        return bytes(value).decode("utf-8", "backslashreplace")
    if depth >= _MAX_DEPTH:
        return _text(value)
    if t is list or t is tuple:
        return [jsonable(v, depth + 1) for v in value]
    if t is dict:
        return {_text(k): jsonable(v, depth + 1) for k, v in value.items()}
    return _text(value)


def _text(value: Any) -> str:
    """`str(value)` that cannot fail and encodes as UTF-8."""
    if type(value) is not str:
        try:
            value = str(value)
        except Exception:  # a hostile __str__: name the type rather than lose the alert
            return f"<{type(value).__name__}>"
    return _unsurrogate(value)


def dumps(doc: Any) -> bytes:
    """orjson with the same fallback, for bodies built here (drop alerts, metrics)."""
    try:
        return orjson.dumps(doc)
    except (TypeError, ValueError, OverflowError):
        return orjson.dumps(jsonable(doc))


def write_lines(fd: int, lines: Sequence[bytes]) -> tuple[int, int, str]:
    """Write `lines`, each with its newline, to `fd`; return (lines written whole, bytes written,
    why it stopped short: the error's text, or "" when all was written). Stops at the first error,
    which it swallows: the caller decides from the counts."""
    data = b"".join(line + b"\n" for line in lines)
    done = 0
    try:
        while done < len(data):
            done += os.write(fd, data[done:])
    except OSError as e:
        return data.count(b"\n", 0, done), done, e.strerror or str(e)
    return data.count(b"\n", 0, done), done, ""
