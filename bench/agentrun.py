"""What the live benches share: `tiercel run` as a black box (started on a free loopback web-server
port, waited for, asked for /metrics, stopped), and the small helpers around it.

    agent = AgentProcess("tiercel", ["--stats"], stdout=subprocess.DEVNULL)
    startup_s = agent.start()                # launch() + wait_ready(): raises RuntimeError with stderr
    agent.metrics()["tiercel_alerts_total"]  # /metrics as {sample: value}
    agent.stop()                             # SIGINT, then SIGKILL after the timeout; its exit code
    agent.lines                              # its stderr
    attached_tracepoints(agent.pid)          # the tracepoints its BPF programs are on

Imported by bench/storm_compare.py, bench/workloads.py and bench/soak.py (run as scripts: bench/ is on
sys.path).
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

CHECKOUT = Path(__file__).resolve().parent.parent
TIERCEL = CHECKOUT / ".venv" / "bin" / "tiercel"


def note(msg: str) -> None:
    """A progress line on stderr, prefixed with the bench's name."""
    print(f"{Path(sys.argv[0]).stem}: {msg}", file=sys.stderr, flush=True)


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def wait_stable(value: Callable[[], int], quiet: float = 1.0, cap: float = 30.0, step: float = 0.05) -> float:
    """Wait until value() has not changed for `quiet` seconds (at most `cap`); the time waited."""
    t0 = last_change = time.monotonic()
    last = value()
    while time.monotonic() - last_change < quiet and time.monotonic() - t0 < cap:
        time.sleep(step)
        if (v := value()) != last:
            last, last_change = v, time.monotonic()
    return time.monotonic() - t0


def rss_mb(pid: int | None) -> tuple[float | None, float | None]:
    """(VmHWM, VmRSS) of pid in MB."""
    if pid is None:
        return None, None
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None, None
    kb = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmHWM|VmRSS):\s*(.+)$", text, re.M)}
    return kb.get("VmHWM", 0) / 1024, kb.get("VmRSS", 0) / 1024


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of pid so far, all its threads (/proc/PID/stat utime + stime)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # fields 14 and 15 of stat


class _TaskFdQuery(ctypes.Structure):
    """bpf_attr as BPF_TASK_FD_QUERY reads it (uapi/linux/bpf.h)."""

    _fields_ = [("pid", ctypes.c_uint32), ("fd", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("buf_len", ctypes.c_uint32), ("buf", ctypes.c_uint64), ("prog_id", ctypes.c_uint32),
                ("fd_type", ctypes.c_uint32), ("probe_offset", ctypes.c_uint64),
                ("probe_addr", ctypes.c_uint64)]


BPF_TASK_FD_QUERY = 20
BPF_FD_TYPE_TRACEPOINT = 1
SYS_BPF = {"x86_64": 321, "aarch64": 280}


def attached_tracepoints(pid: int | None) -> list[str]:
    """The tracepoints (`sys_exit_openat`, `sched_process_exec`, ...) that pid's perf-event fds hold
    BPF programs on, as the kernel says (BPF_TASK_FD_QUERY, what `bpftool perf` asks): what an
    agent really attached, whatever its configuration made of its rules."""
    nr = SYS_BPF.get(platform.machine())
    if pid is None or nr is None:
        return []
    libc = ctypes.CDLL(None, use_errno=True)
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) != "anon_inode:[perf_event]":
                continue
        except OSError:  # closed meanwhile
            continue
        buf = ctypes.create_string_buffer(256)
        query = _TaskFdQuery(pid=pid, fd=int(fd.name), buf_len=len(buf), buf=ctypes.addressof(buf))
        if (libc.syscall(nr, BPF_TASK_FD_QUERY, ctypes.byref(query), ctypes.sizeof(query)) == 0
                and query.fd_type == BPF_FD_TYPE_TRACEPOINT):
            names.add(buf.value.decode())
    return sorted(names)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 60) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            note(f"pid {proc.pid} did not stop within {timeout:.0f} s: killed")
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


class LineReader(threading.Thread):
    """Keeps the lines of a stream (tiercel's stderr), so the pipe never fills."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream, self.lines = stream, list[str]()
        self.start()

    def run(self) -> None:
        for line in self.stream:
            self.lines.append(line.decode(errors="replace").rstrip("\n"))


class AgentProcess:
    """`tiercel run ARGS -o webserver.enabled=true -o webserver.listen_port=PORT`; stderr kept
    (`lines`), stdout where `stdout` says (a pipe is the caller's to read: `proc.stdout`)."""

    def __init__(self, name: str, args: list[str], stdout: int | IO[bytes] = subprocess.PIPE) -> None:
        self.name, self.args, self.stdout = name, args, stdout
        self.proc: subprocess.Popen[bytes] | None = None
        self.err: LineReader | None = None
        self.port = 0

    def launch(self) -> subprocess.Popen[bytes]:
        self.port = free_port()
        argv = [str(TIERCEL), "run", *self.args,
                "-o", "webserver.enabled=true", "-o", f"webserver.listen_port={self.port}"]
        self.proc = subprocess.Popen(argv, stdout=self.stdout, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        self.err = LineReader(self.proc.stderr)
        return self.proc

    def wait_ready(self, timeout: float = 180) -> None:
        """Until its `tiercel: running` line or /healthz answers; RuntimeError (and stopped) if it
        exits or is not ready within timeout."""
        proc = self.proc
        assert proc is not None
        wait_for(lambda: self.ready() or proc.poll() is not None, timeout)
        if proc.poll() is not None or not self.ready():
            stop_process(proc, signal.SIGTERM)
            if self.err is not None:
                self.err.join(5)
            raise RuntimeError(f"{self.name} did not start: " + " | ".join(self.lines[-15:]))

    def start(self, timeout: float = 180) -> float:
        """launch() and wait_ready(); the start-up seconds."""
        t0 = time.monotonic()
        self.launch()
        self.wait_ready(timeout)
        return time.monotonic() - t0

    @property
    def lines(self) -> list[str]:
        """Its stderr so far (all of it once stopped)."""
        return self.err.lines if self.err is not None else []

    def ready(self) -> bool:
        if any(line.startswith("tiercel: running") for line in self.lines):
            return True
        try:
            return self.get("/healthz") is not None
        except OSError:
            return False

    def get(self, path: str) -> str | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return r.read().decode() if r.status == 200 else None

    def metrics(self) -> dict[str, float]:
        try:
            return parse_metrics(self.get("/metrics") or "")
        except OSError as e:
            note(f"{self.name}: /metrics: {e}")
            return {}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int | None:
        """Stop it (SIGKILL after timeout) and read the rest of its stderr; its exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        stop_process(proc, sig, timeout)
        if self.err is not None:
            self.err.join(10)
        return proc.returncode
