"""A tiercel agent started as a subprocess (binary, installed package or container), its stdout
read line by line in a thread so tests can wait for a given alert with a deadline."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any


class AgentProcess:
    def __init__(self, argv: list[str], ready: str = "tiercel: running") -> None:
        self.argv, self.ready = argv, ready
        self.lines: list[tuple[float, str]] = []  # (wall-clock receipt time, stdout line)
        self.err: list[str] = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        self._threads = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(self.ready in e for e in self.err):
                return
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise AssertionError(f"agent exited {self.proc.returncode}: {self.describe()}")
            time.sleep(0.1)
        raise AssertionError(f"agent not ready in {timeout} s: {self.describe()}")

    def alerts(self) -> list[tuple[float, dict[str, Any]]]:
        out = []
        for t, line in list(self.lines):
            if line.startswith("{"):
                try:
                    out.append((t, json.loads(line)))
                except ValueError:
                    continue
        return out

    def wait_alert(self, rule: str, timeout: float, **fields: str) -> tuple[float, dict[str, Any]]:
        """The first alert of `rule` whose output_fields contain `fields` (values as substrings)."""
        end = time.monotonic() + timeout
        while True:
            for t, a in self.alerts():
                of = a.get("output_fields", {})
                if a.get("rule") == rule and all(v in str(of.get(k)) for k, v in fields.items()):
                    return t, a
            if time.monotonic() > end:
                raise AssertionError(f"no {rule!r} alert with {fields} in {timeout} s: {self.describe()}")
            time.sleep(0.05)

    def describe(self) -> str:
        return (f"{' '.join(self.argv)}\nstderr:\n" + "\n".join(self.err[-30:])
                + "\nstdout (last lines):\n" + "\n".join(line for _, line in self.lines[-10:]))

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(5)
        return self.proc.returncode
