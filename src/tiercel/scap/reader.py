"""Read sysdig/Falco .scap capture files: blocks -> metadata (Header) and raw events.

A capture is pcapng-like: a sequence of blocks `u32 type, u32 total_len, body, pad, u32 total_len`,
little-endian, optionally gzip-compressed. The metadata blocks (section header, machine info,
process, fd, interface and user lists) come first; the first event block ends them. The layouts of
each block version are the ones the libscap reader accepts (see the scap-format notes).

Errors: anything that does not parse raises ScapError naming the byte offset (in the decompressed
stream) — from the event iterator, so the events before it have been handed out already.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tiercel.errors import TiercelError
from tiercel.scap import blocks as B
from tiercel.scap.table import EVENTS

CHUNK = 1 << 22
MAX_BLOCK = 1 << 28        # a sanity bound: larger lengths are corruption, not data
SHB_MAGIC = 0x1A2B3C4D


class ScapError(TiercelError):
    exit_code = 1


@dataclass(slots=True)
class RawEvent:
    """One event block, parameters still encoded."""

    num: int                 # evt.num: 1-based ordinal among all event blocks
    ts: int
    tid: int
    cpu: int
    code: int                # the event table index
    params: list[bytes]
    flags: int = 0           # EVF blocks: bit 0 = state only (apply, never show or match)


@dataclass(slots=True)
class Header:
    """Everything before the first event: the state at capture start."""

    version: tuple[int, int] = (0, 0)
    hostname: str = ""
    num_cpus: int = 0
    boot_ts: int = 0
    threads: dict[int, B.ThreadInfo] = field(default_factory=dict)
    fds: dict[int, list[B.FdInfo]] = field(default_factory=dict)   # tid -> its fds
    users: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    interfaces: list[str] = field(default_factory=list)


def _open(path: Path) -> IO[bytes]:
    try:
        f: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by CaptureReader.close
    except OSError as e:
        raise ScapError(f"cannot open capture {path}: {e.strerror}") from None
    if f.read(2) == b"\x1f\x8b":
        f.close()
        return gzip.open(path, "rb")
    f.seek(0)
    return f


class CaptureReader:
    """`with CaptureReader(path) as r: r.header ...; for ev in r.events(): ...`"""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._f = _open(self.path)
        self._buf = b""
        self._pos = 0            # position in _buf
        self._base = 0           # stream offset of _buf[0]
        self._pending: tuple[int, int, bytes] | None = None
        self.header = Header()
        self.skipped_blocks = 0
        self._read_metadata()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    def consumed(self) -> int:
        """Bytes of the file itself read so far (compressed bytes for a gzip file)."""
        raw = getattr(self._f, "fileobj", None) or self._f
        try:
            return int(raw.tell())
        except (OSError, ValueError):
            return 0

    @property
    def offset(self) -> int:
        return self._base + self._pos

    def error(self, offset: int, what: str) -> ScapError:
        return ScapError(f"{self.path}: {what} at byte {offset}")

    def _take(self, n: int) -> bytes | None:
        """n bytes from the stream; None at EOF or when fewer remain (truncation)."""
        while len(self._buf) - self._pos < n:
            try:
                more = self._f.read(max(CHUNK, n))
            except (OSError, EOFError, gzip.BadGzipFile) as e:
                raise self.error(self._base + len(self._buf), f"unreadable data ({e})") from None
            if not more:
                return None
            self._base += self._pos
            self._buf = self._buf[self._pos:] + more
            self._pos = 0
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out

    def _block(self) -> tuple[int, int, bytes] | None:
        """(offset, type, body) of the next block; None at a clean end of file."""
        start = self.offset
        head = self._take(8)
        if head is None:
            if len(self._buf) > self._pos:
                raise self.error(start, "truncated block header")
            return None
        btype, total = struct.unpack("<II", head)
        if total < 12 or total > MAX_BLOCK or total % 4:
            raise self.error(start, f"corrupt block length {total} (block type {btype:#x})")
        body = self._take(total - 8)
        if body is None:
            raise self.error(start, f"truncated block (type {btype:#x}, {total} bytes)")
        if struct.unpack_from("<I", body, total - 12)[0] != total:
            raise self.error(start, f"block trailer does not match its length (type {btype:#x})")
        return start, btype, body[:-4]

    def _read_metadata(self) -> None:
        first = self._block()
        if first is None or first[1] != B.SHB:
            raise self.error(0, "not a capture file (no section header block)")
        self._section_header(*first)
        while True:
            blk = self._block()
            if blk is None:
                return
            off, btype, body = blk
            if btype in B.EVENT_BLOCKS:
                self._pending = blk
                return
            try:
                B.parse_metadata(btype, body, self.header)
            except (struct.error, IndexError, ValueError, UnicodeError) as e:
                raise self.error(off, f"corrupt metadata block {btype:#x} ({e})") from None

    def _section_header(self, off: int, _btype: int, body: bytes) -> None:
        if len(body) < 16:
            raise self.error(off, "truncated section header")
        magic, major, minor = struct.unpack_from("<IHH", body)
        if magic != SHB_MAGIC:
            raise self.error(off, f"bad byte-order magic {magic:#x}")
        if major > 1:
            raise self.error(off, f"unsupported capture version {major}.{minor}")
        self.header.version = (major, minor)

    def events(self) -> Iterator[RawEvent]:
        num = 0
        blk, self._pending = self._pending, None
        while blk is not None:
            off, btype, body = blk
            if btype in B.EVENT_BLOCKS:
                num += 1
                ev = _event(btype, body, num)
                if ev is None:
                    raise self.error(off, f"corrupt event block {btype:#x}")
                if ev.code < len(EVENTS):  # codes from a newer writer are skipped, as libscap does
                    yield ev
            else:
                self.skipped_blocks += 1
            blk = self._block()


_V2_HDR = struct.Struct("<QQIHI")
_V1_HDR = struct.Struct("<QQIH")


def _event(btype: int, body: bytes, num: int) -> RawEvent | None:
    """One event block body -> RawEvent; None when its lengths do not add up."""
    try:
        cpu = struct.unpack_from("<H", body)[0]
        pos, flags = 2, 0
        if btype in B.EVF_BLOCKS:
            flags = struct.unpack_from("<I", body, 2)[0]
            pos = 6
        if btype in B.V2_EVENT_BLOCKS:
            ts, tid, length, code, nparams = _V2_HDR.unpack_from(body, pos)
            hdr = _V2_HDR.size
        else:
            ts, tid, length, code = _V1_HDR.unpack_from(body, pos)
            hdr, nparams = _V1_HDR.size, -1
    except struct.error:
        return None
    if code >= len(EVENTS):
        return RawEvent(num, ts, tid, cpu, code, [], flags)
    if hdr == _V1_HDR.size and code in (280, 286):
        length -= 3  # old writers stored these two events' length 3 bytes too large
    data = body[pos:pos + length]
    if length < hdr or len(data) < length:
        return None
    large = "L" in EVENTS[code][2]
    params = _params(data, hdr, nparams, code, 4 if large else 2)
    return None if params is None else RawEvent(num, ts, tid, cpu, code, params, flags)


def _params(data: bytes, hdr: int, nparams: int, code: int, lsize: int) -> list[bytes] | None:
    fmt = "<" + ("I" if lsize == 4 else "H")
    if nparams < 0:  # v1 block: the longest prefix of the table's parameters that fits exactly
        table_n = EVENTS[code][1].count(":")
        for n in range(table_n, -1, -1):
            if hdr + n * lsize > len(data):
                continue
            lens = struct.unpack_from(f"<{n}{fmt[1]}", data, hdr)
            if hdr + n * lsize + sum(lens) == len(data):
                nparams = n
                break
        else:
            return None
    if hdr + nparams * lsize > len(data):
        return None
    lens = struct.unpack_from(f"<{nparams}{fmt[1]}", data, hdr)
    pos = hdr + nparams * lsize
    out = []
    for n in lens:
        if pos + n > len(data):
            return None
        out.append(data[pos:pos + n])
        pos += n
    return out
