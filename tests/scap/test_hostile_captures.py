"""Captures made to hurt the reader: huge list blocks, damaged and truncated gzip, files that are not
files. Each ends in the events before the damage plus one ScapError with a position, never a
traceback, never unbounded memory."""

from __future__ import annotations

import gzip
import os
import random
import resource
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest

from tiercel.scap import blocks as B
from tiercel.scap.header import LIMITS
from tiercel.scap.reader import CaptureReader, ScapError
from tiercel.scap.writer import block

TRACES = "falco-regression/test/trace_files"


def _head() -> bytes:
    shb = block(B.SHB, struct.pack("<IHHQ", 0x1A2B3C4D, 1, 2, (1 << 64) - 1))
    mi = block(B.MI[0], struct.pack("<IQQ", 1, 0, 0) + b"host".ljust(128, b"\0") + bytes(32))
    return shb + mi


def _event(ts: int) -> bytes:
    """A close(3) exit with result 0 (event code 3 is close_x in every table)."""
    params = [struct.pack("<q", 0)]
    lens = struct.pack("<H", 8)
    body = struct.pack("<HQQIHI", 0, ts, 1, 26 + 2 + 8, 3, 1) + lens + params[0]
    return block(B.EV_V2, body)


def _fd_entries(n: int) -> bytes:
    """n FDL V1 entries of 17 bytes each (fd, ino, a type with no payload)."""
    return struct.pack("<qQB", 3, 0, 0) * n


def _gzip_file(path: Path, parts: list[bytes]) -> Path:
    with gzip.open(path, "wb", compresslevel=9) as f:
        for p in parts:
            f.write(p)
    return path


def _events(path: Path) -> tuple[int, ScapError | None]:
    n = 0
    try:
        with CaptureReader(path) as r:
            for _ in r.events():
                n += 1
    except ScapError as e:
        return n, e
    return n, None


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_millions_of_fd_entries_keep_memory_and_time_bounded(tmp_path: Path) -> None:
    """A 200 MB fd-list block (12 million entries) in a gzip of a few hundred KB."""
    n = 12_000_000
    body = struct.pack("<Q", 42) + _fd_entries(n)
    pad = b"\0" * (-len(body) % 4)
    total = 12 + len(body) + len(pad)
    fdl = struct.pack("<II", 0x203, total) + body + pad + struct.pack("<I", total)
    path = _gzip_file(tmp_path / "fds.scap.gz", [_head(), fdl, _event(1), _event(2)])
    del body, fdl
    assert path.stat().st_size < 2 << 20
    before = _maxrss_mb()
    start = time.monotonic()
    with CaptureReader(path) as r:
        assert len(r.header.fds[42]) == LIMITS["fds_per_thread"]
        assert r.header.dropped == {"fds": 1}
        assert r.header.skipped_bytes > 190_000_000
        assert len(list(r.events())) == 2
        assert "not kept (over the reader's limits): 1 fds, " in (r.dropped_summary() or "")
    assert time.monotonic() - start < 20
    assert _maxrss_mb() - before < 150


def test_many_fd_blocks_stop_at_the_total_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LIMITS, "fds", 1000)
    blocks = [block(0x203, struct.pack("<Q", tid) + _fd_entries(300)) for tid in range(10)]
    path = _gzip_file(tmp_path / "fds.scap.gz", [_head(), *blocks, _event(1)])
    with CaptureReader(path) as r:
        assert r.header.fd_count == 1000
        assert sum(map(len, r.header.fds.values())) == 1000
        assert r.header.dropped["fds"] == 7   # the first refused entry of each later block


def test_a_huge_event_block_is_skipped_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tiercel.scap.reader as R
    monkeypatch.setattr(R, "MAX_EVENT_BLOCK", 1 << 16)
    big = struct.pack("<HQQIHI", 0, 5, 1, 26, 3, 0) + bytes(1 << 17)
    path = _gzip_file(tmp_path / "big.scap.gz", [_head(), _event(1), block(B.EV_V2, big), _event(3)])
    with CaptureReader(path) as r:
        assert [e.num for e in r.events()] == [1, 3]
        assert r.oversized_events == 1


def _real_gzip(oracles: Path) -> bytes:
    raw = (oracles / TRACES / "cat_write.scap").read_bytes()
    return raw if raw[:2] == b"\x1f\x8b" else gzip.compress(raw)


def test_truncated_gzip_replays_what_precedes_the_cut(tmp_path: Path, oracles: Path) -> None:
    gz = _real_gzip(oracles)
    plain = gzip.decompress(gz)
    whole, _ = _events(_gzip_file(tmp_path / "whole.scap.gz", [plain]))
    seen = []
    for frac in (0.8, 0.9, 0.99):    # the first ~75% inflate to the process and fd lists
        path = tmp_path / "cut.scap.gz"
        path.write_bytes(gz[:int(len(gz) * frac)])
        n, err = _events(path)
        assert err is not None and "truncated" in str(err)
        offset = int(str(err).rsplit("at byte ", 1)[1])
        assert 0 < offset < len(plain)
        seen.append(n)
    assert 0 < seen[0] < seen[1] < seen[2] < whole


def test_corrupt_gzip_is_one_error_with_a_position(tmp_path: Path, oracles: Path) -> None:
    gz = _real_gzip(oracles)
    rng = random.Random(16)
    for _ in range(60):
        data = bytearray(gz)
        data[rng.randrange(10, len(data))] ^= 1 << rng.randrange(8)
        path = tmp_path / "flip.scap.gz"
        path.write_bytes(bytes(data))
        _, err = _events(path)
        if err is not None:
            assert "at byte" in str(err) and "\n" not in str(err)


def test_zlib_error_names_the_uncompressed_position(tmp_path: Path) -> None:
    good = _head() + b"".join(_event(i) for i in range(1, 1001))
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    gz = z.compress(good) + z.flush(zlib.Z_FULL_FLUSH)
    path = tmp_path / "garbage.scap.gz"
    path.write_bytes(gz + b"\xff" * 64)  # an invalid deflate block after the first 1000 events
    n, err = _events(path)
    assert n == 1000
    assert err is not None and "corrupt compressed data" in str(err)
    assert str(err).endswith(f"at byte {len(good)}")


def test_concatenated_members_and_zero_padding(tmp_path: Path) -> None:
    path = tmp_path / "multi.scap.gz"
    path.write_bytes(gzip.compress(_head() + _event(1)) + gzip.compress(_event(2)) + b"\0" * 10)
    assert _events(path) == (2, None)


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_capture_must_be_a_regular_file(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    elif kind == "directory":
        path = tmp_path
    else:
        path = Path("/dev/zero")
    done: list[BaseException] = []

    def read() -> None:
        try:
            CaptureReader(path)
        except ScapError as e:
            done.append(e)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(5)
    assert done, "the reader blocked"
    assert "not a regular file" in str(done[0])
