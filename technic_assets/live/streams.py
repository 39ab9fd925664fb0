"""What keeps greedy clients from starving the feed: stream slots, the screen pool, and stalled streams.

    slots = StreamSlots(limits)            # concurrent streams per client address and in all
    refusal = slots.take(address)          # None, or (status, message): 429 for one client, 503 for all
    pool = ScreenPool(engine, workers=2)   # per-client screens on a few low-priority threads
    await pool.run(engine.screen, settings)
    EventStream(events(), stall_seconds=30, on_close=...)   # an SSE response that drops a stalled client

A stream costs a connection and, for settings no one else asked for, a screen of every version: 40
streams with 40 settings each took a worker thread per version and cut published versions from 5/s to
0.45/s (issue 24). Here every per-client screen (a stream's, /api/screen's, /api/symbol's, a chart) runs on
a ScreenPool: a fixed number of threads, each lowered in CPU priority (nice +10 where the system allows it)
and each waiting while the feed's rescan runs before it starts, so the rescan and the event loop
(/healthz) come first, and 40 settings queue behind 2 threads rather than 40. Screens of equal settings
are shared (the server's single flight, the engine's cache), so 50 clients of one setting cost one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

from starlette.responses import StreamingResponse

log = logging.getLogger("technic.serve")
RESCAN_WAIT_SECONDS = 2.0  # a per-client screen waits at most this long for a rescan to end (no starvation)


class StreamSlots:
    """Counts open streams per client address and in all; refuses one over either limit."""

    def __init__(self, *, total: int, per_client: int):
        self.total, self.per_client = total, per_client
        self.open: Counter = Counter()
        self._lock = threading.Lock()

    def take(self, address: str) -> tuple[int, str] | None:
        """A slot for a stream from `address` (taken: None), or the refusal: (status, message)."""
        with self._lock:
            if self.open[address] >= self.per_client:
                return 429, (f"too many streams from {address}: {self.per_client} are open (the limit per "
                             "client, TECHNIC_SERVE_MAX_STREAMS_PER_CLIENT); close one or retry later")
            if sum(self.open.values()) >= self.total:
                return 503, (f"the server has {self.total} streams open, its limit (TECHNIC_SERVE_MAX_STREAMS); "
                             "retry later")
            self.open[address] += 1
            return None

    def give_back(self, address: str) -> None:
        with self._lock:
            self.open[address] -= 1
            if self.open[address] <= 0:
                del self.open[address]

    def count(self) -> int:
        with self._lock:
            return sum(self.open.values())


def _lower_priority() -> None:
    """This thread's CPU priority lowered by 10 (Linux sets a thread's own nice value with its id)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10))
    except (AttributeError, OSError):  # another system, or not permitted: the order of the queue remains
        pass


class ScreenPool:
    """Per-client computations on `workers` threads below the feed: each job waits while the engine's
    rescan runs (at most RESCAN_WAIT_SECONDS) before it starts. `most` is the most jobs ever run at once."""

    def __init__(self, engine, workers: int, *, rescan_wait: float = RESCAN_WAIT_SECONDS):
        self.engine, self.workers, self.rescan_wait = engine, workers, rescan_wait
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="technic-screen",
                                            initializer=_lower_priority)
        self._lock = threading.Lock()
        self.running = self.most = 0

    def submit(self, fn, *args, **kwargs) -> Future:
        """fn(*args, **kwargs) queued for a worker, once no rescan runs."""
        return self._executor.submit(self._job, fn, args, kwargs)

    async def run(self, fn, *args, **kwargs):
        """fn(*args, **kwargs) on a worker, awaited from the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def _job(self, fn, args, kwargs):
        self.engine.wait_for_rescan(self.rescan_wait)
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self.running -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class EventStream(StreamingResponse):
    """Server-Sent Events that drop a client which cannot take an event for `stall_seconds`, and call
    `on_close` once the response ends however it ends (its stream slot is given back).

    A client that stops reading fills the socket's buffers; uvicorn's `send` then waits until it reads
    again. After `stall_seconds` of waiting the stream ends: the events iterator is closed (its
    subscription with it) and the connection is closed unfinished (uvicorn logs "ASGI callable returned
    without completing response" and closes it), so a stalled client holds neither a slot nor memory."""

    def __init__(self, content, *, stall_seconds: float, on_close=None, client: str = "", **kwargs):
        super().__init__(content, **kwargs)
        self.stall_seconds, self.on_close, self.client = stall_seconds, on_close, client
        self.stalled = False

    async def stream_response(self, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for chunk in self.body_iterator:
            if not isinstance(chunk, (bytes, memoryview)):
                chunk = chunk.encode(self.charset)
            try:
                await asyncio.wait_for(send({"type": "http.response.body", "body": chunk, "more_body": True}),
                                       self.stall_seconds)
            except asyncio.TimeoutError:
                self.stalled = True
                log.warning("dropped the stream of %s: it took no event for %.0f s (TECHNIC_SERVE_STALL_SECONDS)",
                            self.client or "a client", self.stall_seconds)
                await self.body_iterator.aclose()
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.on_close is not None:
                self.on_close()
