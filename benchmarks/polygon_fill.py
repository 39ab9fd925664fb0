"""Filling the store from Polygon: two years from empty, one evening's update, a warm re-run.

A fake Polygon server on loopback serves the whole built-in market (about 6,000 symbols) as Polygon
JSON with 50 ms added to every answer; the client, cleaning and store writes are the ones price_bars
uses. Targets (issue 3): two years from an empty store in 10 s or less with at most (sessions + 10)
requests; an evening's update in at most 3 requests; a warm re-run in 0.

    python -m benchmarks.polygon_fill [--latency 0.05] [--sessions 504]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import pandas as pd

from benchmarks.core_scan import stocks_for
from technic_assets.core.calendar import sessions_back
from technic_assets.market.http import HttpClient, ResponseCache, Stats
from technic_assets.market.polygon import PolygonMarket
from technic_assets.market.stored import StoredMarket
from technic_assets.market.synthetic import SyntheticMarket
from technic_assets.storage import History
from technic_assets_tests.fake_polygon import serve_in_subprocess

DAY = "2025-11-20"
KEY = "bench-key"


def fill(source: PolygonMarket, path: str, days: pd.DatetimeIndex) -> tuple[int, float, int]:
    """What price_bars does for missing sessions: the store-backed market's fill (ask the store, fetch
    the rest, clean, write)."""
    start = time.perf_counter()
    before = source.client.stats.requests
    done = StoredMarket(source, History(path)).fill(list(days))
    return source.client.stats.requests - before, time.perf_counter() - start, sum(done.rows.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--sessions", type=int, default=504)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    window = sessions_back(DAY, args.sessions + 1)
    history, evening = window[:-1], window[-1:]
    base_url, stop = serve_in_subprocess(lambda: SyntheticMarket(n_stocks=stocks_for(6000)), window[0], window[-1],
                                         api_key=KEY, latency=args.latency)
    try:
        cold, evenings, warms = [], [], []
        for _ in range(args.repeat):  # each round starts from a new, empty store
            with tempfile.TemporaryDirectory() as tmp:
                store = os.path.join(tmp, "store.duckdb")
                stats = Stats()
                source = PolygonMarket(HttpClient(base_url, KEY, cache=ResponseCache(stats), stats=stats),
                                       workers=args.workers)
                cold.append(fill(source, store, history))
                evenings.append(fill(source, store, window))
                warms.append(fill(source, store, window))
        secs = [c[1] for c in cold]
        print(f"{len(history)} sessions from an empty store: median {statistics.median(secs):.2f} s "
              f"(min {min(secs):.2f}, max {max(secs):.2f}, {args.repeat} rounds), {cold[0][0]} requests "
              f"(limit {len(history) + 10}), {cold[0][2]:,} bars, {stats.bytes / 2**20:.0f} MiB")
        print(f"evening update ({evening[0]:%Y-%m-%d}): median {statistics.median(e[1] for e in evenings):.2f} s, "
              f"{max(e[0] for e in evenings)} requests (limit 3)")
        print(f"warm re-run: {max(w[0] for w in warms)} requests (limit 0)")
        print(f"latency {args.latency * 1000:.0f} ms per answer, {args.workers} requests in flight, "
              f"server in its own process, {os.cpu_count()} cores", flush=True)
    finally:
        stop()


if __name__ == "__main__":
    main()
