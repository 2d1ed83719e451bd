"""A live `tiercel run` in a subprocess, its JSON alerts collected by a thread, and barriers.

A barrier runs `cat /etc/shadow /nonexistent/<token>`, which tiercel's and upstream's
`Read sensitive file untrusted` both report with the command line; the agent handles events in
order, so once the barrier's alert is in, every alert of what ran before it is in too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# Appended to every alert's output_fields when asked (Falco's append_output): who raised it, up the
# process tree, so that a test can tell its own work's alerts from those of whatever else runs here.
ANCESTRY = ("proc.pid", *(f"proc.apid[{n}]" for n in range(1, 9)))


class Agent:
    def __init__(self, rules: list[Path], extra_fields: tuple[str, ...] = ()) -> None:
        argv = [sys.executable, "-m", "tiercel.cli", "run"]
        for r in rules:
            argv += ["-r", str(r)]
        self.config: Path | None = None
        if extra_fields:
            fd, name = tempfile.mkstemp(suffix=".yaml", prefix="tiercel-test-")
            self.config = Path(name)
            os.write(fd, ("append_output:\n  - extra_fields: [" +
                          ", ".join(f'"{f}"' for f in extra_fields) + "]\n").encode())
            os.close(fd)
            argv += ["-c", name]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.alerts: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.running = False
        threading.Thread(target=self._stdout, daemon=True).start()
        threading.Thread(target=self._stderr, daemon=True).start()
        self._wait(lambda: self.running, 120, "agent start")
        self.barriers = 0

    def _stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.cond:
                self.alerts.append(json.loads(line))
                self.cond.notify_all()

    def _stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if "tiercel: running" in line:
                with self.cond:
                    self.running = True
                    self.cond.notify_all()

    def _wait(self, pred: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"{what}: not reached")
                self.cond.wait(left)

    def barrier(self) -> tuple[int, str]:
        """Run the barrier; return the index just past its alert, and its token."""
        self.barriers += 1
        token = f"/nonexistent/tiercel-barrier-{self.barriers}"
        subprocess.run(["cat", "/etc/shadow", token], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found: list[int] = []

        def seen() -> bool:
            for i in range(len(self.alerts) - 1, -1, -1):
                if token in self.alerts[i].get("output", ""):
                    found.append(i)
                    return True
            return False
        self._wait(seen, 30, f"barrier {token}")
        return found[0] + 1, token

    def wait_alert(self, start: int, rule: str, expected: dict[str, Any], timeout: float,
                   matches: Any) -> bool:
        """Wait for an alert of `rule` matching `expected` after index `start`; False on timeout."""
        try:
            self._wait(lambda: any(x["rule"] == rule and matches(x, expected) for x in self.alerts[start:]),
                       timeout, rule)
        except TimeoutError:
            return False
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.config is not None:
            self.config.unlink(missing_ok=True)
