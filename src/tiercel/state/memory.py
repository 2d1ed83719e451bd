"""Giving freed heap memory back to the system once a table that grew large has shrunk.

glibc's free() returns memory to the system only from the top of the heap (and whole mmap'd chunks);
what was freed below a chunk still in use stays in the process, counted in its RSS, until
malloc_trim() gives back every free page. After the process table held 10,000 processes and let
them go, that is a few MB (measured on the live agent under bench/soak.py: 117 -> 113 MB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    """glibc, or None where there is none (musl has no malloc_trim)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return libc


def trim_heap() -> bool:
    """Give the heap's free pages back to the system; whether glibc did so. Best effort, never fatal."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
