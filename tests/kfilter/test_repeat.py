"""The probe remembers the last open each CPU's filter kept in the kernel and keeps a repeat of it
without judging it again (kf_repeat): whatever decided it (the path's bytes, the file it names, the
thread's exec, the fd number's being known, the tables) changing must make the next open judged
again. Each workload repeats one open 2,000 times on one CPU, changes one of those, opens once more."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.kfilter.test_live_filter import _opens, _rule_on, _tables
from tests.livecapture import LiveCapture, build_c, read_line
from tiercel.events.syscalls import STATE_SYSCALLS
from tiercel.rules import Ruleset, load_rules, load_rules_text

pytestmark = pytest.mark.live
CHECKOUT = Path(__file__).resolve().parents[2]
SYSCALLS = set(STATE_SYSCALLS | {"open", "openat"})
REPEATS = 2000


@pytest.fixture(params=["grown fd table", "fd table in files_struct"])
def repeatopen(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The workload, whose opens' files the probe finds by helper reads through a grown fd table
    (this process has BCC's maps open: its children's tables are larger than 64), or by loads at
    constant offsets into the table inside files_struct (REPEATOPEN_FORK: a child of the workload).
    Static: no loader whose own opens after an exec would take the place of the one remembered."""
    if request.param == "fd table in files_struct":
        monkeypatch.setenv("REPEATOPEN_FORK", "1")
    return build_c(Path(__file__).parent / "repeatopen.c", tmp_path / "repeatopen", "-static")


def _check_fd_table(proc: subprocess.Popen[bytes]) -> None:
    """The workload's table is the one its parametrization is about (FDSize, its first line)."""
    assert proc.stdout is not None
    first = proc.stdout.readline().decode().split()
    assert first[0] == "fdsize"
    assert (int(first[1]) == 64) == ("REPEATOPEN_FORK" in os.environ)


def _kept_as_repeats(cap: LiveCapture) -> int:
    assert cap.source.probe is not None
    return cap.source.probe.repeats_kept()


def _run(rs: Ruleset, argv: list[str | Path], syscalls: set[str] = SYSCALLS) -> LiveCapture:
    """The workload under the filter of `rs`: it must succeed on the fd table it is meant to have,
    and its repeats must have been kept as such (or the test would not test kf_repeat)."""
    with LiveCapture(syscalls=syscalls) as cap:
        cap.source.set_filter(_tables(rs))
        proc = cap.run(argv)
        assert proc.returncode == 0
        _check_fd_table(proc)
        kept = _kept_as_repeats(cap)
    assert kept >= REPEATS // 2
    return cap


def _default_rules() -> Ruleset:
    rs, _ = load_rules([CHECKOUT / "rules"])
    return rs


KEY_RULE = """
- rule: key opened
  desc: d
  condition: evt.type = openat and fd.name endswith .key
  output: opened %fd.name
  priority: WARNING
"""


@pytest.mark.parametrize("kind", ["another file", "the same file"])
def test_the_same_buffer_with_other_bytes_is_judged_again(repeatopen: Path, tmp_path: Path,
                                                          kind: str) -> None:
    """The buffer's bytes change to another file's name (/etc/shadow), or to another name of the
    same file (a symlink whose name a suffix test matches: only the bytes tell it apart)."""
    if kind == "another file":
        rs = _default_rules()
        plain = Path(f"/tmp/k{os.getpid() % 100000:05d}")      # as long as /etc/shadow
        target, rule = "/etc/shadow", "Read sensitive file untrusted"
    else:
        rs, result = load_rules_text([("key.yaml", KEY_RULE)])
        assert not result.errors
        plain = tmp_path / "a.txt"
        target, rule = str(tmp_path / "b.key"), "key opened"
        Path(target).symlink_to(plain)
    plain.write_text("x")
    try:
        cap = _run(rs, [repeatopen, "mutate", plain, target])
    finally:
        plain.unlink()
    opened = [e for e in cap.events if e.type == "openat" and e.args.get("name") in (str(plain), target)]
    assert [e.args.get("name") for e in opened] == [target]
    assert [m.rule.name for m in rs.match(opened[0])] == [rule]


def test_a_link_pointed_elsewhere_is_judged_again(repeatopen: Path, tmp_path: Path) -> None:
    rs = _default_rules()
    plain, link = tmp_path / "plain", tmp_path / "link"
    plain.write_text("x")
    link.symlink_to(plain)
    cap = _run(rs, [repeatopen, "retarget", link, "/etc/shadow"])
    opened = _opens(cap, "/etc/shadow")          # fd.name: the file's own name (kf_resolve)
    assert len(opened) == 1 and opened[0].args.get("name") == str(link)
    assert [m.rule.name for m in rs.match(opened[0])] == ["Read sensitive file untrusted"]


ETC_RULE = """
- rule: below etc
  desc: d
  condition: evt.type = openat and fd.name startswith /etc/
  output: opened %fd.name
  priority: WARNING
"""


def test_a_file_moved_under_the_same_link_is_judged_again(repeatopen: Path, tmp_path: Path) -> None:
    """The same bytes, the same file (dentry and inode): only its directory has changed (renamed
    below /etc, the link pointed there), which the walk up its directories would find."""
    rs, result = load_rules_text([("etc.yaml", ETC_RULE)])
    assert not result.errors
    plain, link = tmp_path / "plain", tmp_path / "link"
    dest = Path("/etc") / f"tiercel-repeat-moved-{os.getpid()}"
    plain.write_text("x")
    link.symlink_to(plain)
    try:
        cap = _run(rs, [repeatopen, "move", link, plain, dest])
    finally:
        dest.unlink(missing_ok=True)
    opened = [e for e in cap.events if e.type == "openat" and e.args.get("name") == str(link)]
    assert len(opened) == 1 and opened[0].fd is not None and opened[0].fd.name == str(dest)
    assert [m.rule.name for m in rs.match(opened[0])] == ["below etc"]


def test_a_known_fd_number_reused_is_judged_again(repeatopen: Path, tmp_path: Path) -> None:
    """A socket takes the fd number the repeated open had, and its record makes the number known
    (a rule reads sockets' fds); close is not attached, so the number stays known. The next repeat
    reuses it and must reach user space, whose fd table would otherwise keep the socket there."""
    rs = _default_rules()
    plain = tmp_path / "plain"
    plain.write_text("x")
    cap = _run(rs, [repeatopen, "reuse", plain], SYSCALLS | {"socket"})
    sockets = [e for e in cap.events if e.type == "socket"]
    again = _opens(cap, str(plain))
    assert len(sockets) == 1 and len(again) == 1
    assert again[0].ts > sockets[0].ts
    assert again[0].res is not None and again[0].res == sockets[0].res   # the same fd number


VICTIM = """
- rule: victim reads it
  desc: d
  condition: evt.type = openat and fd.name = {path} and proc.name = victim
  output: opened %fd.name
  priority: WARNING
- rule: anyone reads shadow
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: opened %fd.name
  priority: WARNING
"""


def test_an_exec_under_another_name_is_judged_again(repeatopen: Path, tmp_path: Path) -> None:
    """The path decides the repeats (only `anyone reads shadow` holds for this comm); after an exec
    as `victim`, the same open by the same thread, on the same CPU, with the same fd, is that
    rule's."""
    plain, victim = tmp_path / "plain", tmp_path / "victim"
    plain.write_text("x")
    victim.symlink_to(repeatopen)
    rs, result = load_rules_text([("victim.yaml", VICTIM.format(path=plain))])
    assert not result.errors
    cap = _run(rs, [repeatopen, "exec", plain, victim])
    opened = _opens(cap, str(plain))
    assert len(opened) == 1 and opened[0].proc is not None and opened[0].proc.comm == "victim"
    assert [m.rule.name for m in rs.match(opened[0])] == ["victim reads it"]


def test_new_tables_make_the_repeat_judged_again(repeatopen: Path, tmp_path: Path) -> None:
    plain, other = tmp_path / "plain", tmp_path / "other"
    plain.write_text("x")
    with LiveCapture(syscalls=SYSCALLS) as cap:
        cap.source.set_filter(_tables(_rule_on(other, "other")))
        proc = subprocess.Popen([str(repeatopen), "wait", str(plain)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        cap.watch.add(proc.pid)
        try:
            deadline = time.monotonic() + 120
            size = read_line(proc.stdout, deadline).split()
            assert size[0] == "fdsize" and (int(size[1]) == 64) == ("REPEATOPEN_FORK" in os.environ)
            assert read_line(proc.stdout, deadline).strip() == "ready"
            kept = _kept_as_repeats(cap)
            cap.source.set_filter(_tables(_rule_on(plain, "plain")))
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.close()
            cap.poll_until(lambda: proc.poll() is not None and cap.exited(proc.pid))
        finally:
            if proc.poll() is None:
                proc.kill()
    assert kept >= REPEATS // 2
    assert len(_opens(cap, str(plain))) == 1
