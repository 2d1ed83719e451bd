"""The busy host of bench/workloads.py: servers on loopback, a test host in a network namespace,
the workloads that load them, and the attacker that acts meanwhile.

    env = Env(Path(tmp), token="tcwl123")
    env.build_helpers(); env.start_nginx(); env.start_redis(); env.make_project(120)
    env.start_test_host()
    for wl in make_workloads(env, ["nginx", "mix"], seconds=20, mix_seconds=60):
        attacker = Attacker(env, "tcwl123c0")
        outcome = wl.run()                   # count, elapsed_s, failed, rate (components: the mix's)
        actions = attacker.stop()            # what it did, when
    env.close()                              # servers stopped by pid, namespace and veth removed

Each server runs with its own config and files under env.tmp; the workloads and the attacker are
bench/workload_load.c (wl_connect, wl_attacker), ab, redis-benchmark and make.
"""

from __future__ import annotations

import glob
import itertools
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from agentrun import free_port, note, stop_process, wait_for

from tiercel.generator.nettarget import TestHost

HERE = Path(__file__).resolve().parent
ATTACKER = "wl_attacker"      # comm of the process that starts the actions (bench/workload_load.c)
CONNECTOR = "wl_connect"      # comm of the connect storm
ATTACK_INTERVAL = 0.25
TEST_NET = "198.51.100"       # TEST-NET-2: a /30 per run for the test host (TEST-NET-1 may be the LAN)
ALL_WORKLOADS = ("nginx", "nginx-keepalive", "redis", "connect", "build", "mix")
TOOLS = {"nginx": "nginx", "ab": "apache2-utils", "redis-server": "redis-server",
         "redis-benchmark": "redis-tools", "make": "make", "gcc": "gcc", "bash": "bash", "ip": "iproute2"}


@dataclass
class Action:
    kind: str          # shadow, connect, etc (etc-cleanup: the rm after the touch)
    index: int
    pid: int
    t: float           # CLOCK_MONOTONIC seconds, just before its fork


@dataclass
class Outcome:
    count: int
    elapsed_s: float
    failed: int
    components: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        if self.components:  # the ratio of two geometric means is the geometric mean of the ratios
            return math.exp(statistics.fmean(math.log(r) for r in self.components.values() if r > 0))
        return self.count / self.elapsed_s if self.elapsed_s else 0.0


# ---- the servers and the test host ---------------------------------------------------------------------

NGINX_CONF = """worker_processes 2;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type text/html;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {d}/www;
    }}
}}
"""


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def redis_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Env:
    """What every workload and monitor shares for the whole run; `close()` undoes it all."""

    tmp: Path
    token: str                                   # this run's prefix of every action's token
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    nginx_url: str = ""
    redis_port: int = 0
    project: Path | None = None
    project_files: int = 0
    test_host: TestHost | None = None
    tracepoints: list[str] = field(default_factory=list)   # what tiercel with its own rules attaches

    @property
    def bins(self) -> Path:
        return self.tmp / "bin"

    def build_helpers(self) -> None:
        self.bins.mkdir()
        for name in (CONNECTOR, ATTACKER):
            subprocess.run(["gcc", "-O2", "-o", str(self.bins / name), str(HERE / "workload_load.c")],
                           check=True)

    def start_nginx(self) -> None:
        d = self.tmp / "nginx"
        (d / "www").mkdir(parents=True)
        (d / "www" / "f512.html").write_bytes(b"x" * 511 + b"\n")
        port = free_port()
        (d / "nginx.conf").write_text(NGINX_CONF.format(d=d, port=port))
        proc = subprocess.Popen(["nginx", "-p", str(d), "-c", str(d / "nginx.conf"),
                                 "-e", str(d / "error.log")], stdout=subprocess.DEVNULL)
        self.procs.append(proc)
        self.nginx_url = f"http://127.0.0.1:{port}/f512.html"
        if not wait_for(lambda: http_ok(self.nginx_url) or proc.poll() is not None, 30, step=0.1) \
                or proc.poll() is not None:
            raise RuntimeError(f"nginx did not start: {(d / 'error.log').read_text()[-500:]}")
        note(f"nginx (master pid {proc.pid}, 2 workers) on {self.nginx_url}")

    def start_redis(self) -> None:
        d = self.tmp / "redis"
        d.mkdir()
        self.redis_port = port = free_port()
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(d), "--daemonize", "no",
                                 "--logfile", str(d / "redis.log")], stdout=subprocess.DEVNULL)
        self.procs.append(proc)
        if not wait_for(lambda: redis_ok(port) or proc.poll() is not None, 30, step=0.1) \
                or proc.poll() is not None:
            raise RuntimeError("redis-server did not start: " + (d / "redis.log").read_text()[-500:])
        note(f"redis-server (pid {proc.pid}) on 127.0.0.1:{port}")

    def make_project(self, files: int) -> None:
        """`files` small C files that include a common header and libc's, a Makefile to build them
        into one program and to clean."""
        d = self.project = self.tmp / "project"
        (d / "src").mkdir(parents=True)
        (d / "common.h").write_text("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
                                    "struct item { int id; char name[32]; };\n")
        for i in range(files):
            (d / "src" / f"f{i}.c").write_text(
                '#include "../common.h"\n'
                f"int f{i}(struct item *it) {{\n"
                f'    snprintf(it->name, sizeof it->name, "item-%d", it->id + {i});\n'
                "    return (int)strlen(it->name);\n}\n")
        calls = "".join(f"    n += f{i}(&it);\n" for i in range(files))
        decls = "".join(f"int f{i}(struct item *);\n" for i in range(files))
        (d / "main.c").write_text(f'#include "common.h"\n{decls}int main(void) {{\n'
                                  f"    struct item it = {{0}};\n    int n = 0;\n{calls}"
                                  '    printf("%d\\n", n);\n    return 0;\n}\n')
        (d / "Makefile").write_text(
            "OBJS := $(patsubst %.c,%.o,$(wildcard src/*.c)) main.o\n"
            "app: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n"
            "%.o: %.c common.h\n\t$(CC) -O1 -c -o $@ $<\n"
            "clean:\n\trm -f $(OBJS) app\n")
        self.project_files = files + 1

    def start_test_host(self) -> None:
        """A namespace of our own on a veth pair, a listener inside (tiercel.generator's TestHost),
        on a /30 of TEST-NET-2 no interface here has."""
        taken = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
        k = next(k for k in itertools.chain(range(os.getpid() % 63, 63), range(63))
                 if f"{TEST_NET}.{4 * k + 1}/" not in taken and f"{TEST_NET}.{4 * k + 2}/" not in taken)
        host = TestHost(ns=f"tiercel-wl-{os.getpid()}", host_if=f"tcwl{os.getpid()}"[:15],
                        host_ip=f"{TEST_NET}.{4 * k + 1}", peer_ip=f"{TEST_NET}.{4 * k + 2}")
        self.test_host = host
        host._setup()  # TestHost.create() would pick TEST-NET-1
        note(f"test host {host.peer_ip}:{host.target[1]} in network namespace {host.ns}")

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc, signal.SIGTERM, timeout=20)
        if self.test_host is not None:
            self.test_host.close()
        for leftover in glob.glob(f"/etc/tiercel-workloads-{self.token}*"):
            Path(leftover).unlink(missing_ok=True)


# ---- workloads -----------------------------------------------------------------------------------------

class Load(Protocol):
    name: str
    unit: str

    def step(self, remaining: float) -> tuple[int, int]: ...   # one chunk: (work done, failed)


def chunk(rate: float, remaining: float, least: int, most: int) -> int:
    """How much work fills what is left of the time (1 to 5 s of it) at the last chunk's rate."""
    return max(least, min(most, int(rate * min(max(remaining, 1.0), 5.0))))


class Ab:
    def __init__(self, name: str, env: Env, keepalive: bool) -> None:
        self.name, self.unit, self.env, self.keepalive = name, "requests/s", env, keepalive
        self.n = 2000

    def step(self, remaining: float) -> tuple[int, int]:
        t0 = time.monotonic()
        keepalive = ["-k"] if self.keepalive else []
        out = subprocess.run(["ab", "-q", "-r", "-n", str(self.n), "-c", "32", *keepalive,
                              self.env.nginx_url], capture_output=True, text=True).stdout
        elapsed = time.monotonic() - t0

        def num(label: str) -> int:
            m = re.search(rf"^{label}:\s+(\d+)", out, re.M)
            return int(m.group(1)) if m else 0
        done = num("Complete requests")
        self.n = chunk(done / elapsed if elapsed else 0.0, remaining - elapsed, 1000, 2_000_000)
        return done, num("Failed requests") + num("Non-2xx responses") + (0 if done else 1)


class RedisSet:
    def __init__(self, env: Env) -> None:
        self.name, self.unit, self.env, self.n = "redis", "SETs/s", env, 10000

    def step(self, remaining: float) -> tuple[int, int]:
        t0 = time.monotonic()
        run = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(self.env.redis_port),
                              "-t", "set", "-n", str(self.n), "-c", "50", "-q"],
                             capture_output=True, text=True)
        elapsed = time.monotonic() - t0
        ok = run.returncode == 0 and "SET:" in run.stdout
        done = self.n if ok else 0
        self.n = chunk(done / elapsed if elapsed else 0.0, remaining - elapsed, 10000, 5_000_000)
        return done, 0 if ok else 1


class ConnectStorm:
    def __init__(self, env: Env) -> None:
        self.name, self.unit, self.env = "connect", "connects/s", env

    def step(self, remaining: float) -> tuple[int, int]:
        out = subprocess.run([str(self.env.bins / CONNECTOR), "connect", f"{max(remaining, 0.2):.3f}"],
                             capture_output=True, text=True).stdout.split()
        return (int(out[0]), int(out[2])) if len(out) == 3 else (0, 1)


class Build:
    def __init__(self, env: Env) -> None:
        self.name, self.unit, self.env = "build", "files compiled/s", env

    def step(self, remaining: float) -> tuple[int, int]:
        d = str(self.env.project)
        built = subprocess.run(["make", "-s", "-j2", "-C", d], capture_output=True).returncode == 0
        subprocess.run(["make", "-s", "-C", d, "clean"], capture_output=True)
        return (self.env.project_files, 0) if built else (0, 1)


def run_for(load: Load, seconds: float) -> Outcome:
    """Chunks of `load` until `seconds` have passed (at least one)."""
    t0 = time.monotonic()
    count = failed = 0
    while True:
        done, bad = load.step(seconds - (time.monotonic() - t0))
        count, failed = count + done, failed + bad
        elapsed = time.monotonic() - t0
        if elapsed >= seconds or (done == 0 and bad):
            return Outcome(count, elapsed, failed)


@dataclass
class Workload:
    name: str
    unit: str
    seconds: float
    parts: list[Load]        # one, or the mix's

    def run(self) -> Outcome:
        if len(self.parts) == 1:
            return run_for(self.parts[0], self.seconds)
        outcomes: dict[str, Outcome] = {}
        threads = [threading.Thread(target=lambda p=p: outcomes.__setitem__(p.name, run_for(p, self.seconds)))
                   for p in self.parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return Outcome(sum(o.count for o in outcomes.values()),
                       max((o.elapsed_s for o in outcomes.values()), default=0.0),
                       sum(o.failed for o in outcomes.values()),
                       {n: o.rate for n, o in outcomes.items()})


def make_workloads(env: Env, names: list[str], seconds: float, mix_seconds: float) -> list[Workload]:
    loads: dict[str, Load] = {"nginx": Ab("nginx", env, keepalive=False),
                              "nginx-keepalive": Ab("nginx-keepalive", env, keepalive=True),
                              "redis": RedisSet(env), "connect": ConnectStorm(env), "build": Build(env)}
    out = [Workload(n, loads[n].unit, seconds, [loads[n]]) for n in names if n in loads]
    if "mix" in names:  # loads of its own: their chunk sizes are for a CPU shared five ways
        mixed: list[Load] = [Ab("nginx", env, keepalive=False), Ab("nginx-keepalive", env, keepalive=True),
                             RedisSet(env), ConnectStorm(env), Build(env)]
        out.append(Workload("mix", "geometric mean of the rates", mix_seconds, mixed))
    return out


# ---- the attacks ---------------------------------------------------------------------------------------

class Attacker:
    """wl_attacker for the length of one workload; `actions` are those it started."""

    def __init__(self, env: Env, token: str) -> None:
        assert env.test_host is not None
        host, port = env.test_host.target
        self.proc = subprocess.Popen([str(env.bins / ATTACKER), "attack", str(ATTACK_INTERVAL), host,
                                      str(port), token], stdout=subprocess.PIPE)
        self.actions: list[Action] = []
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            kind, index, pid, t_ns = line.split()
            self.actions.append(Action(kind.decode(), int(index), int(pid), int(t_ns) / 1e9))

    def stop(self) -> list[Action]:
        stop_process(self.proc, signal.SIGTERM, timeout=10)
        self.reader.join(5)
        return self.actions
