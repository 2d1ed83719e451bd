"""Read sysdig/Falco .scap capture files: blocks -> metadata (Header) and raw events.

A capture is pcapng-like: a sequence of blocks `u32 type, u32 total_len, body, pad, u32 total_len`,
little-endian, optionally gzip-compressed. The metadata blocks (section header, machine info,
process, fd, interface and user lists) come first; the first event block ends them. The layouts of
each block version are the ones the libscap reader accepts (see the scap-format notes).

Memory stays bounded whatever the file holds: list blocks are parsed entry by entry through a
window of at most WINDOW bytes (MAX_ENTRY for one entry), the Header keeps at most its LIMITS of
each kind of entry (header.py) and counts the rest in `Header.dropped`, an event block larger than
MAX_EVENT_BLOCK is skipped and counted in `oversized_events`, and blocks of other kinds are read
through without being kept.

Errors: anything that does not parse raises ScapError naming the byte offset (in the decompressed
stream) — from the event iterator, so the events before it have been handed out already. That holds
for a damaged or truncated .gz too: everything inflated before the damage is read first.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tiercel.common.errors import TiercelError
from tiercel.scap import blocks as B
from tiercel.scap.header import Header
from tiercel.scap.rawfile import Damaged, NotACaptureFile, open_capture
from tiercel.scap.table import EVENTS

CHUNK = 1 << 22
WINDOW = 1 << 20           # list blocks are parsed through a window of this size
MAX_ENTRY = 1 << 22        # one list entry (a process, an fd) larger than this is corruption
MAX_BLOCK = 1 << 28        # a sanity bound: larger lengths are corruption, not data
MAX_EVENT_BLOCK = 1 << 24  # a larger event block is skipped (counted), never held in memory
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


class CaptureReader:
    """`with CaptureReader(path) as r: r.header ...; for ev in r.events(): ...`"""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._f = open_capture(self.path)
        except NotACaptureFile as e:
            raise ScapError(str(e)) from None
        self._buf = b""
        self._pos = 0            # position in _buf
        self._base = 0           # stream offset of _buf[0]
        self._pending: tuple[int, int, int] | None = None
        self.header = Header()
        self.skipped_blocks = 0
        self.oversized_events = 0
        try:
            self._read_metadata()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    def consumed(self) -> int:
        """Bytes of the file itself read so far (compressed bytes for a gzip file)."""
        try:
            return self._f.consumed()
        except (OSError, ValueError):
            return 0

    def not_kept(self) -> dict[str, int]:
        """What the bounds left out so far, by what it was (entries beyond the Header's LIMITS by
        kind, the list bytes read through after them, oversized events); empty when nothing was."""
        h = self.header
        out = dict(sorted(h.dropped.items()))
        if h.skipped_bytes:
            out["bytes of list entries after them"] = h.skipped_bytes
        if self.oversized_events:
            out[f"events larger than {MAX_EVENT_BLOCK} bytes"] = self.oversized_events
        return out

    def dropped_summary(self) -> str | None:
        """One line on what the bounds left out, or None when nothing was."""
        parts = [f"{n} {what}" for what, n in self.not_kept().items()]
        return f"{self.path}: not kept (over the reader's limits): {', '.join(parts)}" if parts else None

    @property
    def offset(self) -> int:
        return self._base + self._pos

    def error(self, offset: int, what: str) -> ScapError:
        return ScapError(f"{self.path}: {what} at byte {offset}")

    def _take(self, n: int) -> bytes | None:
        """n bytes from the stream; None at EOF or when fewer remain (truncation)."""
        while len(self._buf) - self._pos < n:
            try:
                more = self._f.read(max(CHUNK, n - (len(self._buf) - self._pos)))
            except Damaged as e:
                raise self.error(self._base + len(self._buf), str(e)) from None
            if not more:
                return None
            self._base += self._pos
            self._buf = self._buf[self._pos:] + more
            self._pos = 0
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out

    def _need(self, n: int, start: int, btype: int, total: int) -> bytes:
        data = self._take(n)
        if data is None:
            raise self.error(start, f"truncated block (type {btype:#x}, {total} bytes)")
        return data

    def _head(self) -> tuple[int, int, int] | None:
        """(offset, type, total length) of the next block; None at a clean end of file."""
        start = self.offset
        head = self._take(8)
        if head is None:
            if len(self._buf) > self._pos:
                raise self.error(start, "truncated block header")
            return None
        btype, total = struct.unpack("<II", head)
        if total < 12 or total > MAX_BLOCK or total % 4:
            raise self.error(start, f"corrupt block length {total} (block type {btype:#x})")
        return start, btype, total

    def _body(self, start: int, btype: int, total: int) -> bytes:
        """The rest of a block held whole (an event, a section header, the machine info)."""
        body = self._need(total - 8, start, btype, total)
        if struct.unpack_from("<I", body, total - 12)[0] != total:
            raise self.error(start, f"block trailer does not match its length (type {btype:#x})")
        return body[:-4]

    def _trailer(self, start: int, btype: int, total: int) -> None:
        if struct.unpack("<I", self._need(4, start, btype, total))[0] != total:
            raise self.error(start, f"block trailer does not match its length (type {btype:#x})")

    def _skip(self, start: int, btype: int, total: int) -> None:
        """Read through a block's body without keeping it."""
        self._skip_body(total - 12, start, btype, total)
        self._trailer(start, btype, total)

    def _skip_body(self, left: int, start: int, btype: int, total: int) -> None:
        while left:
            left -= len(self._need(min(left, WINDOW), start, btype, total))

    def _read_metadata(self) -> None:
        first = self._head()
        if first is None or first[1] != B.SHB:
            raise self.error(0, "not a capture file (no section header block)")
        self._section_header(first[0], self._body(*first))
        while True:
            head = self._head()
            if head is None:
                return
            off, btype, total = head
            if btype in B.EVENT_BLOCKS:
                self._pending = (off, btype, total)
                return
            if btype in B.LIST_BLOCKS:
                self._list(off, btype, total)
            elif btype in B.MI and total <= MAX_ENTRY:
                body = self._body(off, btype, total)
                try:
                    B.machine(body, self.header)
                except (struct.error, IndexError, ValueError, UnicodeError) as e:
                    raise self.error(off, f"corrupt metadata block {btype:#x} ({e})") from None
            else:
                self._skip(off, btype, total)   # unknown blocks are ignored, as libscap does

    def _list(self, start: int, btype: int, total: int) -> None:
        """A list block, entry by entry through a window of at most WINDOW (+ one entry) bytes."""
        left = total - 12                   # body and padding, without the trailer
        window = self._need(min(left, WINDOW), start, btype, total)
        left -= len(window)
        c = B.Cursor(window)
        try:
            entry = B.open_list(btype, c, self.header)
        except (struct.error, ValueError) as e:
            raise self.error(start, f"corrupt metadata block {btype:#x} ({e})") from None
        while left or c.left() >= 4:
            mark = c.pos
            try:
                if entry(c):
                    continue
                self.header.skipped_bytes += c.left() + left
                self._skip_body(left, start, btype, total)
                break
            except (struct.error, IndexError, ValueError, UnicodeError) as e:
                if not left or len(window) - mark >= MAX_ENTRY:
                    raise self.error(start, f"corrupt metadata block {btype:#x} ({e})") from None
            more = self._need(min(left, WINDOW), start, btype, total)  # the entry went on: read on
            left -= len(more)
            window = window[mark:] + more
            c = B.Cursor(window)
        self._trailer(start, btype, total)

    def _section_header(self, off: int, body: bytes) -> None:
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
        head, self._pending = self._pending, None
        while head is not None:
            off, btype, total = head
            if btype not in B.EVENT_BLOCKS:
                self.skipped_blocks += 1
                self._skip(off, btype, total)
            elif total > MAX_EVENT_BLOCK:
                num += 1
                self.oversized_events += 1
                self._skip(off, btype, total)
            else:
                num += 1
                ev = _event(btype, self._body(off, btype, total), num)
                if ev is None:
                    raise self.error(off, f"corrupt event block {btype:#x}")
                if ev.code < len(EVENTS):  # codes from a newer writer are skipped, as libscap does
                    yield ev
            head = self._head()


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
