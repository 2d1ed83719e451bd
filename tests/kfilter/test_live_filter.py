"""The kernel filter on the live kernel: what no rule can match stays in the kernel, what a rule
can match arrives, and new tables replace the old ones without a recompile."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.livecapture import LiveCapture, build_c, read_line
from tiercel.events.model import Event
from tiercel.events.syscalls import STATE_SYSCALLS, SyscallTable
from tiercel.kfilter.derive import derive
from tiercel.probe.filtertables import FilterTables
from tiercel.rules import Ruleset, load_rules, load_rules_text

pytestmark = pytest.mark.live
CHECKOUT = Path(__file__).resolve().parents[2]
TABLE = SyscallTable()
N = 100_000


def _tables(rs: Ruleset) -> FilterTables:
    assert rs.compiler is not None
    return derive(rs, rs.compiler, TABLE, TABLE.by_name)


def _opens(cap: LiveCapture, name: str) -> list[Event]:
    return [e for e in cap.events if e.type == "openat" and e.fd is not None and e.fd.name == name]


def _performed(cap: LiveCapture, name: str) -> int:
    """Opens of `name` as performed: identical repeats arrive coalesced, with their count."""
    return sum(e.count for e in _opens(cap, name))


def _rule_on(path: Path, name: str) -> Ruleset:
    text = (f"- rule: {name}\n  desc: d\n  condition: evt.type = openat and fd.name = {path}\n"
            f"  output: opened %fd.name\n  priority: WARNING\n")
    rs, result = load_rules_text([(f"{name}.yaml", text)])
    assert not result.errors
    return rs


def test_irrelevant_storm_stays_in_the_kernel_while_a_relevant_open_arrives(tmp_path: Path) -> None:
    storm = build_c(Path(__file__).parent / "openstorm.c", tmp_path / "openstorm")
    rs, _ = load_rules([CHECKOUT / "rules"])
    syscalls = set(STATE_SYSCALLS | {"open", "openat"})
    with LiveCapture(syscalls=syscalls) as cap:
        cap.source.set_filter(_tables(rs))
        proc = cap.run([storm, "/etc/hostname", "/etc/shadow", str(N)])
        assert proc.returncode == 0
        counters = cap.source.counters
    shadow = _opens(cap, "/etc/shadow")
    assert len(shadow) == 1
    assert [m.rule.name for m in rs.match(shadow[0])] == ["Read sensitive file untrusted"]
    assert _opens(cap, "/etc/hostname") == []          # 200,000 opens, none in user space
    assert counters.filtered >= 2 * N
    assert counters.lost == 0


def test_new_tables_replace_the_old_without_a_recompile(tmp_path: Path) -> None:
    storm = build_c(Path(__file__).parent / "openstorm.c", tmp_path / "openstorm")
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a")
    b.write_text("b")
    syscalls = set(STATE_SYSCALLS | {"openat"})
    with LiveCapture(syscalls=syscalls) as cap:
        probe = cap.source.probe
        assert probe is not None
        bpf = probe.bpf
        cap.source.set_filter(_tables(_rule_on(a, "A")))
        cap.run([storm, str(b), str(a), "3"])
        assert _performed(cap, str(a)) == 1 and _opens(cap, str(b)) == []
        cap.events.clear()
        cap.source.set_filter(_tables(_rule_on(b, "B")))
        cap.run([storm, str(b), str(a), "3"])
        assert _opens(cap, str(a)) == [] and _performed(cap, str(b)) == 6
        assert probe.bpf is bpf                    # the same loaded program: no recompile
        cap.events.clear()
        cap.source.set_filter(_tables(_rule_on(b, "B")), enabled=False)   # kernel_filter: false
        cap.run([storm, str(b), str(a), "3"])
        assert _performed(cap, str(a)) == 1 and _performed(cap, str(b)) == 6


def test_a_relevant_flood_is_coalesced_and_every_open_counted(tmp_path: Path) -> None:
    """A loop reading /etc/shadow: a few events arrive, standing for every open performed."""
    storm = build_c(Path(__file__).parent / "openstorm.c", tmp_path / "openstorm")
    rs, _ = load_rules([CHECKOUT / "rules"])
    with LiveCapture(syscalls=set(STATE_SYSCALLS | {"openat"})) as cap:
        cap.source.set_filter(_tables(rs))
        proc = cap.run([storm, "/etc/shadow", "/etc/hostname", str(N)])
        assert proc.returncode == 0
        counters = cap.source.counters
    shadow = _opens(cap, "/etc/shadow")
    assert sum(e.count for e in shadow) == 2 * N      # delivered + coalesced = performed
    assert len(shadow) < 100                          # not 200,000 records to user space
    assert counters.coalesced >= 2 * N - 100
    assert all(m.rule.name == "Read sensitive file untrusted" for e in shadow for m in rs.match(e))
    assert counters.lost == 0


NEEDLE_RULE = """
- rule: traversal
  desc: d
  condition: evt.type = openat and fd.nameraw contains '../' and fd.nameraw glob '*../*../*'
  output: opened %fd.nameraw
  priority: WARNING
"""


@pytest.mark.parametrize("path, arrives", [
    ("/etc/hostname", False),                 # no `..`: kept in the kernel
    ("{tmp}/a../b../c", True),                # a normal path with the pair, in and across words
    ("{tmp}/abcdef./.x", True),               # `/.`: not judged, passes
    ("{tmp}/abcdefg.x.y", False),             # dots, never two together
    ("{tmp}/ab..y", True),                    # the pair across a word boundary (bytes 7 and 8)
])
def test_needles_are_judged_by_the_probe(tmp_path: Path, path: str, arrives: bool) -> None:
    storm = build_c(Path(__file__).parent / "openstorm.c", tmp_path / "openstorm")
    rs, result = load_rules_text([("needle.yaml", NEEDLE_RULE)])
    assert not result.errors
    tables = _tables(rs)
    assert [s.needles for s in tables.syscalls["openat"].slots] == [frozenset({b".."})]
    name = path.format(tmp="/tmp")
    assert "/tmp/ab..y".index("..") == 7
    with LiveCapture(syscalls=set(STATE_SYSCALLS | {"openat"})) as cap:
        cap.source.set_filter(tables)
        proc = cap.run([storm, name, "/etc/hostname", "3"])
        assert proc.returncode == 0
        counters = cap.source.counters
    seen = [e for e in cap.events if e.type == "openat" and e.args.get("name") == name]
    assert bool(seen) is arrives, (name, seen)
    assert counters.filtered >= 1                 # the /etc/hostname open in the middle, at least
    assert counters.lost == 0


def _known_fds(cap: LiveCapture) -> Callable[[int, int], bool]:
    """Whether the probe's known_fds holds (pid, fd)."""
    probe = cap.source.probe
    assert probe is not None
    known = probe.bpf[b"known_fds"]
    return lambda pid, fd: known.get(ctypes.c_uint64((pid << 32) | fd)) is not None


SOCKETS = """
import os, socket, sys
a, b = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
fa, fb = a.fileno(), b.fileno()
a.close()
print(os.getpid(), fa, fb, flush=True)
sys.stdin.readline()
os._exit(0)     # no close at exit: the kept socket's entry must go with the process
"""


def test_known_fds_leave_at_close_and_at_exit() -> None:
    """The probe's known_fds (fds whose reuse must reach user space) lose an fd when its close
    reaches user space, and a process's fds when it exits: the LRU keeps room for live ones."""
    rs, _ = load_rules([CHECKOUT / "rules"])
    tables = _tables(rs)
    assert tables.fd_kinds == "socket"
    with LiveCapture() as cap:
        cap.source.set_filter(tables)
        has = _known_fds(cap)

        child = subprocess.Popen([sys.executable, "-c", SOCKETS], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
        pid, closed, kept = (int(x) for x in read_line(child.stdout, time.monotonic() + 60).split())
        cap.poll_until(lambda: has(pid, kept))
        assert not has(pid, closed)
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=60)
        cap.poll_until(lambda: cap.exited(pid) and not has(pid, kept))


INHERIT = """
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
low, high = s.fileno(), 200
os.dup2(low, high)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.read(0, 1)               # the test has looked at the known fds
    os.close(low)               # the inherited socket's number is free again...
    fd = os.open("/etc/hostname", os.O_RDONLY)
    os.chdir("/")               # ...and an open no rule wants takes it; a chdir always arrives
    os.write(w, b"%d\\n" % fd)
    os.read(0, 1)
    os._exit(0)
print(pid, low, high, flush=True)
os.close(w)
print(os.read(r, 64).decode().strip(), flush=True)
os.waitpid(pid, 0)
"""


def test_a_child_inherits_its_parents_known_fds() -> None:
    """A forked child's fd table is its parent's copy, and so are its known fds (low numbers copied
    by the kernel at the fork, high ones by user space): the child's close of an inherited socket
    and an open that reuses its number reach user space, whose table never keeps the socket."""
    rs, _ = load_rules([CHECKOUT / "rules"])
    tables = _tables(rs)
    with LiveCapture() as cap:
        cap.source.set_filter(tables)
        has = _known_fds(cap)

        parent = subprocess.Popen([sys.executable, "-c", INHERIT], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        assert parent.stdin is not None
        deadline = time.monotonic() + 60
        child, low, high = (int(x) for x in read_line(parent.stdout, deadline).split())
        cap.poll_until(lambda: has(child, low) and has(child, high))
        parent.stdin.write(b"x")
        parent.stdin.flush()
        assert int(read_line(parent.stdout, deadline)) == low

        cap.poll_until(lambda: any(e.type == "chdir" and e.pid == child for e in cap.events))
        proc = cap.source.enricher.table.procs[child]
        fd = proc.fds.get(low)     # the close and the open both arrived, or neither had to
        assert fd is None or fd.name == "/etc/hostname", fd
        parent.stdin.write(b"x")
        parent.stdin.close()
        assert parent.wait(timeout=60) == 0


def test_string_arguments_are_judged_by_the_probe(tmp_path: Path) -> None:
    """A rule on a call's path argument as passed (evt.arg.name of unlinkat) keeps the other
    removals in the kernel."""
    text = ("- rule: history removed\n  desc: d\n  condition: evt.type = unlinkat and "
            "evt.arg.name endswith _history\n  output: removed %evt.arg.name\n  priority: WARNING\n")
    rs, result = load_rules_text([("history.yaml", text)])
    assert not result.errors
    tables = _tables(rs)
    assert not tables.syscalls["unlinkat"].open
    names = [tmp_path / f"f{i}" for i in range(50)] + [tmp_path / ".bash_history"]
    for p in names:
        p.write_text("x")
    with LiveCapture(syscalls=set(STATE_SYSCALLS | {"unlinkat"})) as cap:
        cap.source.set_filter(tables)
        proc = cap.run(["rm", *map(str, names)])
        assert proc.returncode == 0
        counters = cap.source.counters
    removed = [e.args.get("name") for e in cap.events if e.type == "unlinkat"]
    assert removed == [str(tmp_path / ".bash_history")]
    assert counters.filtered >= 50


def test_bits_arguments_are_judged_by_the_probe(tmp_path: Path) -> None:
    """`evt.arg.mode contains S_ISUID` (chmod's mode bits) is tested in the kernel: plain chmods
    stay there, a setuid one arrives."""
    text = ("- rule: setuid bit\n  desc: d\n  condition: evt.type in (chmod, fchmodat) and "
            "(evt.arg.mode contains S_ISUID or evt.arg.mode contains S_ISGID)\n"
            "  output: mode %evt.arg.mode\n  priority: WARNING\n")
    rs, result = load_rules_text([("setuid.yaml", text)])
    assert not result.errors
    tables = _tables(rs)
    assert [s.bits_any for s in tables.syscalls["fchmodat"].slots] == [0o6000]
    target = tmp_path / "f"
    target.write_text("x")
    with LiveCapture(syscalls=set(STATE_SYSCALLS | {"chmod", "fchmodat"})) as cap:
        cap.source.set_filter(tables)
        for mode in ("644", "755", "4755", "600"):
            assert cap.run(["chmod", mode, str(target)]).returncode == 0
        counters = cap.source.counters
    modes = [e.args.get("mode") for e in cap.events if e.type in ("chmod", "fchmodat")]
    assert modes == [0o4755]
    assert counters.filtered >= 3


def test_value_sets_are_judged_by_the_probe(tmp_path: Path) -> None:
    """ptrace's request against the values a rule names: a debugger's reads stay in the kernel,
    its write into the process arrives."""
    loop = build_c(Path(__file__).parent / "ptraceloop.c", tmp_path / "ptraceloop")
    text = ("- rule: ptrace write\n  desc: d\n  condition: evt.type = ptrace and evt.arg.request in "
            "(PTRACE_POKEUSR, PTRACE_POKETEXT, PTRACE_ATTACH)\n  output: ptrace %evt.arg.request\n"
            "  priority: WARNING\n")
    rs, result = load_rules_text([("ptrace.yaml", text)])
    assert not result.errors
    tables = _tables(rs)
    assert [s.values for s in tables.syscalls["ptrace"].slots] == [frozenset({4, 6, 16})]
    with LiveCapture(syscalls=set(STATE_SYSCALLS | {"ptrace"})) as cap:
        cap.source.set_filter(tables)
        assert cap.run([loop, "500"]).returncode == 0
        counters = cap.source.counters
    requests = [e.args.get("request") for e in cap.events if e.type == "ptrace"]
    assert requests == [6]                       # PTRACE_POKEUSER; TRACEME, PEEKUSER, CONT kept out
    assert counters.filtered >= 500


def test_the_enter_exit_pair_build_filters_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels without bpf_task_pt_regs get the enter/exit pair build (TIERCEL_PROBE_MODE=pair
    forces it here): it must load (the verifier judges it on its own) and decide as the other."""
    monkeypatch.setenv("TIERCEL_PROBE_MODE", "pair")
    test_needles_are_judged_by_the_probe(tmp_path, "{tmp}/ab..y", True)
    test_value_sets_are_judged_by_the_probe(tmp_path)
    test_bits_arguments_are_judged_by_the_probe(tmp_path)
    with LiveCapture(syscalls={"openat"}) as cap:
        assert cap.source.mode.startswith("enter/exit tracepoint pairs")


def test_a_file_opened_through_a_link_is_known_by_the_name_a_rule_gives_it(tmp_path: Path) -> None:
    """A symlink or a hard link to /etc/shadow, /proc/self/root, and a symlink to a new file below
    /etc: the open's path misses every path test, the probe finds the file by its inode (or its
    directory's) and the event's fd.name is the file's own name, so the rules that name it match."""
    rs, _ = load_rules([CHECKOUT / "rules"])
    soft, hard, into = tmp_path / "soft", Path("/var/tmp") / f"tiercel-hard-{os.getpid()}", tmp_path / "into"
    made = Path("/etc") / f"tiercel-link-test-{os.getpid()}"
    soft.symlink_to("/etc/shadow")
    os.link("/etc/shadow", hard)
    into.symlink_to(made)
    try:
        with LiveCapture(syscalls=set(STATE_SYSCALLS | {"open", "openat"})) as cap:
            cap.source.set_filter(_tables(rs))
            assert cap.run(["cat", str(soft)], stdout=subprocess.DEVNULL).returncode == 0
            assert cap.run(["cat", str(hard)], stdout=subprocess.DEVNULL).returncode == 0
            assert cap.run(["cat", "/proc/self/root/etc/shadow"], stdout=subprocess.DEVNULL).returncode == 0
            assert cap.run(["sh", "-c", f"echo x > {into}"]).returncode == 0
            assert cap.run(["cat", "/etc/hostname"], stdout=subprocess.DEVNULL).returncode == 0
            counters = cap.source.counters
    finally:
        hard.unlink()
        made.unlink(missing_ok=True)
    opened = {e.args.get("name"): e for e in cap.events if e.type in ("open", "openat") and e.fd is not None}
    for link in (soft, hard, "/proc/self/root/etc/shadow"):
        ev = opened[str(link)]
        assert ev.fd is not None and ev.fd.name == "/etc/shadow"
        assert [m.rule.name for m in rs.match(ev)] == ["Read sensitive file untrusted"]
    ev = opened[str(into)]
    assert ev.fd is not None and ev.fd.name == str(made)
    assert [m.rule.name for m in rs.match(ev)] == ["Write below etc"]
    assert "/etc/hostname" not in opened     # an open no rule names still stays in the kernel
    assert counters.filtered > 0


def test_a_link_inside_a_container_is_resolved_to_the_containers_own_file() -> None:
    """A container's /etc/shadow is another file than the host's: the probe knows it by inode once
    the container's first exec has arrived, and a read through a symlink inside the container is
    the container's /etc/shadow."""
    rs, _ = load_rules([CHECKOUT / "rules"])
    name = f"tiercel-kf-link-{os.getpid()}"
    with LiveCapture(syscalls=set(STATE_SYSCALLS | {"open", "openat"})) as cap:
        cap.source.set_filter(_tables(rs))
        probe = cap.source.probe
        assert probe is not None
        inodes = probe.bpf[b"kf_inodes"]
        box = subprocess.Popen(["docker", "run", "-i", "--rm", "--name", name, "--network", "none",
                                "tiercel-test/busybox:1", "sh", "-c",
                                "ln -s /etc/shadow /tmp/s && echo ready && read go && cat /tmp/s >/dev/null"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert read_line(box.stdout, time.monotonic() + 120).strip() == "ready"
            pid = int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", name], check=True,
                                     capture_output=True, text=True).stdout)
            st = os.stat(f"/proc/{pid}/root/etc/shadow")
            assert st.st_ino != os.stat("/etc/shadow").st_ino

            def known() -> bool:
                return any(k.ino == st.st_ino and k.dev == (os.major(st.st_dev) << 20 | os.minor(st.st_dev))
                           for k in inodes)

            cap.poll_until(known)
            assert box.stdin is not None
            box.stdin.write(b"go\n")
            box.stdin.close()
            cap.poll_until(lambda: box.poll() is not None and any(
                e.type in ("open", "openat") and e.args.get("name") == "/tmp/s" for e in cap.events))
        finally:
            subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)
    ev = next(e for e in cap.events if e.type in ("open", "openat") and e.args.get("name") == "/tmp/s")
    assert ev.fd is not None and ev.fd.name == "/etc/shadow"
    assert ev.proc is not None and ev.proc.container_id
    assert "Read sensitive file untrusted" in [m.rule.name for m in rs.match(ev)]


MOVED = """
import os, sys
src, link, dst = sys.argv[1:4]
for _ in range(50):                     # the probe remembers this file's walk found nothing
    os.close(os.open(src, os.O_WRONLY))
os.rename(src, dst)                     # the same file (dentry, inode), below /etc now
os.symlink(dst, link)
os.close(os.open(link, os.O_WRONLY))
"""


def test_a_file_moved_below_a_named_directory_is_walked_anew(tmp_path: Path) -> None:
    """The probe remembers the last file whose walk found nothing; once that file has moved under
    /etc, a write through a link to it is the file below /etc again."""
    rs, _ = load_rules([CHECKOUT / "rules"])
    src, link = tmp_path / "moved", tmp_path / "link"
    dst = Path("/etc") / f"tiercel-moved-{os.getpid()}"
    src.write_text("x")
    try:
        with LiveCapture(syscalls=set(STATE_SYSCALLS | {"open", "openat"})) as cap:
            cap.source.set_filter(_tables(rs))
            assert cap.run([sys.executable, "-c", MOVED, str(src), str(link), str(dst)]).returncode == 0
    finally:
        dst.unlink(missing_ok=True)
    ev = next(e for e in cap.events if e.type in ("open", "openat") and e.args.get("name") == str(link))
    assert ev.fd is not None and ev.fd.name == str(dst)
    assert "Write below etc" in [m.rule.name for m in rs.match(ev)]
