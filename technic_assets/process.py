"""Settings of the process itself that the long computations want.

A re-screen of 600 sessions (technic_assets.rescreen) allocates and frees a few gigabytes of arrays
per call, most of them columns of 2M rows (16 MB). glibc's malloc serves blocks that large with a
fresh mmap and gives each back on free, so the kernel faults in and zeroes every page of every column
again on the next call: measured, about a fifth of a warm re-screen, and its spread from call to
call. keep_freed_memory asks malloc to serve blocks up to its limit (32 MB) from its heap and to keep
up to `keep` bytes freed at the heap's top rather than hand them back: the next call reuses them. The
cost is a resident size that stays near the process's peak. Long-lived processes that re-screen (the
live page, `technic backtest`) call it once at start; elsewhere it is not worth asking.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # glibc's mallopt parameters (malloc.h)
MMAP_LIMIT = 32 * 1024 * 1024                  # the largest threshold glibc accepts on 64-bit (HEAP_MAX / 2)


def keep_freed_memory(keep: int = 2 * 1024**3) -> bool:
    """Large blocks from malloc's heap, and up to `keep` bytes of freed memory kept there; True where
    it applied (glibc on Linux), False elsewhere (nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_LIMIT)) and bool(libc.mallopt(M_TRIM_THRESHOLD, int(keep)))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt of these)
        return False
