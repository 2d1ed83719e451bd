"""No single event can hold the loop: the upstream rules evaluated on events whose every string is
huge and hostile (1 MB paths, command lines, container metadata made of glob and regex bait) end,
and no operator or transformer is handed more than MAX_VALUE characters of any value.

Nothing here measures time: each matcher and transformer the compiler builds is wrapped to record
the size of every value it is given, and those sizes are what the test bounds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tiercel.rules.language.operators as ops
import tiercel.rules.language.transformers as tr
from tiercel.events.model import Event
from tiercel.rules import load_rules
from tiercel.testing import events as E

MB = 1 << 20
RULE_FILES = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")


def _hostile(seed: str) -> str:
    """About 1 MB that keeps globs, regexes, prefixes and suffixes busy: slashes, stars, near-misses."""
    unit = f"/{seed}a*a?[a/../bin/sh\\x0a\u202e/etc/shadow/tmp/."
    return (unit * (MB // len(unit) + 1))[:MB]


class Sizes:
    """The largest value any wrapped matcher or transformer was given, and how many calls."""

    def __init__(self) -> None:
        self.largest = 0
        self.calls = 0

    def see(self, *values: Any) -> None:
        self.calls += 1
        for v in values:
            if isinstance(v, str | bytes):
                self.largest = max(self.largest, len(v))

    def matcher(self, m: Callable[[Any], bool]) -> Callable[[Any], bool]:
        def seen(v: Any) -> bool:
            self.see(v)
            return m(v)
        return seen


@pytest.fixture
def sizes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sizes]:
    s = Sizes()
    for name in ("value_matcher", "set_matcher", "pmatch_matcher", "modifier_matcher"):
        build = getattr(ops, name)
        monkeypatch.setattr(ops, name, lambda *a, _b=build, **k: s.matcher(_b(*a, **k)))
    field_matcher = ops.field_matcher

    def two(op: str) -> Callable[[Any, Any], bool]:
        test = field_matcher(op)

        def seen(v: Any, w: Any) -> bool:
            s.see(ops.clip(v), ops.clip(w))       # what the operator itself compares
            return test(v, w)
        return seen
    monkeypatch.setattr(ops, "field_matcher", two)
    for name, (fn, families, out) in list(tr._SINGLE.items()):
        if name != "len":
            monkeypatch.setitem(tr._SINGLE, name, (lambda v, _f=fn: (s.see(v), _f(v))[1], families, out))
    yield s


def _process() -> Any:
    big = _hostile
    image = big("registry.example/")
    c = E.container(big("id")[:64], name=big("name"), image=image, image_repository=image,
                    image_tag=big("tag"), labels={"io.kubernetes.pod.name": big("pod"),
                                                  "io.kubernetes.pod.namespace": big("ns")},
                    mounts=[E.mount(big("src"), big("dst"), rw=True)], privileged=True)
    grandparent = E.process(big("gp")[:15], pid=10, exe=big("gpexe"), exepath=big("gpexepath"),
                            args=[big("gparg")], cwd=big("gpcwd"), container=c)
    parent = E.process("sh", pid=11, parent=grandparent, exe=big("pexe"), exepath=big("pexepath"),
                       args=["-c", big("pcmd")], cwd=big("pcwd"), container=c)
    return E.process(big("comm")[:15], pid=12, parent=parent, exe=big("exe"), exepath=big("exepath"),
                     args=[big("arg1"), "-c", big("arg2")], cwd=big("cwd"), user=big("user"),
                     group=big("group"), loginname=big("login"), container=c)


def _events(types: set[str]) -> Iterator[Event]:
    proc = _process()
    path, other = _hostile("path"), _hostile("other")
    args = {"name": path, "path": path, "pathname": path, "filename": path, "oldpath": path,
            "newpath": other, "target": other, "linkpath": other, "exe": path, "args": path,
            "data": path, "cwd": path, "dev": path, "dir": path, "type": path, "source": path,
            "fd": 3, "dirfd": -100, "flags": 0o101, "mode": 0o777}
    fds = [E.file_fd(path, flags=0o2), E.unix_fd(other),
           E.socket_fd(cip="10.0.0.1", cport=4444, sip="10.0.0.2", sport=22)]
    for etype in sorted(types):
        for fd in fds:
            yield E.event(etype, args, fd=fd, abspath=path, abspath_dst=other, proc=proc,
                          cgroup=other, tty=1)


@pytest.mark.oracle_cases("rule_file", lambda oracles: [pytest.param(oracles / "rules" / f, id=f)
                                                         for f in RULE_FILES])
def test_upstream_rules_on_huge_values(rule_file: Path, sizes: Sizes) -> None:
    ruleset, result = load_rules([rule_file])
    assert result.ok, result.render_text()
    types = ruleset.needed_event_types()
    evaluated = 0
    for ev in _events(types):
        ruleset.match(ev)
        evaluated += 1
    assert evaluated == 3 * len(types) > 0
    print(f"{rule_file.name}: {evaluated} events, {sizes.calls} calls, {ruleset.errors} errors")
    assert sizes.calls > evaluated                # the rules looked at the huge values ...
    assert sizes.largest == ops.MAX_VALUE         # ... and never at more than MAX_VALUE of one


def test_clip() -> None:
    assert ops.clip("x" * (ops.MAX_VALUE + 5)) == "x" * ops.MAX_VALUE
    assert ops.clip(b"y" * (ops.MAX_VALUE + 1)) == b"y" * ops.MAX_VALUE
    short = "z" * 10
    assert ops.clip(short) is short and ops.clip(7) == 7 and ops.clip(None) is None


class _Slices(str):
    """A path that records the longest slice taken of it."""

    longest = 0

    def __getitem__(self, key: Any) -> Any:
        part = super().__getitem__(key)
        _Slices.longest = max(_Slices.longest, len(part))
        return part


def test_pmatch_looks_no_further_than_its_longest_prefix() -> None:
    """It used to take each leading path of a path (quadratic in a path of a million slashes)."""
    match = ops.pmatch_matcher(["/usr/local/bin", "/etc", "/opt/*/bin"])
    path = _Slices("/usr/local/" + "a/" * MB)
    assert not match(path)
    assert _Slices.longest <= len("/usr/local/bin")
    assert match("/usr/local/bin/x") and match("/opt/tool/bin/y") and not match("/opt/tool/sbin")
