"""Core scan benchmark: filter to ranked top N from a warm DuckDB store with two years of bars.

For each universe size, a child process writes two years of the built-in market's bars into a fresh
DuckDB file; another child then times, `repeat` times, (a) reading the 300-session window from the
store and (b) the pure core scan (adjust, indicators, filter, factors, regime, scores, rank), and
reports its peak resident memory. Target (issue 2): 6,000 symbols in 1.0 s median, under 1 GB.

    python -m benchmarks.core_scan [--symbols 1000 3000 6000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

DAY = "2025-11-20"
ETFS = 303  # plain, sector and leveraged ETFs the built-in market always has
LISTED_SHARE = 0.92  # of the stocks ever listed, those listed on the benchmark day


def stocks_for(symbols: int) -> int:
    """Stocks to simulate so that about `symbols` listings are active on DAY."""
    return max(round((symbols - ETFS) / LISTED_SHARE), 50)


def build_store(path: str, symbols: int) -> None:
    import duckdb

    from technic_assets.core.calendar import sessions_back
    from technic_assets.market.synthetic import SyntheticMarket

    market = SyntheticMarket(n_stocks=stocks_for(symbols))
    window = sessions_back(DAY, 504)
    bars = market.daily_bars(window[0], window[-1])
    conn = duckdb.connect(path)
    conn.execute("CREATE SCHEMA technic").fetchall()
    conn.register("bars", bars)
    conn.execute("CREATE TABLE technic.price_bars AS SELECT * FROM bars ORDER BY date, symbol").fetchall()
    conn.close()
    print(json.dumps({"rows": len(bars), "sessions": int(bars["date"].nunique())}))


def time_scan(path: str, symbols: int, repeat: int) -> None:
    import duckdb
    import pandas as pd

    from technic_assets.core.calendar import sessions_back
    from technic_assets.core.indicators import LOOKBACK
    from technic_assets.core.pipeline import run_core_scan
    from technic_assets.market.synthetic import SyntheticMarket

    market = SyntheticMarket(n_stocks=stocks_for(symbols))
    day = pd.Timestamp(DAY)
    universe, fundamentals = market.listings(day), market.fundamentals(day)
    start = sessions_back(DAY, LOOKBACK)[0].to_pydatetime()
    read_s, scan_s = [], []
    for _ in range(repeat + 1):  # the first round warms caches and is dropped
        t0 = time.perf_counter()
        conn = duckdb.connect(path, read_only=True)
        bars = conn.execute("SELECT * FROM technic.price_bars WHERE date >= ? AND date <= ? ORDER BY symbol, date",
                            [start, day.to_pydatetime()]).fetchdf()
        conn.close()
        t1 = time.perf_counter()
        result = run_core_scan(bars, universe, fundamentals, day)
        t2 = time.perf_counter()
        read_s.append(t1 - t0)
        scan_s.append(t2 - t1)
        n_bars, n_filtered = len(bars), len(result.filtered)
        del bars, result  # one window alive at a time, as in a real run
        gc.collect()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"listings": len(universe), "filtered": n_filtered, "bars_in_window": n_bars,
                      "read_s": read_s[1:], "scan_s": scan_s[1:], "peak_rss_mb": peak_mb}))


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.core_scan", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarize(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f})"


def main(sizes: list[int], repeat: int) -> None:
    print(f"core scan on {os.cpu_count()} cores, {repeat} timed runs each, day {DAY}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "store.duckdb")
            built = _child("--build", path, "--symbols", str(n))
            r = _child("--time", path, "--symbols", str(n), "--repeat", str(repeat))
            total = [a + b for a, b in zip(r["read_s"], r["scan_s"])]
            print(f"{r['listings']:>5} listings ({r['filtered']} after filter, {built['sessions']} sessions stored, "
                  f"{r['bars_in_window']:,} bars read)")
            print(f"      core scan     {summarize(r['scan_s'])}")
            print(f"      read + scan   {summarize(total)}")
            print(f"      peak RSS      {r['peak_rss_mb']:.0f} MB (whole process, imports included)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, nargs="+", default=[1000, 3000, 6000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--build")
    parser.add_argument("--time")
    args = parser.parse_args()
    if args.build:
        build_store(args.build, args.symbols[0])
    elif args.time:
        time_scan(args.time, args.symbols[0], args.repeat)
    else:
        main(args.symbols, args.repeat)
