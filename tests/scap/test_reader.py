"""The capture reader against every sample capture and sysdig 0.29.3's view of them.

Oracles, read in place: the captures of Falco's regression suite and of falcosecurity/libs, and
sysdig's JSON dump of each (shared/oracles/sysdig-dumps/). Every event sysdig printed is compared on
number, type, direction, thread, cpu, timestamp, return value and every argument it shows (the
rule for each kind of argument is in `_arg_agrees`).
"""

from __future__ import annotations

import gzip
import json
import random
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from tiercel.scap import events as E
from tiercel.scap.reader import CaptureReader, ScapError

TRACES = "falco-regression/test/trace_files"  # under the oracle directory
DUMPS = "sysdig-dumps"
# event blocks per capture, procinfo included (the scap-format notes' inventory)
EVENT_COUNTS = {"cat_write": 345, "connect_localhost": 374, "empty": 143, "open-multiple-files": 1272,
                "ping_sendto": 1526, "privileged": 2059, "run_as_user_0_container": 4143,
                "run_as_user_65534_container": 241, "write_tmp_test": 229, "syscall": 368,
                "curl_google": 1536, "curl_google_comments": 1536, "single_ipv6_conn": 1728,
                "test_ipv6_client": 326}
SYSDIG_NAMES = {"sigreturn": "rt_sigreturn"}  # sysdig 0.29's older name for the same syscall id


def _captures(oracles: Path) -> list[Path]:
    libs = oracles / "libs-captures"
    return [*sorted((oracles / TRACES).glob("**/*.scap")), *sorted(libs.glob("*.scap"))]


def _dump(oracles: Path, capture: Path) -> Path:
    sub = "libs-captures" if capture.parent.name == "libs-captures" else "falco-regression"
    rel = capture.relative_to(oracles / TRACES).parent if sub == "falco-regression" else Path()
    return oracles / DUMPS / sub / rel / (capture.stem + ".sysdig.jsonl")


def _capture_cases(oracles: Path) -> list[Any]:
    return [pytest.param(c, id=c.stem) for c in _captures(oracles)]


def _dumped_capture_cases(oracles: Path) -> list[Any]:
    return [pytest.param(c, id=c.stem) for c in _captures(oracles) if _dump(oracles, c).exists()]


@pytest.mark.oracle_cases("capture", _capture_cases)
def test_reads_every_event_block(capture: Path) -> None:
    with CaptureReader(capture) as r:
        events = list(r.events())
        assert r.header.threads and r.header.hostname
    assert len(events) == EVENT_COUNTS[capture.stem]
    assert [e.num for e in events] == list(range(1, len(events) + 1))
    for e in events:
        E.decode(e.code, e.params)  # every parameter decodes


@pytest.fixture(scope="module")
def formats(oracles: Path) -> dict[tuple[int, str], str]:
    """How sysdig prints each parameter (PF_DEC, PF_HEX, ...), by (event code, parameter name)."""
    table = json.loads((oracles / "scap-format/event_table.json").read_text())["events"]
    return {(e["code"], p["name"]): p["fmt"] for e in table for p in e["params"]}

_INT = re.compile(r"-?[0-9A-Fa-f]+")
_FLAGS = frozenset({28, 29, 30, 44, 45, 46})  # flags and enum flags: sysdig prints them in decimal


def _sysdig_args(text: str, names: list[str]) -> dict[str, str]:
    """sysdig's `name=value name=value ` split on the event's own parameter names, in order (values
    hold spaces, so a value ends where ` <next name>=` begins). Names sysdig does not print (its
    older event table lacks them) are absent."""
    found: list[tuple[str, int, int]] = []   # (name, where `name=` starts, where its value starts)
    pos = 0
    for name in names:
        m = re.compile(rf"(?:^| )({re.escape(name)}=)").search(text, pos)
        if m is not None:
            found.append((name, m.start(), m.end()))
            pos = m.end()
    end = len(text) - 1 if text.endswith(" ") else len(text)
    return {name: text[start:(found[i + 1][1] if i + 1 < len(found) else end)]
            for i, (name, _, start) in enumerate(found)}


def _printable(raw: bytes) -> str:
    """sysdig's rendering of bytes: printable ASCII as is, everything else as `.`."""
    return "".join(chr(b) if 32 <= b < 127 else "." for b in raw)


def _render(value: Any, raw: bytes, type_id: int) -> str:
    """Our decoded value as sysdig's text view writes it (strings, buffers, addresses)."""
    if value is None:
        return "NULL" if type_id == E.PT_SOCKTUPLE else ""
    if isinstance(value, list) and type_id != E.PT_FDLIST:  # args/env/cgroups: NUL -> `.`
        return "".join(_printable(v.encode("utf-8", "surrogateescape")) + "." for v in value)
    if type_id == E.PT_SOCKADDR:
        return value[1] if value[0] == "unix" else f"{value[1]}:{value[2]}"
    if type_id == E.PT_SOCKTUPLE and value[0] == "unix":  # kernel socket addresses, then the path
        src, dst = struct.unpack_from("<QQ", raw, 1)
        return f"{src:x}->{dst:x} {value[1]}"
    if type_id == E.PT_SOCKTUPLE:
        return f"{value[0]}:{value[1]}->{value[2]}:{value[3]}"
    return value if isinstance(value, str) else _printable(raw)


def _arg_agrees(formats: dict[tuple[int, str], str], code: int, name: str, type_id: int, value: Any,
                raw: bytes, shown: str) -> bool:
    """The comparison rule, per kind of parameter:
    - numbers (ints, fds, pids, errnos, flags, modes, uids, signals, times): sysdig's leading number
      (before any `(<f>/path)`, `(ENOENT)`, `(O_RDONLY)`, `(1s)` it appends), in the parameter's
      print format (PF_HEX: upper-case hex without 0x; PF_OCT: octal), compared modulo 2^64 and,
      for 32-bit uids/gids sysdig prints signed, modulo 2^32;
    - strings and paths: as they are; buffers: non-printable bytes as `.`; lists: each item followed
      by `.`; socket addresses and tuples as `ip:port->ip:port` (unix: the two kernel socket
      addresses in hex, then the path); flags: decimal whatever the table's print format; poll's fd
      lists: each `fd:` + a character sysdig takes from its fd table (not compared) + flags in hex.
      Equal to sysdig's, or followed in sysdig's by `(` (the path it resolved against the dirfd/cwd,
      which this reader leaves to the state). No prefix rule: the dumps come from `-p %evt.args`
      with `-j`, which does not cut strings (the text view's cut applies to `%evt.info`); buffers
      are as long as the capture's snaplen kept them, on both sides."""
    if isinstance(value, int) and not isinstance(value, bool):
        m = _INT.match(shown)
        if m is None:
            return False
        fmt = "PF_DEC" if type_id in _FLAGS else formats.get((code, name), "PF_DEC")
        base = {"PF_HEX": 16, "PF_OCT": 8}.get(fmt, 10)
        try:
            got = int(m.group(), base)
        except ValueError:
            return False
        return (got - value) % (1 << 64) == 0 or (got - value) % (1 << 32) == 0
    if type_id == E.PT_FDLIST:  # `fd:` + the fd's type from sysdig's own fd table + flags in hex
        items = shown.split()
        return len(items) == len(value) and all(
            i.startswith(f"{fd}:") and i[len(f"{fd}:") + 1:] == f"{flags:x}"
            for i, (fd, flags) in zip(items, value, strict=True))
    ours = _render(value, raw, type_id)
    return shown == ours or shown.startswith(ours + "(")


# Parameters of the event table sysdig 0.29 does not print: a generic event's syscall id becomes its
# evt.type (compared above), and execve's vpgid is newer than sysdig 0.29's table.
NOT_PRINTED = {("syscall", "ID"), ("syscall", "nativeID"), ("execve", "vpgid")}


def _arg_diffs(formats: dict[tuple[int, str], str], num: int, code: int, params: list[bytes],
               text: str) -> list[tuple[Any, ...]]:
    _, pairs = E.schema(code)
    args = E.decode(code, params, kernel=False)
    shown = _sysdig_args(text, [n for n, _ in pairs][: len(params)])
    missing = [(num, name, "not printed by sysdig") for name, _ in pairs[: len(params)]
               if name not in shown and (E.schema(code)[0], name) not in NOT_PRINTED]
    return missing + [(num, name, args[name], shown[name])
            for (name, type_id), raw in zip(pairs, params, strict=False)
            if name in shown and not _arg_agrees(formats, code, name, type_id, args[name], raw, shown[name])]


@pytest.mark.oracle_cases("capture", _dumped_capture_cases)
def test_agrees_with_sysdig(capture: Path, oracles: Path, formats: dict[tuple[int, str], str]) -> None:
    """Number, type, direction, thread, timestamp, cpu, return value and every argument sysdig prints."""
    with CaptureReader(capture) as r:
        ours = {e.num: e for e in r.events()}
    rows = [json.loads(line) for line in _dump(oracles, capture).read_text().splitlines() if line.strip()]
    assert rows
    diffs = []
    compared = 0
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
        diffs += _arg_diffs(formats, row["evt.num"], ev.code, ev.params, row["evt.args"] or "")
        compared += len(_sysdig_args(row["evt.args"] or "", [n for n, _ in E.schema(ev.code)[1]]))
    assert compared
    assert not diffs, f"{len(diffs)} differences: {diffs[:20]}"


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


def test_truncated_files_end_with_one_clear_error(tmp_path: Path, oracles: Path) -> None:
    data = _plain(oracles / TRACES / "cat_write.scap")
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


def test_events_before_the_damage_are_delivered(tmp_path: Path, oracles: Path) -> None:
    data = _plain(oracles / TRACES / "cat_write.scap")
    path = tmp_path / "cut.scap"
    path.write_bytes(data[:-7])
    seen = 0
    with pytest.raises(ScapError, match=r"truncated block .* at byte \d+"), CaptureReader(path) as r:
        for _ in r.events():
            seen += 1
    assert seen == EVENT_COUNTS["cat_write"] - 1


@pytest.mark.parametrize("seed", range(30))
def test_random_damage_never_crashes_the_reader(tmp_path: Path, seed: int, oracles: Path) -> None:
    data = bytearray(_plain(oracles / TRACES / "connect_localhost.scap"))
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
