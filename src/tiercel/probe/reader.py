"""Ring buffer -> bytes. Each record is copied out of the ring before the callback returns,
because the kernel reuses the memory as soon as it does.

After each poll the reader tells the probe how many ring bytes it has consumed (`ring_acct[1]`): the
probe compares that with what it produced to keep part of the ring for the state's records.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from tiercel.probe.loader import Probe


class RingReader:
    def __init__(self, probe: Probe, on_record: Callable[[bytes], None]) -> None:
        self._bpf: Any = probe.bpf
        self._on_record = on_record
        self.received = 0
        self.consumed = 0           # ring bytes, counted as the probe counts them
        self._acct = self._bpf[b"ring_acct"]
        self._bpf[b"events"].open_ring_buffer(self._callback)

    def _callback(self, _ctx: Any, data: int, size: int) -> int:
        self.received += 1
        self.consumed += (size + 15) & ~7
        self._on_record(ctypes.string_at(data, size))
        return 0

    def _report(self) -> None:
        self._acct[ctypes.c_int(1)] = ctypes.c_uint64(self.consumed)

    def poll(self, timeout_ms: int) -> None:
        """Wait up to timeout_ms for records and hand over every one available. The probe wakes the
        reader only every WAKE_BYTES of records (see probe: send), so what came meanwhile without a
        wakeup is taken once the wait is over."""
        self._bpf.ring_buffer_poll(timeout_ms)
        self._bpf.ring_buffer_consume()
        self._report()

    def drain(self) -> None:
        """Hand over what is left in the ring without waiting."""
        self._bpf.ring_buffer_consume()
        self._report()
