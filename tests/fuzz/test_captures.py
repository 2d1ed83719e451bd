"""The capture reader and replay: real captures (plain and gzip) with flipped bytes and cut short, and
the crafted captures of corpus/captures/, each replay to its end or to one ScapError naming a
position: never another exception, and within a time and memory bound."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import CORPUS, bounded, one_line
from tests.fuzz.test_conditions import CHECKOUT
from tiercel.events.model import Event
from tiercel.scap.reader import ScapError
from tiercel.sources.base import CaptureOptions
from tiercel.sources.replay import ReplaySource
from tiercel.testing.oracles import find_oracles

TRACES = "falco-regression/test/trace_files"


def _captures() -> list[bytes]:
    """The oracle captures, decompressed (the small ones: each is replayed many times)."""
    root = find_oracles(CHECKOUT)
    if root is None:
        return []
    out = []
    for name in ("cat_write", "connect_localhost", "syscall", "privileged"):
        path = next((root / TRACES).glob(f"**/{name}.scap"), None)
        if path is not None:
            raw = path.read_bytes()
            out.append(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    return out


CAPTURES = _captures()
needs_captures = pytest.mark.skipif(not CAPTURES, reason="the oracle directory (captures) is absent")


def replay(path: Path) -> None:
    """`run -e` as far as the rules: reader -> convert -> state -> a sink that counts."""
    seen: list[Event] = []
    source = ReplaySource(path, CaptureOptions(), seen.append)
    with bounded(seconds=10, megabytes=300):
        try:
            source.start()
            source.run()
        except ScapError as e:
            one_line(str(e))
            assert "at byte" in str(e) or "regular file" in str(e), str(e)
        finally:
            source.stop()


def _write(tmp: Path, data: bytes, compressed: bool) -> Path:
    path = tmp / ("c.scap.gz" if compressed else "c.scap")
    path.write_bytes(gzip.compress(data, compresslevel=1) if compressed else data)
    return path


@needs_captures
@settings(max_examples=600)
@given(st.integers(0, 1 << 30), st.integers(1, 24), st.booleans())
def test_flipped_bytes(tmp_path_factory: pytest.TempPathFactory, seed: int, flips: int,
                       compressed: bool) -> None:
    rng = random.Random(seed)
    data = bytearray(rng.choice(CAPTURES))
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    replay(_write(tmp_path_factory.mktemp("scap"), bytes(data), compressed))


@needs_captures
@settings(max_examples=300)
@given(st.integers(0, 1 << 30), st.integers(1, 24))
def test_flipped_compressed_bytes(tmp_path_factory: pytest.TempPathFactory, seed: int, flips: int) -> None:
    """Damage inside the gzip stream itself: a zlib error is a ScapError with the position."""
    rng = random.Random(seed)
    data = bytearray(gzip.compress(rng.choice(CAPTURES), compresslevel=6))
    for _ in range(flips):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    path = tmp_path_factory.mktemp("scap") / "c.scap.gz"
    path.write_bytes(bytes(data))
    replay(path)


@needs_captures
@settings(max_examples=300)
@given(st.integers(0, 1 << 30), st.floats(0.0, 1.0), st.booleans())
def test_truncated(tmp_path_factory: pytest.TempPathFactory, seed: int, keep: float,
                   compressed: bool) -> None:
    data = random.Random(seed).choice(CAPTURES)
    tmp = tmp_path_factory.mktemp("scap")
    if compressed:   # cut the compressed stream, not the capture
        path = tmp / "c.scap.gz"
        gz = gzip.compress(data)
        path.write_bytes(gz[:int(len(gz) * keep)])
    else:
        path = _write(tmp, data[:int(len(data) * keep)], False)
    replay(path)


@pytest.mark.parametrize("path", sorted((CORPUS / "captures").glob("*.scap*")), ids=lambda p: p.name)
def test_corpus(path: Path) -> None:
    replay(path)
