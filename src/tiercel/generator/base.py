"""What an action is, and the context it runs in (scratch directory, test host, container)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HELPER_NAME = "tiercel-gen"


@dataclass(frozen=True)
class Action:
    name: str
    rule: str                       # the rule the action should trigger, by its exact name
    run: Callable[[Context], dict[str, Any]]  # performs it; returns output fields to expect
    where: str = "host"             # host | container | network
    maturity: str = "stable"        # stable (rules/) | incubating (rules/incubating/)
    available: Callable[[], str | None] = lambda: None  # a reason it cannot run here, or None

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip().splitlines()[0] if self.run.__doc__ else ""


REGISTRY: dict[str, Action] = {}


def action(rule: str, where: str = "host", maturity: str = "stable",
           available: Callable[[], str | None] | None = None
           ) -> Callable[[Callable[[Context], dict[str, Any]]], Callable[[Context], dict[str, Any]]]:
    def register(fn: Callable[[Context], dict[str, Any]]) -> Callable[[Context], dict[str, Any]]:
        name = fn.__name__.replace("_", "-")
        REGISTRY[name] = Action(name, rule, fn, where, maturity, available or (lambda: None))
        return fn
    return register


def helper_python() -> str:
    """A Python interpreter for the helper processes (the real file, not a venv symlink)."""
    exe = sys.executable if "python" in Path(sys.executable).name else shutil.which("python3")
    if not exe:
        raise RuntimeError("the generator needs python3 for its helper processes")
    return os.path.realpath(exe)


@dataclass
class Context:
    """Shared by the actions of one run; `close` removes everything the run created."""

    target: tuple[str, int] | None = None        # outbound actions connect here
    image: str = os.environ.get("TIERCEL_GENERATOR_IMAGE", "tiercel-test/busybox:1")
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tiercel-gen-")))
    container: str | None = None                 # name of the throw-away container, once started
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"{HELPER_NAME}-{os.getpid()}"

    def helper(self, code: str, name: str = HELPER_NAME, args: tuple[str, ...] = ()) -> int:
        """Run Python `code` in a child process whose name (comm) is `name`; return its pid."""
        link = self.scratch / "bin" / name
        link.parent.mkdir(exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(helper_python())
        proc = subprocess.Popen([str(link), "-I", "-S", "-c", code, *args])
        if proc.wait() != 0:
            raise RuntimeError(f"helper {name} failed with status {proc.returncode}")
        return proc.pid

    def run(self, argv: list[str], check: bool = False) -> int:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if proc.wait() != 0 and check:
            raise RuntimeError(f"{argv[0]} failed with status {proc.returncode}")
        return proc.pid

    def close(self) -> None:
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:
                print(f"tiercel generate: cleanup: {e}", file=sys.stderr)
        self.cleanups.clear()
        shutil.rmtree(self.scratch, ignore_errors=True)
