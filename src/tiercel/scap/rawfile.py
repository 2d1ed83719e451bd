"""The bytes of a capture file, plain or gzip-compressed, in bounded pieces.

Only a regular file is a capture: a FIFO, a device (/dev/zero) or a directory is refused before
anything is read from it (`common.files.open_regular`, as for rule and config files: it is opened
without blocking, so naming a FIFO cannot hang the agent).

Compressed files are inflated here, chunk by chunk, rather than by `gzip.GzipFile`: its `read` loses
everything it inflated in a call that ends in an error, so one bad byte near the end cost the whole
capture. Here every byte inflated before the damage is handed out first; the next `read` raises
`Damaged`, and the caller names the position in the uncompressed stream. Concatenated gzip members
and zero padding after the last one are read as gzip(1) reads them.
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

from tiercel.common.files import NotRegularFile, open_regular

IN_CHUNK = 1 << 16       # compressed bytes fed to zlib at a time
_GZIP_MAGIC = b"\x1f\x8b"


class Damaged(Exception):
    """The stream cannot go on; the message says why (the caller adds where)."""


class NotACaptureFile(Exception):
    """The path cannot be opened as a capture; the message is complete."""


def open_capture(path: Path) -> PlainStream | GzipStream:
    """The capture's byte stream, inflated when the file starts with gzip's magic."""
    fd = _open_regular(path)
    f = io.FileIO(fd, "rb", closefd=True)
    magic = f.read(2)
    f.seek(0)
    return GzipStream(f) if magic == _GZIP_MAGIC else PlainStream(f)


def _open_regular(path: Path) -> int:
    try:
        fd, _ = open_regular(path)
    except NotRegularFile as e:
        raise NotACaptureFile(f"cannot read capture {path}: {e}") from None
    except OSError as e:
        raise NotACaptureFile(f"cannot open capture {path}: {e.strerror}") from None
    os.set_blocking(fd, True)
    return fd


class _FileStream:
    """What both streams share: the file, how far into it the reader is, and a failed read as
    Damaged."""

    def __init__(self, f: io.FileIO) -> None:
        self.f = f

    def _read_file(self, n: int) -> bytes:
        try:
            return self.f.read(n) or b""
        except OSError as e:
            raise Damaged(f"unreadable data ({e.strerror})") from None

    def consumed(self) -> int:
        return self.f.tell()

    def close(self) -> None:
        self.f.close()


class PlainStream(_FileStream):
    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            more = self._read_file(n - len(out))
            if not more:
                break
            out += more
        return bytes(out)


class GzipStream(_FileStream):
    """gzip members inflated with bounded output per call; damage reported after the good bytes."""

    def __init__(self, f: io.FileIO) -> None:
        super().__init__(f)
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._input = b""          # compressed bytes not yet given to zlib
        self._error: Damaged | None = None
        self._done = False

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n and not self._done and self._error is None:
            out += self._inflate(n - len(out))
        if not out and self._error is not None:
            raise self._error        # only once every byte before the damage was handed out
        return bytes(out)

    def _inflate(self, limit: int) -> bytes:
        """Up to `limit` inflated bytes; on damage, the bytes before it and `_error` set."""
        try:
            if self._z.eof:
                self._next_member()
                if self._done:
                    return b""
            if not self._input:
                self._input = self._read_file(IN_CHUNK)
                if not self._input:
                    raise Damaged("compressed data ends early (truncated .gz)")
        except Damaged as e:
            self._error = e
            return b""
        saved = self._z.copy()
        try:
            chunk = self._z.decompress(self._input, limit)
        except zlib.error as e:
            self._error = Damaged(f"corrupt compressed data ({e})")
            return _salvage(saved, self._input, limit)
        self._input = self._z.unused_data if self._z.eof else self._z.unconsumed_tail
        return chunk

    def _next_member(self) -> None:
        """After a member's end: the next member, or the end (zero padding allowed), or damage."""
        rest = self._input.lstrip(b"\0")
        while not rest:
            more = self._read_file(IN_CHUNK)
            if not more:
                self._done = True
                return
            rest = more.lstrip(b"\0")
        if not rest.startswith(_GZIP_MAGIC[:len(rest)]):
            raise Damaged("data after the end of the compressed stream")
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._input = rest

def _salvage(z: zlib._Decompress, data: bytes, limit: int) -> bytes:
    """What `z` inflates from `data` before the byte where zlib found it damaged (zlib hands out
    nothing from a call that fails, and a call covers up to IN_CHUNK compressed bytes)."""
    out = bytearray()
    for i in range(len(data)):
        try:
            out += z.decompress(data[i:i + 1], limit - len(out))
        except zlib.error:
            break
        if len(out) >= limit or z.eof:
            break
    return bytes(out)
