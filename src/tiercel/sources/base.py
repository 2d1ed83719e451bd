"""The `Source` protocol: what `tiercel run` and `tiercel capture` need from an event source; and
`FilteredSource`, what a source that can keep records in the kernel (the live one) does besides.

Lifecycle: `start()` (compile and attach, or open the file; raises TiercelError with one line on a
host that cannot), `run(duration)` hands events to the sink until the duration is over, the input
ends or `interrupt()` is called, `stop()` releases everything and settles the counters. `stop()` is
safe after a failed or missing `start()`.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from tiercel.common.errors import TiercelError
from tiercel.container.registry import EngineOptions
from tiercel.events.model import Event
from tiercel.probe.filtertables import FilterTables
from tiercel.state.processes import THREAD_TABLE_SIZE

Sink = Callable[[Event], None]


@dataclass
class CaptureOptions:
    duration: float | None = None
    filter_pids: set[int] = field(default_factory=set)
    kernel_headers: str | None = None
    host_proc: Path = Path("/proc")
    syscalls: set[str] | None = None  # None: every syscall tiercel knows
    docker_socket: str | None = None  # None: the first of tiercel.container.docker.SOCKETS found
    containers: bool = True           # ask the container runtime for metadata
    engines: EngineOptions = field(default_factory=EngineOptions)  # container_engines, --cri
    ringbuf_pages: int = 2048         # the ring buffer's size in pages (a power of two)
    thread_table_size: int = THREAD_TABLE_SIZE   # falco_libs.thread_table_size: tasks in the state


@dataclass
class Counters:
    records: int = 0          # records read (kernel records, or capture-file events)
    events: int = 0           # events handed to the sink
    lost: int = 0             # records the kernel had no room for
    decode_errors: int = 0    # records that could not be decoded
    event_errors: int = 0     # events whose state update or sink raised (counted, never fatal)
    filtered: int = 0         # records the kernel filter kept in the kernel (no rule could match)
    coalesced: int = 0        # records the kernel counted into an identical one before them
    repeats_unmatched: int = 0  # coalesced repeats whose first record was lost
    inodes_left_out: int = 0  # files rules name the probe could not know by inode (kf_inodes full)
    lost_by_kind: dict[str, int] = field(default_factory=dict)  # rule, state, clone, exit, fd
    # a capture file's entries and events over the reader's bounds, by what they were (replay)
    not_kept: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """The counts as the one line `run` and `capture` end with."""
        kinds = ", ".join(f"{k} {n}" for k, n in self.lost_by_kind.items() if n)
        not_kept = ", ".join(f"{n} {what}" for what, n in self.not_kept.items())
        inodes = f"; {self.inodes_left_out} named files not known by inode" if self.inodes_left_out else ""
        return (f"tiercel: {self.records} records, {self.events} events, {self.lost} lost in the kernel"
                f"{f' ({kinds})' if kinds else ''}, {self.filtered} kept in the kernel by the filter, "
                f"{self.coalesced} coalesced, "
                f"{self.decode_errors} undecodable, {self.event_errors} failed"
                f"{f'; not kept from the capture (over the reader limits): {not_kept}' if not_kept else ''}"
                f"{inodes}")


class AttachError(TiercelError):
    """Syscalls that could not be attached while running; the ones already attached stay."""

    def __init__(self, syscalls: Set[str], cause: Exception) -> None:
        super().__init__(f"{', '.join(sorted(syscalls))}: {cause}")
        self.syscalls = frozenset(syscalls)


class Source(Protocol):
    @property
    def counters(self) -> Counters:
        """The counts so far (after `stop()`, the final ones), as a copy."""
        ...

    def start(self) -> None: ...

    @property
    def mode(self) -> str:
        """How events are read, in a few words for the start-up line."""
        ...

    def run(self, duration: float | None) -> None:
        """Deliver events until `duration` seconds passed (None: no limit), the input ended or
        `interrupt()` was called."""
        ...

    def interrupt(self) -> None:
        """Make `run` return soon. Safe from a signal handler and from another thread."""
        ...

    def stop(self) -> None: ...

    def attach(self, syscalls: Set[str]) -> frozenset[str]:
        """Start delivering these syscalls too, while running; returns those newly attached.

        The live source attaches the ones it has not attached yet (raising AttachError for those
        the kernel refuses); a capture file has what it has, so replay attaches nothing.
        """
        ...


@runtime_checkable
class FilteredSource(Protocol):
    """A source with a kernel to filter in (a capture file has the events it has)."""

    kernel_fds: bool    # its records carry their fd as the kernel has it: derive() may count on it

    def set_filter(self, tables: FilterTables, enabled: bool = True) -> None:
        """Keep in the kernel the records these tables say no rule could match (`enabled` False:
        keep none, but still keep ring space for the records the state needs). Replaces the
        previous tables without a recompile."""
        ...
