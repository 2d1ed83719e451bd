"""stdout/stderr output: one alert a line (JSON, or Falco's text `<time>: <Priority> <output>`).

Writes go straight to the file descriptor: Python's text buffering would hide a pipe nobody reads
behind a growing buffer. A blocked write only holds up this output's worker; its queue fills and
what no longer fits is counted dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from tiercel.outputs.base import Format, Item, OutputError, write_lines


class StreamOutput:
    max_retries = 0  # a stream that failed (EPIPE) will not recover

    def __init__(self, fd: int, fmt: Format, name: str = "stdout") -> None:
        self.fd = fd
        self.fmt = fmt
        self.name = name

    def send(self, batch: Sequence[Item]) -> int:
        n, _, why = write_lines(self.fd, [item.line(self.fmt) for item in batch])
        if n == 0:
            raise OutputError(f"{self.name}: write failed: {why}")
        return n

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass  # the process's own stream: never closed here


class TextIOOutput:
    """Alerts to a Python text stream without a file descriptor (an embedding caller's StringIO)."""

    max_retries = 0

    def __init__(self, stream: IO[str], fmt: Format, name: str = "stdout") -> None:
        self.stream = stream
        self.fmt = fmt
        self.name = name

    def send(self, batch: Sequence[Item]) -> int:
        try:
            self.stream.write("".join(item.line(self.fmt).decode() + "\n" for item in batch))
            self.stream.flush()
        except (OSError, ValueError) as e:
            raise OutputError(f"{self.name}: {e}") from e
        return len(batch)

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass
