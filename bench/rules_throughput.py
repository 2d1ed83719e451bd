"""Rules throughput: one million synthetic events through the upstream stable + incubating rules.

    .venv/bin/python bench/rules_throughput.py [--events N] [--rules FILE ...]

The stream mixes execve, openat and connect the way a busy host does (mostly opens), with process
state built like the state stage builds it: a process tree with parents (`proc.aname`), argv, cwd,
users, some processes in containers, open files and sockets as `Fd`s. A pool of distinct events is
built first and cycled through, so only `Ruleset.match` is timed. One core, no threads.
Prints the load time, the rule counts and events per second. A benchmark, not a test: no asserts.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from tiercel.events.model import Container, Event, Fd, Process
from tiercel.rules.loader import load_rules

ORACLE_RULES = Path("/work/shared/oracles/rules")
DEFAULT_RULES = [ORACLE_RULES / "falco_rules.yaml", ORACLE_RULES / "falco-incubating_rules.yaml"]

O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_CLOEXEC = 0, 1, 2, 0o100, 0o1000, 0o2000000
READ_PATHS = ["/etc/passwd", "/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/proc/self/stat",
              "/etc/hosts", "/etc/resolv.conf", "/usr/share/zoneinfo/UTC", "/var/lib/app/data.db",
              "/etc/nsswitch.conf", "/proc/meminfo", "/sys/fs/cgroup/cpu.max", "/etc/shadow"]
WRITE_PATHS = ["/tmp/build-1234.o", "/var/log/app.log", "/home/ci/.cache/pip/x", "/var/lib/app/data.db",
               "/run/app.pid", "/tmp/sess_abc", "/etc/app/conf.yaml", "/dev/shm/lock"]
PROGRAMS = [("/usr/bin/ls", ["-la"]), ("/usr/bin/cat", ["/etc/hosts"]), ("/usr/bin/grep", ["-r", "x"]),
            ("/usr/bin/python3", ["app.py"]), ("/usr/sbin/nginx", ["-g", "daemon off;"]),
            ("/usr/bin/curl", ["-s", "http://10.0.0.5/"]), ("/bin/sh", ["-c", "date"]),
            ("/usr/bin/git", ["status"]), ("/usr/bin/node", ["server.js"]), ("/usr/bin/sleep", ["1"])]
PEERS = [("10.0.0.5", 443), ("10.0.0.9", 5432), ("172.17.0.2", 6379), ("8.8.8.8", 53),
         ("93.184.216.34", 80), ("127.0.0.1", 8080)]


def build_processes(rng: random.Random, n: int) -> list[Process]:
    """A process tree: systemd -> sshd/containerd-shim/cron -> shells -> workers."""
    init = Process(pid=1, ppid=0, comm="systemd", exe="/sbin/init", exepath="/usr/lib/systemd/systemd")
    roots = [Process(pid=10 + i, ppid=1, comm=c, exe=e, exepath=e, parent=init)
             for i, (c, e) in enumerate([("sshd", "/usr/sbin/sshd"), ("containerd-shim",
                                          "/usr/bin/containerd-shim-runc-v2"), ("cron", "/usr/sbin/cron")])]
    containers = [Container(id=f"{rng.getrandbits(48):012x}", name=f"app-{i}", image="nginx:1.25",
                            image_repository="nginx", image_tag="1.25", type="docker")
                  for i in range(5)]
    procs = [init, *roots]
    for i in range(n):
        parent = rng.choice(procs[1:])
        exe, args = rng.choice(PROGRAMS)
        comm = exe.rsplit("/", 1)[1][:15]
        in_container = parent.comm == "containerd-shim" or (parent.container is not None)
        c = rng.choice(containers) if in_container else None
        uid = rng.choice([0, 1000, 33])
        p = Process(pid=1000 + i, ppid=parent.pid, comm=comm, exe=exe, exepath=exe, args=list(args),
                    cwd=rng.choice(["/", "/root/", "/home/ci/", "/srv/app/"]), uid=uid, gid=uid,
                    user={0: "root", 1000: "ci", 33: "www-data"}[uid], parent=parent,
                    container_id=c.id if c else "", container=c, loginuid=rng.choice([-1, 1000]))
        procs.append(p)
    return procs


def make_event(rng: random.Random, num: int, ts: int, procs: list[Process]) -> Event:
    proc = rng.choice(procs[4:])
    roll = rng.random()
    if roll < 0.10:
        exe, args = rng.choice(PROGRAMS)
        return Event(num=num, ts=ts, type="execve", dir="<", tid=proc.pid, pid=proc.pid, res=0,
                     comm=proc.comm, uid=proc.uid,
                     args={"res": 0, "exe": exe, "args": args, "filename": exe}, proc=proc)
    if roll < 0.80:
        write = rng.random() < 0.25
        path = rng.choice(WRITE_PATHS if write else READ_PATHS)
        flags = (O_WRONLY | O_CREAT | O_TRUNC if write else O_RDONLY) | O_CLOEXEC
        fd = Fd(num=rng.randint(3, 60), typechar="f", name=path, openflags=flags)
        return Event(num=num, ts=ts, type="openat", dir="<", tid=proc.pid, pid=proc.pid, res=fd.num,
                     comm=proc.comm, uid=proc.uid, proc=proc, fd=fd,
                     args={"fd": fd.num, "dirfd": -100, "name": path, "flags": flags, "mode": 0o644})
    sip, sport = rng.choice(PEERS)
    fd = Fd(num=rng.randint(3, 60), typechar="4", l4proto="tcp", cip="10.0.0.2",
            cport=rng.randint(32768, 60999), sip=sip, sport=sport)
    fd.name = f"{fd.cip}:{fd.cport}->{fd.sip}:{fd.sport}"
    return Event(num=num, ts=ts, type="connect", dir="<", tid=proc.pid, pid=proc.pid, res=0,
                 comm=proc.comm, uid=proc.uid, proc=proc, fd=fd,
                 args={"res": 0, "tuple": fd.name, "fd": fd.num, "addr": ("inet", sip, sport)})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--pool", type=int, default=100_000, help="distinct events, cycled")
    ap.add_argument("--rules", type=Path, nargs="*", default=DEFAULT_RULES)
    opts = ap.parse_args()

    t0 = time.perf_counter()
    ruleset, result = load_rules(opts.rules)
    load_s = time.perf_counter() - t0
    if result.errors:
        print(result.render_text(), file=sys.stderr)
        return 1
    rng = random.Random(7)
    procs = build_processes(rng, 400)
    start_ts = 1_700_000_000_000_000_000
    pool = [make_event(rng, i + 1, start_ts + i * 1000, procs) for i in range(opts.pool)]

    match = ruleset.match
    alerts = 0
    t1 = time.perf_counter()
    for i in range(opts.events):
        if match(pool[i % len(pool)]):
            alerts += 1
    elapsed = time.perf_counter() - t1
    print(f"rules: {len(ruleset.enabled_rules())} enabled of {len(ruleset.rules)} loaded "
          f"in {load_s:.2f}s from {', '.join(p.name for p in opts.rules)}")
    print(f"events: {opts.events} (execve 10%, openat 70%, connect 20%), alerts: {alerts}, "
          f"predicate errors: {ruleset.errors}")
    print(f"throughput: {opts.events / elapsed:,.0f} events/s on one core ({elapsed:.2f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
