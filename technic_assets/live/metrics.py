"""`technic serve`'s Prometheus metrics at /metrics, with the official client (prometheus_client).

Each app has its own CollectorRegistry (tests and two servers in one process never share counts).
What is measured as it happens:

    technic_screen_seconds{endpoint}          histogram: answer time of /api/top, /api/screen, /api/symbol
    technic_rescan_seconds                    histogram: the feed's rescans (engine.on_rescan)
    technic_cache_hits_total{cache}           the screen cache (a screen already computed for the version
    technic_cache_misses_total{cache}         and settings) and the answer cache (its JSON text)

the client's standard process_* and python_info series, and what is read from the state when
Prometheus scrapes (a custom collector, so nothing can drift):

    technic_feed_lag_seconds                  now - the served version's as_of (as /healthz's lag_s)
    technic_feed_state{state}                 1 for the feed's current state (off, live, stale, ...)
    technic_streams_open                      open Server-Sent Events streams
    technic_versions_published_total          versions published since start (the stored day is version 1)
    technic_version                           the served version's number
"""

from __future__ import annotations

import time

import pandas as pd
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, PlatformCollector,
                               ProcessCollector, generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.responses import Response

SCREEN_PATHS = {"/api/top": "top", "/api/screen": "screen"}  # and /api/symbol/...: "symbol"
# answer times run from a cached JSON text (well under a millisecond) to a first screen (tens of ms)
SCREEN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
RESCAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServeMetrics:
    """The server's instruments on a registry of their own; `watch(service)` adds what is read at scrape."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = CollectorRegistry() if registry is None else registry
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, process_resident_memory_bytes, ...
        PlatformCollector(registry=self.registry)  # python_info
        self.screen_seconds = Histogram("technic_screen_seconds", "Time to answer a screen request.",
                                        ["endpoint"], buckets=SCREEN_BUCKETS, registry=self.registry)
        self.rescan_seconds = Histogram("technic_rescan_seconds", "Time of a rescan of the cross-section on new "
                                        "forming bars.", buckets=RESCAN_BUCKETS, registry=self.registry)
        self.cache_hits = Counter("technic_cache_hits", "Answers served from a cache.", ["cache"],
                                  registry=self.registry)
        self.cache_misses = Counter("technic_cache_misses", "Answers computed because no cache had them.",
                                    ["cache"], registry=self.registry)
        for cache in ("screen", "answer"):  # present from the start, at 0
            self.cache_hits.labels(cache)
            self.cache_misses.labels(cache)

    def cache(self, cache: str, hit: bool) -> None:
        (self.cache_hits if hit else self.cache_misses).labels(cache).inc()

    def watch(self, service) -> None:
        """Read the service's engine and streams at each scrape; time the engine's rescans and count its
        screen cache; `unwatch` at shut-down (an engine may outlive the app)."""
        self._state = StateCollector(service)
        self.registry.register(self._state)
        self._hooks = (self.rescan_seconds.observe, lambda hit: self.cache("screen", hit))
        service.engine.on_rescan.append(self._hooks[0])
        service.engine.on_screen_cache.append(self._hooks[1])

    def unwatch(self, service) -> None:
        self.registry.unregister(self._state)
        service.engine.on_rescan.remove(self._hooks[0])
        service.engine.on_screen_cache.remove(self._hooks[1])

    async def endpoint(self, request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class StateCollector:
    """What the engine and the stream slots hold now, as metric families (read when scraped)."""

    def __init__(self, service):
        self.service = service

    def describe(self):
        return []  # registering must not call collect(): the engine may still be loading

    def collect(self):
        engine, snap = self.service.engine, self.service.engine.snapshot
        lag = GaugeMetricFamily("technic_feed_lag_seconds", "Seconds since the served data's as_of.")
        lag.add_metric([], (pd.Timestamp.now(tz="UTC") - snap.as_of).total_seconds())
        state = GaugeMetricFamily("technic_feed_state", "The live feed's state (1 for the current one).",
                                  labels=["state"])
        state.add_metric([str(engine.feed.get("state", "unknown"))], 1.0)
        streams = GaugeMetricFamily("technic_streams_open", "Open Server-Sent Events streams.")
        streams.add_metric([], float(self.service.slots.count()))
        published = CounterMetricFamily("technic_versions_published", "Versions published since the start "
                                        "(beyond the stored day's).")
        published.add_metric([], float(snap.version - 1))
        version = GaugeMetricFamily("technic_version", "The served version's number.")
        version.add_metric([], float(snap.version))
        return [lag, state, streams, published, version]


class TimeScreens:
    """ASGI middleware: each screen request's answer time into technic_screen_seconds{endpoint}."""

    def __init__(self, app, metrics: ServeMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        endpoint = SCREEN_PATHS.get(path) or ("symbol" if path.startswith("/api/symbol/") else None)
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.metrics.screen_seconds.labels(endpoint).observe(time.perf_counter() - started)
