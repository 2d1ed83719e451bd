"""The capture reader against every sample capture and sysdig 0.29.3's view of them.

Oracles, read in place: the captures of Falco's regression suite and of falcosecurity/libs, and
sysdig's JSON dump of each (shared/oracles/sysdig-dumps/). Every event sysdig printed is compared on
number, type, direction, thread, cpu, timestamp, return value and the string arguments it shows.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from tiercel.scap import events as E
from tiercel.scap.reader import CaptureReader, ScapError

ORACLES = Path("/work/shared/oracles")
TRACES = ORACLES / "falco-regression/test/trace_files"
DUMPS = ORACLES / "sysdig-dumps"
CAPTURES = sorted(TRACES.glob("**/*.scap")) + sorted((ORACLES / "libs-captures").glob("*.scap"))
# event blocks per capture, procinfo included (the scap-format notes' inventory)
EVENT_COUNTS = {"cat_write": 345, "connect_localhost": 374, "empty": 143, "open-multiple-files": 1272,
                "ping_sendto": 1526, "privileged": 2059, "run_as_user_0_container": 4143,
                "run_as_user_65534_container": 241, "write_tmp_test": 229, "syscall": 368,
                "curl_google": 1536, "curl_google_comments": 1536, "single_ipv6_conn": 1728,
                "test_ipv6_client": 326}
SYSDIG_NAMES = {"sigreturn": "rt_sigreturn"}  # sysdig 0.29's older name for the same syscall id


def _dump(capture: Path) -> Path:
    sub = "libs-captures" if capture.parent.name == "libs-captures" else "falco-regression"
    rel = capture.relative_to(TRACES).parent if sub == "falco-regression" else Path()
    return DUMPS / sub / rel / (capture.stem + ".sysdig.jsonl")


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_reads_every_event_block(capture: Path) -> None:
    with CaptureReader(capture) as r:
        events = list(r.events())
        assert r.header.threads and r.header.hostname
    assert len(events) == EVENT_COUNTS[capture.stem]
    assert [e.num for e in events] == list(range(1, len(events) + 1))
    for e in events:
        E.decode(e.code, e.params)  # every parameter decodes


def _string_args(code: int, params: list[bytes]) -> dict[str, str]:
    _, pairs = E.schema(code)
    out = {}
    for (name, type_id), raw in zip(pairs, params, strict=False):
        if type_id in (9, 17) and raw:
            value = E.decode_value(type_id, name, raw)
            if isinstance(value, str) and value.isprintable() and " " not in value and len(value) < 60:
                out[name] = value
    return out


@pytest.mark.parametrize("capture", [c for c in CAPTURES if _dump(c).exists()], ids=lambda p: p.stem)
def test_agrees_with_sysdig(capture: Path) -> None:
    with CaptureReader(capture) as r:
        ours = {e.num: e for e in r.events()}
    rows = [json.loads(line) for line in _dump(capture).read_text().splitlines() if line.strip()]
    assert rows
    diffs = []
    for row in rows:
        ev = ours[row["evt.num"]]
        name = E.event_name(ev.code, ev.params)
        got = (name, ">" if ev.code % 2 == 0 else "<", ev.tid - (1 << 64) * (ev.tid >= 1 << 63),
               ev.ts, ev.cpu)
        want = (SYSDIG_NAMES.get(row["evt.type"], row["evt.type"]), row["evt.dir"], row["thread.tid"],
                row["evt.rawtime"], row["evt.cpu"])
        if got != want:
            diffs.append((row["evt.num"], got, want))
        args = E.decode(ev.code, ev.params, kernel=False)
        first = next(iter(args), None)
        rawres = row["evt.rawres"]
        if rawres is not None and first in ("res", "fd") and args[first] not in (rawres, None):
            diffs.append((row["evt.num"], first, args[first], row["evt.rawres"]))
        for pname, value in _string_args(ev.code, ev.params).items():
            if f"{pname}={value}" not in (row["evt.args"] or ""):
                diffs.append((row["evt.num"], pname, value, row["evt.args"]))
    assert not diffs, diffs[:10]


def _plain(capture: Path) -> bytes:
    raw = capture.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _read_all(path: Path) -> int:
    with CaptureReader(path) as r:
        n = 0
        for e in r.events():
            E.decode(e.code, e.params)
            n += 1
        return n


def test_truncated_files_end_with_one_clear_error(tmp_path: Path) -> None:
    data = _plain(TRACES / "cat_write.scap")
    rng = random.Random(4)
    errors = 0
    for cut in sorted(rng.sample(range(len(data) // 2, len(data)), 40)):
        path = tmp_path / "cut.scap"
        path.write_bytes(data[:cut])
        try:
            _read_all(path)
        except ScapError as e:
            assert "at byte" in str(e) and "\n" not in str(e)
            errors += 1
    assert errors >= 35  # a cut exactly between two blocks is a clean, shorter capture


def test_events_before_the_damage_are_delivered(tmp_path: Path) -> None:
    data = _plain(TRACES / "cat_write.scap")
    path = tmp_path / "cut.scap"
    path.write_bytes(data[:-7])
    seen = 0
    with pytest.raises(ScapError, match=r"truncated block .* at byte \d+"), CaptureReader(path) as r:
        for _ in r.events():
            seen += 1
    assert seen == EVENT_COUNTS["cat_write"] - 1


@pytest.mark.parametrize("seed", range(30))
def test_random_damage_never_crashes_the_reader(tmp_path: Path, seed: int) -> None:
    data = bytearray(_plain(TRACES / "connect_localhost.scap"))
    rng = random.Random(seed)
    for _ in range(rng.randint(1, 16)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    path = tmp_path / "bad.scap"
    path.write_bytes(bytes(data))
    try:
        _read_all(path)
    except ScapError as e:
        assert "at byte" in str(e)


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "x.scap"
    path.write_bytes(b"hello world, not a capture at all")
    with pytest.raises(ScapError, match="at byte 0"):
        CaptureReader(path)
