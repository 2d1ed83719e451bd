"""The optimised engine (keyed plans, memos, reordered checks, fast extractors) against a plain
tree-walking reference (tests/rules/reference.py), over the upstream stable + incubating rules.

Events: the benchmarks' host stream and old uniform stream (tiercel.testing.streams), plus randomised events
built from the values the upstream rules test (their paths, program names, ports, addresses, flags)
mixed with ordinary ones, on every event type the rules name, with missing processes, missing
descriptors and failed calls. Each event is matched twice (the second time through warm memos),
and once more with memos so small that they are cleared all the time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.rules.reference import Reference

from tiercel.events.model import Container, Event, Fd, Process
from tiercel.rules.files.loader import load_rules
from tiercel.rules.matching import prefilter
from tiercel.rules.matching.ruleset import Ruleset
from tiercel.testing import streams

UPSTREAM = ["rules/falco_rules.yaml", "rules/falco-incubating_rules.yaml"]  # under the oracle directory

COMMS = ["bash", "sh", "zsh", "nc", "ncat", "tar", "sshd", "nginx", "httpd", "mysqld", "postgres", "curl",
         "wget", "grep", "find", "shred", "crontab", "mount", "debugfs", "passwd", "useradd", "ls", "cat",
         "python3", "node", "runc", "runc:[1:CHILD]", "containerd-shim", "sudo", "apt", "dpkg", "rpm",
         "ssh", "scp", "rsync", "systemd", "login", "perl", "awk", "cp", "chage", "java", "qualys-cloud-ag"]
PATHS = ["/etc/shadow", "/etc/sudoers", "/etc/pam.conf", "/etc/pam.d/common-auth", "/etc/sudoers.d/ci",
         "/etc/passwd", "/etc/ld.so.cache", "/etc/cron.d/job", "/etc/crontab", "/etc/profile",
         "/etc/zsh/zshrc",
         "/root/.ssh/id_rsa", "/home/ci/.ssh/authorized_keys", "/home/ci/.bashrc", "/root/.bash_history",
         "/home/ci/.zsh_history", "/var/log/syslog", "/var/log/auth.log", "/var/log/app/x.log", "/dev/null",
         "/dev/shm/x", "/dev/sda", "/dev/tty1", "/dev/mem", "/proc/1/environ", "/proc/self/stat",
         "/sys/fs/cgroup/release_agent", "/usr/lib/liblzma.so.5.6.0", "/usr/lib/x86_64-linux-gnu/libc.so.6",
         "/tmp/x", "/", "/etc", "/var/lib/docker/x", "/usr/bin/ls", "secure", "../../etc/passwd",
         "/var/www/../../etc/shadow", "relative/file.txt", "/etc/", "/var/log", "/var/log/"]
ADDRS = ["10.0.0.5", "127.0.0.1", "0.0.0.0", "169.254.169.254", "93.184.216.34", "172.17.0.2",
         "192.168.1.10", "8.8.8.8", "::1", "2001:db8::1", "fe80::1"]
PORTS = [22, 53, 80, 443, 8080, 2222, 6443, 5432, 1194, 0, 40000]
FLAGS = [0, 0o1, 0o2, 0o100, 0o1000, 0o1101, 0o2000000, 0o2001, 0o2102, 0o200000, 0o40, 0o4000]
TYPES = ["execve", "execveat", "open", "openat", "openat2", "creat", "connect", "accept", "accept4", "listen",
         "sendto", "sendmsg", "socket", "dup", "dup2", "dup3", "ptrace", "setuid", "setns", "unshare",
         "symlink", "symlinkat", "link", "linkat", "chmod", "fchmod", "fchmodat", "rename", "renameat",
         "renameat2", "unlink", "unlinkat", "rmdir", "bpf", "init_module", "finit_module", "close", "read"]
CONTAINERS = [None, Container(id="abc123def456", name="web", image="nginx:1.25", image_repository="nginx",
                              privileged=False, type="docker"),
              Container(id="0123456789ab", name="priv", image="falcosecurity/falco:0.37",
                        image_repository="falcosecurity/falco", privileged=True, type="docker",
                        labels={"io.kubernetes.pod.namespace": "kube-system"})]


class RichProcess(Process):
    """A process with the attributes the state may add later (fields read them with getattr)."""


EXTRA = {"vpid": [None, None, 1, 7], "env": [None, "HOME=/root", "GLIBC_TUNABLES=x", "HTTP_PROXY=y"],
         "exe_upper_layer": [None, True, False], "exe_from_memfd": [None, None, True],
         "cap_permitted": [None, 0, 1 << 21], "cap_effective": [None, 1 << 21 | 1 << 1, 1 << 1]}


def _process(rng: random.Random, depth: int = 0) -> Process:
    comm = rng.choice(COMMS)
    parent = _process(rng, depth + 1) if depth < 5 and rng.random() < 0.8 else None
    c = rng.choice(CONTAINERS)
    p = RichProcess(pid=rng.randint(1, 40000), ppid=parent.pid if parent else 0, comm=comm,
                exe=rng.choice([f"/usr/bin/{comm}", comm, "/dev/shm/x", "./run", "memfd:x"]),
                exepath=f"/usr/bin/{comm}", parent=parent,
                args=rng.choice([[], ["-c", "/dev/shm/x"], ["-e", "/bin/sh"], ["BEGIN PRIVATE"], ["-r", "x"],
                                 ["aws_secret_access_key"], ["-l"], ["id_rsa"], ["-o", "out"]]),
                cwd=rng.choice(["/", "/root/", "/dev/shm/", "/tmp/"]), uid=rng.choice([0, 33, 1000]),
                user=rng.choice(["root", "www-data", "ci", "daemon"]), loginuid=rng.choice([-1, 1000]),
                tty=rng.choice([0, 0, 34816]), container_id=c.id if c else "", container=c,
                start_ts=rng.choice([0, 1_700_000_000_000_000_000]))
    for attr, values in EXTRA.items():
        setattr(p, attr, rng.choice(values))
    return p


def random_event(rng: random.Random, num: int) -> Event:
    etype = rng.choice(TYPES)
    proc = _process(rng) if rng.random() < 0.95 else None
    path = rng.choice(PATHS)
    res = rng.choice([0, 0, 0, 3, -2, -13, -115])
    fd: Fd | None = None
    kind = rng.choice("ff4466udp")
    if rng.random() < 0.85 and res >= 0:
        if kind in "46":
            cip, sip = rng.choice(ADDRS), rng.choice(ADDRS)
            fd = Fd(num=rng.randint(0, 60), typechar=kind, l4proto=rng.choice(["tcp", "udp"]), cip=cip,
                    cport=rng.choice(PORTS), sip=sip, sport=rng.choice(PORTS), is_server=rng.random() < 0.3)
            fd.name = f"{cip}:{fd.cport}->{sip}:{fd.sport}"
        else:
            fd = Fd(num=rng.randint(0, 60), typechar=kind, name=path if kind in "fd" else "pipe:[1]",
                    openflags=rng.choice(FLAGS))
    args = {"fd": fd.num if fd else res, "dirfd": -100, "name": path, "flags": rng.choice(FLAGS),
            "mode": rng.choice([0, 0o644, 0o755, 0o4755]), "res": res, "path": path, "oldpath": path,
            "target": path, "request": rng.choice([0, 16, 17]), "uid": rng.choice([0, 1000]),
            "domain": rng.choice([1, 2, 10, 17]), "cmd": rng.choice([0, 5]), "exe": path, "args": ["-x"]}
    for k in rng.sample(sorted(args), rng.randint(0, 4)):
        del args[k]
    pid = proc.pid if proc else 9
    return Event(num=num, ts=1_700_000_000_000_000_000 + num, type=etype, dir="<", tid=pid, pid=pid,
                 res=res, proc=proc, fd=fd, args=args,
                 comm=proc.comm if proc else rng.choice(["", "bash"]), uid=proc.uid if proc else 0)


def events() -> Iterator[Event]:
    yield from streams.build_stream("host", 3000, seed=11, suspicious=0.05)
    yield from streams.build_stream("legacy", 2000, seed=12)
    rng = random.Random(13)
    for i in range(8000):
        yield random_event(rng, i + 1)


@pytest.fixture(scope="module")
def upstream(oracles: Path) -> tuple[Ruleset, list[Event], list[list[str]]]:
    rs, result = load_rules([oracles / f for f in UPSTREAM], match_all=True)
    assert result.ok, result.render_text()
    ref = Reference()
    evs = list(events())
    return rs, evs, [ref.matches(rs.rules, e) for e in evs]


def test_engine_agrees_with_reference(upstream: tuple[Ruleset, list[Event], list[list[str]]]) -> None:
    rs, evs, expected = upstream
    first = Ruleset(rs.rules, match_all=False, compile_=rs._compile)
    for _ in range(2):            # cold, then through warm memos
        for ev, want in zip(evs, expected, strict=True):
            assert [m.rule.name for m in rs.match(ev)] == want, ev
            assert [m.rule.name for m in first.match(ev)] == want[:1], ev
    assert rs.errors == first.errors == 0
    hit_rules = {name for names in expected for name in names}
    assert sum(bool(w) for w in expected) > 500 and len(hit_rules) >= 20, sorted(hit_rules)


def test_engine_agrees_with_reference_when_memos_churn(
        upstream: tuple[Ruleset, list[Event], list[list[str]]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter, "MEMO_LIMIT", 3)
    rs, evs, expected = upstream
    fresh = Ruleset(rs.rules, match_all=True, compile_=rs._compile)
    for ev, want in zip(evs, expected, strict=True):
        assert [m.rule.name for m in fresh.match(ev)] == want, ev
    assert fresh.errors == 0


def test_rule_predicates_agree_with_reference(upstream: tuple[Ruleset, list[Event], list[list[str]]]) -> None:
    """Each rule's own compiled predicate (what the ruleset falls back to) means the same too."""
    rs, evs, expected = upstream
    slow = Ruleset(rs.rules, match_all=True)
    for ev, want in zip(evs[::3], expected[::3], strict=True):
        assert [m.rule.name for m in slow.match(ev)] == want, ev
