"""A virtual clock for the HTTP client, its rate limiter and the fake Polygon server.

It offers what `technic_assets.market.http.CLOCK` (the `time` module) offers them: `monotonic()`,
`sleep(seconds)` and `time()`. Time stands still until someone sleeps; `sleep` returns at once and
moves the time on by its seconds. It is shared by every thread: sleeps taken at the same moment in
several threads add up, so virtual time runs at least as fast as any one thread's waits (deadlines
come no later than in real time). A real socket timeout takes real time and none of this clock's.
"""

from __future__ import annotations

import threading
import time


class FakeClock:
    def __init__(self, start: float = 1_000.0):
        self._lock = threading.Lock()
        self._now = start
        self._epoch = time.time() - start  # time() is the real epoch time at creation, moved on by the sleeps
        self.sleeps: list[float] = []  # every sleep, in order

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        return self._epoch + self.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")  # as time.sleep
        with self._lock:
            self._now += seconds
            self.sleeps.append(seconds)
        time.sleep(0)  # let the other threads run, as a real sleep would

    @property
    def slept(self) -> float:
        """Seconds slept in all, by every thread."""
        with self._lock:
            return sum(self.sleeps)
