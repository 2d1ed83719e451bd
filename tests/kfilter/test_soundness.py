"""The kernel filter is sound: what it keeps in the kernel never changes an alert.

Each rule set's tables are derived as the agent derives them, and the Python model of the probe's
decision (kfilter.offline.passes) filters event streams: every capture under the oracle directory, and
a large synthetic stream built from the rules' own constants (their paths, names and flags, near
misses of them, and paths the probe cannot judge). The alerts (event, rule, output text) with and
without the filter must be identical.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tiercel.events.model import Container, Event, Process
from tiercel.events.syscalls import STATE_SYSCALLS, SyscallTable
from tiercel.kfilter.derive import derive
from tiercel.kfilter.judge import OPEN_BITS
from tiercel.kfilter.offline import KernelView, passes
from tiercel.probe.filtertables import FilterTables
from tiercel.rules.files.loader import load_rules
from tiercel.rules.language import syntax
from tiercel.state.enrich import Enricher
from tiercel.state.processes import ProcessTable
from tiercel.testing.soundness import replay_alerts, stream_alerts

CHECKOUT = Path(__file__).resolve().parents[2]
TABLE = SyscallTable()
NO_PROC = Path("/nonexistent-tiercel-proc")

RULE_SETS = {
    "tiercel": lambda o: [CHECKOUT / "rules"],
    "upstream": lambda o: [o / "rules" / f for f in
                           ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")],
    "regression": lambda o: [o / "falco-regression" / "rules" / "falco_rules.yaml"],
}


def _ruleset(paths: list[Path], kernel_fds: bool = False) -> tuple[Any, FilterTables]:
    rs, _result = load_rules(paths)
    for r in rs.rules:          # every rule on, as the strictest case for the filter
        rs.enable(r.name)
    tables = derive(rs, rs._compile, TABLE, set(TABLE.by_name), kernel_fds)
    return rs, tables


def _sets(oracles: Path) -> list[Any]:
    return [pytest.param(name, id=name) for name in RULE_SETS]


def _captures(oracles: Path) -> list[Any]:
    caps = sorted(oracles.glob("**/*.scap"))
    if not caps:
        raise FileNotFoundError(str(oracles / "**/*.scap"))
    return [pytest.param(name, c, id=f"{name}-{c.stem}") for name in RULE_SETS for c in caps]


@pytest.mark.oracle_cases("rules_name, capture", _captures)
@pytest.mark.parametrize("kernel_fds", [False, True], ids=["fds-from-records", "fds-from-kernel"])
def test_captures_alert_the_same_with_the_filter(rules_name: str, capture: Path, oracles: Path,
                                                 kernel_fds: bool) -> None:
    rs, tables = _ruleset(RULE_SETS[rules_name](oracles), kernel_fds)
    assert any(not f.open for f in tables.syscalls.values()), "nothing filtered: the test proves nothing"
    assert replay_alerts(capture, rs, tables, kernel_fds) == replay_alerts(capture, rs, None, kernel_fds)


# -- a synthetic stream from the rules' own constants ----------------------------------------------

def _constants(rs: Any) -> tuple[list[str], list[str]]:
    paths: set[str] = set()
    names: set[str] = set()
    for r in rs.rules:
        if r.node is None:
            continue
        for n in syntax.walk(r.node):
            if isinstance(n, syntax.Value):
                t = n.text
                if t.startswith("/"):
                    paths.add(t)
                elif 0 < len(t) <= 20 and " " not in t:
                    if "/" not in t:
                        names.add(t)
                    # a fragment (`contains`, glob runs): inside paths, once and twice, and in /etc
                    paths.update({f"/tmp/a{t}b", f"/x{t}y{t}z", f"/etc/a{t}b{t}c", f"/root/.ssh/{t}",
                                  f"/home/u/x{t}"})
    return sorted(paths), sorted(names)


def _path_variants(rng: random.Random, p: str) -> list[str]:
    base = p.rstrip("*")
    return [p, base + "x", base + "/sub/file", base.rstrip("/") + "/", "/tmp" + base, base[:-1],
            base.replace("/", "//", 1), "/." + base, base + "/../etc/shadow", base.lstrip("/"),
            "/a" * 130 + base, "/home/u/." + base.rsplit("/", 1)[-1], base + "." + rng.choice(["pem", "bak"])]


# Realistic fd numbers: sockets come from socket()/accept(), and socket calls use those; a stream
# where connect() acts on an fd that open() made would be a sequence no kernel produces.
FILE_FDS = tuple(range(3, 10))
SOCKET_FDS = tuple(range(20, 26))
ANY_FDS = (0, 1, 2, *FILE_FDS, *SOCKET_FDS)
SOCKET_CALLS = frozenset({"connect", "bind", "listen", "accept", "accept4"})


def _listens_for_connections(truth: Enricher, pid: int, fd: Any) -> bool:
    """Whether the fd is, in the truth's state (which sees every event), a socket accept can take a
    connection from: not a datagram, raw or ICMP one."""
    proc = truth.table.lookup(Event(num=0, ts=0, type="accept", dir="<", tid=pid, pid=pid))
    entry = proc.fds.get(fd) if isinstance(fd, int) else None
    return entry is not None and entry.typechar in "46u" and entry.l4proto in ("", "tcp")


def _stream(rs: Any, tables: FilterTables, seed: int, count: int, *enrichers: Enricher) -> Iterator[Event]:
    """Random events of the filtered syscalls by processes put in each enricher's table (each its
    own objects: a truth state must share nothing with the state it describes)."""
    rng = random.Random(seed)
    paths, names = _constants(rs)
    names += ["bash", "sh", "cat", "python3", "nginx", "verylongprocessname", "x" * 15]
    path_pool = [v for p in paths for v in _path_variants(rng, p)]
    flag_pool = [acc | bits for acc in range(4) for bits in (0, *OPEN_BITS)] + [
        acc | rng.choice(OPEN_BITS) | rng.choice(OPEN_BITS) for acc in range(4) for _ in range(8)]
    container = Container(id="0123456789ab", full_id="0123456789ab" * 5 + "cdef", type="docker",
                          name="web", image="nginx:1")
    procs: list[Process] = []
    for pid in range(1000, 1300):
        parent = rng.choice(procs) if procs else None
        comm = rng.choice(names)
        p = Process(pid=pid, ppid=parent.pid if parent else 1, comm=comm, exe=comm,
                    exepath="/usr/bin/" + comm, args=[rng.choice(names), rng.choice(path_pool)],
                    cwd=rng.choice(["/", "/etc/", "/tmp/", "/root/"]), uid=rng.choice([0, 0, 1000]),
                    parent=parent, tty=rng.choice([0, 34816]))
        if rng.random() < 0.3:
            p.container_id, p.container = container.id, container
        procs.append(p)
    for enricher in enrichers:
        table: ProcessTable = enricher.table
        own: dict[int, Process] = {}
        for p in procs:
            q = dataclasses.replace(p, parent=own.get(p.ppid), fds={}, threads=set(), args=list(p.args))
            own[p.pid] = q
            table.add(q, [q.pid])
    filtered = [n for n, f in tables.syscalls.items() if n not in STATE_SYSCALLS]
    opens = [n for n in filtered if n in ("open", "openat", "openat2", "creat")]
    for num in range(1, count + 1):
        # the open family carries most path tests (prefixes, suffixes, needles): weighted up
        name = rng.choice(opens if opens and rng.random() < 0.4 else filtered)
        sc = TABLE.by_name[name]
        p = rng.choice(procs)
        args: dict[str, Any] = {}
        for param, src in sc.params:
            if src == "addr":
                args[param] = rng.choice([("inet", "10.0.0.1", 443), ("inet6", "::1", 22),
                                          ("unix", "/var/run/docker.sock"), ("inet", "127.0.0.1", 6443)])
            elif src.startswith("s"):
                args[param] = rng.choice(path_pool)
            elif param == "flags":
                args[param] = rng.choice(flag_pool)
            elif param in ("dirfd", "olddirfd", "newdirfd", "olddir", "newdir", "linkdirfd"):
                args[param] = -100
            elif param == "fd" and name in SOCKET_CALLS:
                args[param] = rng.choice(SOCKET_FDS)
            elif param in ("fd", "oldfd", "newfd"):
                args[param] = rng.choice(ANY_FDS)
            elif src.startswith("a"):
                args[param] = rng.choice([0, 1, 3, 0o4755, 0o777, 16, 2])
        ok = rng.choice(SOCKET_FDS if name in ("socket", "accept", "accept4") else
                        ANY_FDS if name in ("dup", "dup2", "dup3") else FILE_FDS)
        res = rng.choice([ok, ok, 0, -2, -13, -1])
        if name in ("accept", "accept4") and res >= 0 and len(enrichers) > 1 and not _listens_for_connections(
                enrichers[-1], p.pid, args.get("fd")):
            res = -95       # the kernel accepts only on a stream or seqpacket socket (EOPNOTSUPP)
        yield Event(num=num, ts=num * 1000, type=name, dir="<", tid=p.pid, pid=p.pid, comm=p.comm,
                    uid=p.uid, res=res, args=args)


@pytest.mark.oracle_cases("rules_name", _sets)
@pytest.mark.parametrize("kernel_fds", [False, True], ids=["fds-from-records", "fds-from-kernel"])
def test_synthetic_stream_alerts_the_same_with_the_filter(rules_name: str, oracles: Path,
                                                          kernel_fds: bool) -> None:
    rs, tables = _ruleset(RULE_SETS[rules_name](oracles), kernel_fds)
    runs = []
    for filtered in (None, tables):
        enricher = Enricher(NO_PROC, table=ProcessTable(NO_PROC))
        truth = Enricher(NO_PROC, table=ProcessTable(NO_PROC)) if kernel_fds else None
        events = _stream(rs, tables, 20261201, 30_000, enricher, *([truth] if truth else []))
        runs.append(stream_alerts(events, rs, filtered, enricher, truth))
    plain, kept = runs
    assert len(plain) > 100, "too few alerts for the stream to prove anything"
    assert kept == plain


def test_filter_keeps_out_what_no_rule_can_match() -> None:
    """The other half: the filter does drop records (or it would be trivially sound)."""
    _rs, tables = _ruleset([CHECKOUT / "rules"])
    openat = tables.syscalls["openat"]
    assert not openat.open
    assert not passes(tables, KernelView("openat", 3, b"cat", b"/etc/hostname", 0))
    assert not passes(tables, KernelView("openat", 3, b"nginx", b"/var/www/index.html", 0))
    assert passes(tables, KernelView("openat", 3, b"cat", b"/etc/shadow", 0))
    # what the probe cannot judge passes: relative, not normal, too long, unknown comm
    assert passes(tables, KernelView("openat", 3, b"cat", b"shadow", 0))
    assert passes(tables, KernelView("openat", 3, b"cat", b"/etc/./shadow", 0))
    assert passes(tables, KernelView("openat", 3, b"cat", b"/etc" + b"/x" * 200, 0o1))
    # directories always pass: later relative paths are resolved against them
    assert passes(tables, KernelView("openat", 3, b"cat", b"/usr/share", 0o200000))
