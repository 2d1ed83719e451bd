"""The compiler: operator semantics per type, missing values, transformers, errors and warnings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from tiercel.rules.language.compiler import CompileError, compile_condition
from tiercel.rules.language.parser import parse_condition
from tiercel.rules.language.transformers import getopt


class NoSuchField(Exception):
    pass


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    is_list: bool
    extract: Callable[[Any], Any]
    either: bool = False


class DictFields:
    """A FieldResolver double: events are dicts keyed by the field as written."""

    TYPES: ClassVar[dict[str, str]] = {
        "s.str": "CHARBUF", "s.path": "FSPATH", "n.int": "INT64", "n.port": "PORT", "b.flag": "BOOL",
        "ip.addr": "IPADDR", "ip.net": "IPNET", "ip.either": "IPADDR", "buf.data": "BYTEBUF",
        "l.types": "CHARBUF", "s.other": "CHARBUF", "t.rel": "RELTIME"}

    def resolve(self, name: str, arg: str | None) -> Field:
        if name not in self.TYPES:
            raise NoSuchField(name)
        key = name if arg is None else f"{name}[{arg}]"
        return Field(name, self.TYPES[name], name == "l.types", lambda ev: ev.get(key),
                     either=name == "ip.either")


EVENT = {"s.str": "/usr/bin/Bash", "s.path": "/opt/dir/subdir/file.txt", "n.int": -22, "n.port": 443,
         "b.flag": True, "ip.addr": "10.1.2.3", "ip.net": "2001:db8::1", "ip.either": ("10.0.0.1", "8.8.8.8"),
         "buf.data": b"hello\x00world", "l.types": ["file", "ipv4"], "s.other": "/usr/bin/Bash",
         "s.str[2]": "sshd", "t.rel": 5_000_000_000}


def run(text: str, event: dict[str, Any] | None = None) -> bool:
    return compile_condition(parse_condition(text), DictFields()).check(EVENT if event is None else event)


CASES = [
    ("eq", "s.str = /usr/bin/Bash", True),
    ("neq", "s.str != /usr/bin/Bash", False),
    ("in-set", "s.str in (/bin/sh, /usr/bin/Bash)", True),
    ("in-miss", "s.str in (/bin/sh)", False),
    ("contains", "s.str contains bin/", True),
    ("icontains", "s.str icontains BASH", True),
    ("startswith", "s.str startswith /usr", True),
    ("endswith", "s.str endswith Bash", True),
    ("glob", "s.str glob '/usr/*/B?sh'", True),
    ("glob-crosses-slash", "s.str glob '/*Bash'", True),
    ("iglob", "s.str iglob '*/bash'", True),
    ("regex-is-anchored", "s.str regex 'bin/Bash'", False),
    ("regex-full", "s.str regex '.*bin/Bash'", True),
    ("string-order-is-lexicographic", "s.str < 1", True),  # '/' sorts before '1'

    ("pmatch-component", "s.path pmatch (/opt/dir)", True),
    ("pmatch-not-substring", "s.path pmatch (/opt/di)", False),
    ("pmatch-glob", "s.path pmatch (/opt/*/subdir)", True),
    ("pmatch-root", "s.path pmatch (/)", True),
    ("num-signed", "n.int < 0", True),
    ("num-hex", "n.port = 0x1bb", True),
    ("num-in", "n.port in (80, 443)", True),
    ("bool", "b.flag = true", True),
    ("bool-false", "b.flag = false", False),
    ("ip-eq", "ip.addr = 10.1.2.3", True),
    ("ip-cidr", "ip.addr = 10.0.0.0/8", True),
    ("ip-in", "ip.addr in (192.168.0.1, 10.1.2.3)", True),
    ("net-v6", "ip.net = 2001:db8::/32", True),
    ("net-other-version", "ip.net = 10.0.0.0/8", False),
    ("either-eq", "ip.either = 8.8.8.8", True),
    ("either-neq-needs-none-equal", "ip.either != 8.8.8.8", False),
    ("list-intersects", "l.types intersects (ipv4, unix)", True),
    ("list-in-needs-all", "l.types in (ipv4, unix)", False),
    ("list-in-all", "l.types in (file, ipv4, unix)", True),
    ("bytes-eq-escape", 'buf.data = "hello\\x00world"', True),
    ("bcontains", "buf.data bcontains 00776F", True),
    ("bstartswith", "buf.data bstartswith 6865", True),
    ("reltime-units", "t.rel = 5s", True),
    ("field-arg", "s.str[2] = sshd", True),
    ("val-eq", "s.str = val(s.other)", True),
    ("val-startswith", "s.path startswith val(s.str)", False),
    ("tolower", "tolower(s.str) = /usr/bin/bash", True),
    ("basename", "basename(s.path) = file.txt", True),
    ("len-list", "len(l.types) = 2", True),
    ("concat", 'concat(s.str, "-x") endswith Bash-x', True),
    ("join", 'join(",", (s.str, "a")) = "/usr/bin/Bash,a"', True),
    ("modifier-anyof", "s.str == anyof (a, /usr/bin/Bash)", True),
    ("modifier-allof", "s.str startswith allof (/usr, /usr/bin)", True),
    ("modifier-oneof-two", "s.str startswith oneof (/usr, /usr/bin)", False),
    ("not", "not s.str = x", True),
    ("or-and", "s.str = x or n.int < 0 and b.flag = true", True),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_semantics(text: str, expected: bool) -> None:
    assert run(text) is expected


MISSING = ["s.str = x", "s.str != x", "s.str in (x)", "s.str contains x", "n.int < 0", "ip.addr = 1.2.3.4",
           "tolower(s.str) = x", "l.types intersects (x)", "s.str = val(s.other)", "s.str pmatch (/)"]


@pytest.mark.parametrize("text", MISSING)
def test_missing_value_is_false(text: str) -> None:
    assert run(text, {}) is False
    assert run(f"not ({text})", {}) is True


def test_exists() -> None:
    assert run("s.str exists") is True
    assert run("s.str exists", {}) is False


def test_unexpected_value_type_does_not_raise() -> None:
    assert run("s.str startswith /usr", {"s.str": 42}) is False


def test_numeric_text_matches_int_extraction() -> None:
    assert run("s.str = 42", {"s.str": 42}) is True
    assert run("s.str in (1, 42)", {"s.str": 42}) is True


ERRORS = [
    ("contains-on-number", "n.int contains 1", "operator 'contains' is not supported", 0),
    ("order-on-bool", "s.str = 1 and b.flag > 1", "operator '>' is not supported", 14),
    ("not-a-number", "n.int = abc", "'abc' is not a valid number", 0),
    ("bad-ip", "ip.addr = 300.1.1.1", "not a valid IP address", 0),
    ("nul-in-string", 's.str = "a\\x00"', "cannot contain NUL", 0),
    ("bcontains-odd-hex", "buf.data bcontains 123", "hex digits in pairs", 0),
    ("val-arg", "s.str = val(s.other)[x]", "transformer 'val' does not support field arguments", 8),
    ("transformer-arg", "toupper(s.str)[x] = y", "transformer 'toupper' does not support field arguments", 0),
    ("val-type-mismatch", "s.str = val(b.flag)", "cannot compare field", 0),
    ("transformer-type", "toupper(n.int) = 1", "does not support field type INT64", 0),
    ("regex-val", "s.str regex val(s.other)", "cannot compare with another field", 0),
    ("bad-regex", "s.str regex '('", "", 0),
    ("macro-left", "undefined_macro", "Undefined macro 'undefined_macro'", 0),
]


@pytest.mark.parametrize(("text", "message", "pos"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_compile_error(text: str, message: str, pos: int) -> None:
    with pytest.raises(CompileError) as info:
        compile_condition(parse_condition(text), DictFields())
    assert message in info.value.message
    assert info.value.pos == pos


def test_unknown_field_error_gets_position() -> None:
    with pytest.raises(NoSuchField) as info:
        compile_condition(parse_condition("s.str = a and proc.nmae = x"), DictFields())
    assert getattr(info.value, "pos", None) is None  # not a TiercelError: left as raised


WARNINGS = [
    ("field-as-string", "s.str = s.other", 1),
    ("transformed-field-as-string", "s.str = 'tolower(s.other)'", 1),
    ("unknown-field-text", "s.str = nosuch.field", 0),
    ("simple-regex", "s.str regex '.*Bash'", 1),
    ("real-regex", "s.str regex 'B[a]sh'", 0),
]


@pytest.mark.parametrize(("text", "count"), [w[1:] for w in WARNINGS], ids=[w[0] for w in WARNINGS])
def test_warnings(text: str, count: int) -> None:
    warnings: list[tuple[str, int]] = []
    compile_condition(parse_condition(text), DictFields(), warnings)
    assert len(warnings) == count


GETOPT = [
    (["-n", "-t", "v"], "nt:", ["n", "t", "v"], {"n": "n", "t": "v"}),
    (["-ntv"], "nt:", ["n", "t", "v"], {"n": "n", "t": "v"}),
    (["-x"], "n", ["?"], {}),
    (["-t"], "t:", [""], {"t": ""}),
    (["-n", "file", "-t"], "nt", ["n"], {"n": "n"}),
    (["--long", "-n"], "n", ["n"], {"n": "n"}),
    (["-n", "--", "-t"], "nt", ["n"], {"n": "n"}),
]


@pytest.mark.parametrize(("argv", "spec", "items", "seen"), GETOPT, ids=[" ".join(g[0]) for g in GETOPT])
def test_getopt(argv: list[str], spec: str, items: list[str], seen: dict[str, str]) -> None:
    assert getopt(argv, spec) == (items, seen)


def test_real_field_table_on_a_real_event() -> None:
    fields = pytest.importorskip("tiercel.rules.fields.table")
    from tiercel.testing import events as b

    proc = b.process("cat", pid=100, ppid=1, args=["/etc/shadow"])
    ev = b.event("openat", res=3, fd=b.file_fd("/etc/shadow"), proc=proc, ts=1)
    pred = compile_condition(parse_condition(
        "evt.type in (open, openat) and proc.name = cat and fd.name pmatch (/etc) and fd.num >= 0"),
        fields.FieldTable()).check
    assert pred(ev) is True


def test_real_unknown_field_error_gets_position() -> None:
    fields = pytest.importorskip("tiercel.rules.fields.table")
    from tiercel.common.errors import TiercelError

    with pytest.raises(TiercelError) as info:
        compile_condition(parse_condition("proc.name = a and proc.nmae = x"), fields.FieldTable())
    assert getattr(info.value, "pos", None) == 18
