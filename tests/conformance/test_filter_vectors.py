"""libsinsp's filter-language vectors (parse, compile, evaluate), run through tiercel's engine.

The vectors are read in place from the shared oracle. Mock fields (c.true, c.false, ...) and the
events of libsinsp's tests are reproduced by a small test-side field table below: each test group
gets the values its libsinsp test event has. Entries tiercel does not match are listed, with a
reason, in filter_vectors_skip.yaml; the last test checks the acceptance ratios and prints them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tiercel.rules.language.compiler import compile_condition
from tiercel.rules.language.parser import ConditionSyntaxError, parse_condition

VECTORS_FILE = "filter-language/vectors.json"   # under the oracle directory
SKIP_FILE = Path(__file__).with_name("filter_vectors_skip.yaml")


class NoSuchField(Exception):
    pass


@dataclass(frozen=True)
class MockField:
    name: str
    type: str
    is_list: bool
    extract: Callable[[Any], Any]
    either: bool = False


# name -> (type, is_list, either); values come from the event dict, keyed by the written field
TYPES: dict[str, tuple[str, bool, bool]] = {
    "c.true": ("CHARBUF", False, False), "c.false": ("CHARBUF", False, False),
    "c.buffer": ("BYTEBUF", False, False),
    "c.singlequote": ("CHARBUF", False, False), "c.doublequote": ("CHARBUF", False, False),
    "evt.rawtime": ("ABSTIME", False, False), "evt.is_io": ("BOOL", False, False),
    "evt.buffer": ("BYTEBUF", False, False), "fd.name": ("CHARBUF", False, False),
    "thread.cpu": ("DOUBLE", False, False), "evt.cpu": ("INT16", False, False),
    "fd.dev": ("INT32", False, False), "proc.pid": ("INT64", False, False),
    "fd.ip": ("IPADDR", False, True), "fd.net": ("IPNET", False, True),
    "fd.port": ("PORT", False, True), "proc.pid.ts": ("RELTIME", False, False),
    "evt.count": ("UINT32", False, False), "evt.num": ("UINT64", False, False),
    "evt.source": ("CHARBUF", False, False), "evt.plugininfo": ("CHARBUF", False, False),
    "proc.name": ("CHARBUF", False, False), "syscall.type": ("CHARBUF", False, False),
    "evt.type": ("CHARBUF", False, False), "evt.args": ("CHARBUF", False, False),
    "evt.is_wait": ("BOOL", False, False), "evt.buflen.in": ("UINT64", False, False),
    "evt.rawarg.res": ("INT64", False, False), "evt.rawres": ("INT64", False, False),
    "evt.arg.res": ("CHARBUF", False, False), "evt.arg.flags": ("CHARBUF", False, False),
    "evt.arg.ret": ("CHARBUF", False, False), "evt.arg.reaper_tid": ("CHARBUF", False, False),
    "evt.arg.data": ("BYTEBUF", False, False), "evt.arg": ("CHARBUF", False, False),
    "sample.is_open": ("UINT64", False, False), "sample.tick": ("CHARBUF", False, False),
    "sample.proc_name": ("CHARBUF", False, False), "fd.types": ("CHARBUF", True, False),
    "fd.directory": ("CHARBUF", False, False), "fd.num": ("INT64", False, False),
    "fd.sip": ("IPADDR", False, False), "fd.lip": ("IPADDR", False, False),
    "fd.rip": ("IPADDR", False, False), "fd.cip": ("IPADDR", False, False),
}


class MockFields:
    """A FieldResolver over dict events: `{"fd.name": "/tmp/x", "evt.arg[1]": "/test/dir"}`."""

    def resolve(self, name: str, arg: str | None) -> MockField:
        if name not in TYPES:
            raise NoSuchField(name)
        type_, is_list, either = TYPES[name]
        key = name if arg is None else f"{name}[{arg}]"
        return MockField(name, type_, is_list, lambda ev: ev.get(key), either)


ALWAYS = {"c.true": "1", "c.singlequote": "hello 'quoted'", "c.doublequote": 'hello "quoted"'}
OPEN_TMP = {"fd.name": "/tmp/file_to_run", "fd.directory": "/tmp", "fd.types": ["file"], "evt.num": 1,
            "evt.type": "open", "evt.source": "syscall"}
GETCWD = {"evt.type": "getcwd", "evt.source": "syscall", "syscall.type": "getcwd", "proc.name": "init",
          "evt.arg.res": "-1", "evt.args": "res=-1 path=/", "evt.arg[1]": "/test/dir",
          "evt.arg.ret": "0", "evt.arg.reaper_tid": "1", "sample.is_open": 0, "sample.tick": "false",
          "sample.proc_name": "init"}
IPV4 = {"fd.ip": ("172.40.111.222", "142.251.111.147"), "fd.net": ("172.40.111.222", "142.251.111.147"),
        "fd.sip": "142.251.111.147", "fd.lip": "142.251.111.147", "fd.cip": "172.40.111.222",
        "fd.rip": "172.40.111.222"}
IPV6 = {"fd.ip": ("::1", "2001:4860:4860::8888"), "fd.net": ("::1", "2001:4860:4860::8888"),
        "fd.sip": "2001:4860:4860::8888", "fd.lip": "2001:4860:4860::8888", "fd.cip": "::1", "fd.rip": "::1"}

# The event of each libsinsp test, by test name; some inputs in one test use a later event.
EVENTS: dict[str, dict[str, Any]] = {
    "sinsp_with_test_input.contains_icontains": {"evt.arg.flags": "O_RDWR|O_CREAT",
                                                 "fd.name": "/opt/dir/SUBDIR/file.txt"},
    "sinsp_with_test_input.pmatch": {"fd.name": "/opt/dir/subdir/file.txt"},
    "sinsp_with_test_input.net_ipv4_compare": IPV4,
    "sinsp_with_test_input.net_modifier_ip_compare": IPV4,
    "sinsp_with_test_input.net_ipv6_compare": IPV6,
    "sinsp_with_test_input.signed_int_compare": {"evt.cpu": 1, "evt.rawarg.res": -22, "fd.num": -1},
    "sinsp_with_test_input.bytebuf_bcontains_bstartswith": {"evt.buffer": b"hello"},
    "sinsp_with_test_input.bytebuf_matches_nul": {"evt.buffer": b"a\x00b"},
}
BY_INPUT: dict[str, dict[str, Any]] = {
    "len(fd.types) = 2": {**OPEN_TMP, "fd.types": ["ipv4", "file"]},
    "len(evt.arg.data) == 6": {"evt.arg.data": b"\x01\x02\x03\x04\x05\x06"},
}


def event_for(vector: dict[str, Any]) -> dict[str, Any]:
    if vector["input"] in BY_INPUT:
        return {**ALWAYS, **BY_INPUT[vector["input"]]}
    test = vector["test"]
    if test in EVENTS:
        base = EVENTS[test]
    elif "transformer" in vector["file"]:
        base = OPEN_TMP
    else:
        base = GETCWD
    return {**ALWAYS, **base}


def load_vectors(oracles: Path) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((oracles / VECTORS_FILE).read_text())["vectors"]
    return vectors


def load_skips() -> dict[tuple[str, str], str]:
    entries = yaml.safe_load(SKIP_FILE.read_text()) or []
    return {(e["test"], e["input"]): e["reason"] for e in entries}


SKIPS = load_skips()


@pytest.fixture(scope="module")
def vectors(oracles: Path) -> list[dict[str, Any]]:
    return load_vectors(oracles)


def inputs_of(v: dict[str, Any]) -> list[str]:
    s = v["input"]
    if v.get("whitespace_variants"):
        return [s, f" {s} ", s.replace(" ", "\n"), s.replace(" ", "\t")]
    return [s]


def check(v: dict[str, Any]) -> None:
    """Assert one vector's expectation (AssertionError when tiercel differs)."""
    expect = v["expect"]
    if expect in ("parse_ok", "parse_error"):
        for text in inputs_of(v):
            _check_parse(text, expect == "parse_ok", v.get("message"))
        return
    warnings: list[tuple[str, int]] = []
    try:
        pred = compile_condition(parse_condition(v["input"]), MockFields(), warnings).check
        result = pred(event_for(v)) if expect.startswith("eval") or expect.endswith("error") else None
    except (ConditionSyntaxError, Exception) as e:
        assert expect in ("compile_error", "error"), f"unexpected error: {e}"
        if v.get("message"):
            assert str(e) == v["message"]
        return
    assert expect not in ("compile_error", "error"), "compiled, libsinsp rejects it"
    if expect == "eval_true":
        assert result is True
    elif expect == "eval_false":
        assert result is False
    if v["test"].endswith("compilation_warnings"):
        assert len(warnings) == v.get("expected_warnings", 0), warnings


def _check_parse(text: str, ok: bool, message: str | None) -> None:
    try:
        parse_condition(text)
    except ConditionSyntaxError as e:
        assert not ok, f"rejected {text!r}: {e.message}"
        if message:
            assert e.message == message
        return
    assert ok, f"accepted {text!r}"


def vector_id(v: dict[str, Any]) -> str:
    short = v["input"].replace("\n", "\\n")[:50]
    return f"{v['test'].split('.')[-1]}:{v['line']}:{v['expect']}:{short}"


def _vector_cases(oracles: Path) -> list[Any]:
    return [pytest.param(v, id=vector_id(v)) for v in load_vectors(oracles)]


@pytest.mark.oracle_cases("vector", _vector_cases)
def test_vector(vector: dict[str, Any]) -> None:
    reason = SKIPS.get((vector["test"], vector["input"]))
    if reason is not None:
        pytest.skip(reason)
    check(vector)


def _passes(v: dict[str, Any]) -> bool:
    try:
        check(v)
    except AssertionError:
        return False
    return True


def test_pass_ratio(vectors: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    """Acceptance: every classic (libs 0.11.0) vector passes, and at least 95% of all of them."""
    passed = [v for v in vectors if _passes(v)]
    classic = [v for v in vectors if v.get("also_in_libs_0.11.0")]
    classic_passed = [v for v in classic if _passes(v)]
    with capsys.disabled():
        print(f"\nfilter vectors: {len(passed)}/{len(vectors)} pass "
              f"({100 * len(passed) / len(vectors):.1f}%), classic {len(classic_passed)}/{len(classic)}, "
              f"{len(SKIPS)} listed in {SKIP_FILE.name}")
    assert len(classic_passed) == len(classic) == 278
    assert len(passed) >= 0.95 * len(vectors)
    failing_unlisted = [vector_id(v) for v in vectors
                        if (v["test"], v["input"]) not in SKIPS and not _passes(v)]
    assert not failing_unlisted
