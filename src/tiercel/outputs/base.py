"""What every output shares: the queued item, its renderings, and the Output protocol.

An alert is rendered at most once per format, by whichever output worker asks first, so capture only
pays for queueing. Every rendering is one line that cannot forge a second: JSON escapes control
characters itself; the text form escapes them (`\\n` -> `\\x0a`); strings that carry undecodable bytes
(lone surrogates from `surrogateescape`) become `\\xNN` escapes instead of breaking the encoder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tiercel.outputs.alert import Alert, to_json, to_json_falco031


@dataclass(frozen=True)
class Format:
    """How alerts are written (Falco's json_* keys)."""

    json: bool = True
    include_output: bool = True
    include_tags: bool = True
    falco031: bool = False     # json_format: falco-0.31


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


# C0, DEL and C1 controls, plus the Unicode line and paragraph separators some log viewers split on.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with every control character escaped, so it is one line whatever it held."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", _unsurrogate(text))


def _unsurrogate(text: str) -> str:
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def json_line(alert: Alert, fmt: Format) -> bytes:
    """Falco's JSON alert; falls back to escaping undecodable bytes that orjson refuses."""
    encode = to_json_falco031 if fmt.falco031 else to_json
    try:
        return encode(alert, fmt.include_output, fmt.include_tags).encode()
    except TypeError:  # orjson: "str is not valid UTF-8: surrogates not allowed"
        fixed = Alert(time=alert.time, rule=_unsurrogate(alert.rule), priority=alert.priority,
                      source=alert.source, output=_unsurrogate(alert.output),
                      output_fields={_unsurrogate(k): _clean(v) for k, v in alert.output_fields.items()},
                      tags=tuple(_unsurrogate(t) for t in alert.tags),
                      hostname=_unsurrogate(alert.hostname))
        return encode(fixed, fmt.include_output, fmt.include_tags).encode()


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _unsurrogate(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_unsurrogate(str(k)): _clean(v) for k, v in value.items()}
    return value


def dumps(doc: Any) -> bytes:
    """orjson with the same undecodable-byte fallback, for bodies built here (drop alerts, metrics)."""
    try:
        return orjson.dumps(doc)
    except TypeError:
        return orjson.dumps(_clean(doc))


def write_lines(fd: int, lines: Sequence[bytes]) -> tuple[int, int]:
    """Write `lines`, each with its newline, to `fd`; return (lines written whole, bytes written).
    Stops at the first error, which it swallows: the caller decides from the counts."""
    data = b"".join(line + b"\n" for line in lines)
    done = 0
    try:
        while done < len(data):
            done += os.write(fd, data[done:])
    except OSError:
        pass
    return data.count(b"\n", 0, done), done
