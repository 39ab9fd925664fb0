"""Intraday rescan benchmark: one new minute of bars for the whole 6,000-symbol built-in market.

A fresh store gets the evening scan of DAY - 1 (`technic scan`, alpha off so no model is trained),
the live engine loads it, and DAY's official bars are cut into minute bars (live.replay). Then, for
`minutes` consecutive minutes of the session, it times:

- update: the incremental indicators of the forming day (IntradayIndicators.update), alone;
- update + rescan: that and the engine's re-filter and re-rank of the whole cross-section, the
  issue's figure (target: 50 ms median, 150 ms p99);
- the alternatives, in the same run: the full recompute (indicators_for_days over the 300-session
  window with the forming bar, i.e. TA-Lib per symbol) + rescan; and TA-Lib 0.8's streaming handles
  (talib.stream, opened on each symbol's window, `peek` per symbol and indicator per minute) for the
  six EMA-type indicators alone, beside the numpy step that computes all 25.

    python -m benchmarks.live_rescan [--symbols 6000] [--minutes 120] [--full 7]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
import pandas as pd

PREV, DAY = "2025-11-19", "2025-11-20"


def spread(label: str, seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1e3
    return (f"{label:32s} median {np.median(ms):8.1f} ms  p99 {np.percentile(ms, 99):8.1f} ms  "
            f"min {ms.min():7.1f}  max {ms.max():7.1f}  (n={len(ms)})")


def build_store(path: str, stocks: int) -> None:
    env = {**os.environ, "TECHNIC_DUCKDB_PATH": path, "TECHNIC_SYNTHETIC_STOCKS": str(stocks),
           "TECHNIC_ALPHA_WEIGHT": "0", "DAGSTER_HOME": os.path.dirname(path)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "technic_assets.cli", "scan", "--date", PREV, "--quiet"], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    print(f"store: the evening scan of {PREV} in {time.perf_counter() - started:.0f} s ({path})", flush=True)


def forming_frames(engine, stocks: int, minutes: int) -> list:
    from technic_assets.live.replay import ReplayFeed
    from technic_assets.market.synthetic import SyntheticMarket

    bars = SyntheticMarket(seed=7, n_stocks=stocks).daily_bars(pd.Timestamp(DAY).date(), pd.Timestamp(DAY).date())
    feed = ReplayFeed(bars, DAY, speed=0, start_minute=100)

    async def take():
        out = []
        async for update in feed.updates():
            out.append(update)
            if len(out) == minutes:
                return out
        return out

    return asyncio.run(take())


class StreamHandles:
    """TA-Lib 0.8's streaming handles (talib.stream) for the EMA-type indicators of every symbol with a
    full seed, opened on its window before the forming day; `peek` gives the next value without
    advancing, the forming bar's. The alternative to the numpy recurrences, timed the same way."""

    def __init__(self, intraday, intraday_window):
        import talib.stream as ts

        from technic_assets.core.adjust import split_adjust, symbol_bounds
        from technic_assets.core.indicators import LOOKBACK

        sessions = intraday.sessions
        first = sessions[sessions.get_loc(intraday.forming_day) - (LOOKBACK - 1)]
        window = intraday_window[intraday_window["date"] >= first]  # the forming day's window without it
        adj = {k: v.to_numpy(np.float64) for k, v in split_adjust(window).items() if k in ("high", "low", "close")}
        starts, _ = symbol_bounds(np.sort(window["symbol"].to_numpy()))
        self.rows, self.handles = [], []
        for k in np.flatnonzero(intraday.fast):
            s, e = starts[k], starts[k] + intraday.n_prefix[k]
            h, l, c = adj["high"][s:e], adj["low"][s:e], adj["close"][s:e]
            self.rows.append(k)
            self.handles.append((ts.EMA(c, 12), ts.EMA(c, 26), ts.RSI(c, 14), ts.MACD(c, 12, 26, 9),
                                 ts.ATR(h, l, c, 14), ts.ADX(h, l, c, 14)))
        self.code = {intraday.symbols[k]: n for n, k in enumerate(self.rows)}

    def update(self, forming: pd.DataFrame) -> np.ndarray:
        out = np.full((len(self.rows), 8), np.nan)
        sym = forming["symbol"].to_numpy()
        h, l, c = (forming[k].to_numpy(np.float64) for k in ("high", "low", "close"))
        for i in range(len(sym)):
            n = self.code.get(sym[i])
            if n is None:
                continue
            e12, e26, rsi, macd, atr, adx = self.handles[n]
            out[n, 0], out[n, 1], out[n, 2] = e12.peek(c[i]), e26.peek(c[i]), rsi.peek(c[i])
            out[n, 3:6] = macd.peek(c[i])
            out[n, 6], out[n, 7] = atr.peek(h[i], l[i], c[i]), adx.peek(h[i], l[i], c[i])
        return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=6000, help="listings wanted (about)")
    parser.add_argument("--minutes", type=int, default=120)
    parser.add_argument("--full", type=int, default=7, help="full recomputes timed")
    parser.add_argument("--store", help="reuse a store holding the scan of PREV")
    args = parser.parse_args(argv)

    from benchmarks.core_scan import stocks_for
    from technic_assets.core.indicators import indicators_for_days
    from technic_assets.live.engine import LiveEngine
    from technic_assets.live.incremental import IntradayIndicators

    stocks = stocks_for(args.symbols)
    tmp = tempfile.mkdtemp(prefix="live_rescan_")
    path = args.store or os.path.join(tmp, "store.duckdb")
    if not args.store:
        build_store(path, stocks)
    t0 = time.perf_counter()
    engine = LiveEngine.load(path, PREV)
    t1 = time.perf_counter()
    intraday = IntradayIndicators(engine.window_bars, engine.day, engine.sessions)
    t2 = time.perf_counter()
    gc.collect()
    tracemalloc.start()  # numpy's buffers are traced: what building the state allocates, and what it keeps
    kept = IntradayIndicators(engine.window_bars, engine.day, engine.sessions)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    print(f"incremental state: {held / 2**20:.0f} MB held, {peak / 2**20:.0f} MB at the peak of building it")
    print(f"engine load {t1 - t0:.2f} s; incremental state {t2 - t1:.2f} s "
          f"({len(intraday.symbols)} symbols, {int(intraday.fast.sum())} on the recurrences)", flush=True)
    updates = forming_frames(engine, stocks, args.minutes + 3)
    print(f"{len(updates[0].forming)} symbols with a forming bar each minute", flush=True)

    upd, both = [], []
    for k, u in enumerate(updates):
        a = time.perf_counter()
        ind = intraday.update(u.forming)
        b = time.perf_counter()
        engine.rescan(ind, as_of=u.as_of, source="replay", ages=u.ages)
        c = time.perf_counter()
        if k >= 3:  # the first ones warm caches
            upd.append(b - a)
            both.append(c - a)

    full = []
    window = engine.window_bars
    for u in updates[: args.full]:
        a = time.perf_counter()
        whole = pd.concat([window, u.forming.assign(date=pd.Timestamp(DAY))], ignore_index=True)
        ind = indicators_for_days(whole, pd.DatetimeIndex([pd.Timestamp(DAY)]), engine.sessions)
        engine.rescan(ind, as_of=u.as_of, source="replay", ages=u.ages)
        full.append(time.perf_counter() - a)

    a = time.perf_counter()
    handles = StreamHandles(intraday, engine.window_bars)
    print(f"talib.stream: {len(handles.rows)} x 6 handles opened in {time.perf_counter() - a:.2f} s", flush=True)
    stream, numpy_ema = [], []
    for u in updates[3:]:
        a = time.perf_counter()
        handles.update(u.forming)
        stream.append(time.perf_counter() - a)
        code = intraday._index.get_indexer(u.forming["symbol"].to_numpy())
        rows = code[(code >= 0) & intraday.fast[code]]
        f = u.forming.set_index("symbol")
        h, l, c, v = (f[k].to_numpy(np.float64) for k in ("high", "low", "close", "volume"))
        g = intraday._gather(rows)  # kept between minutes by update (the layout), so not timed
        a = time.perf_counter()
        intraday._step(g, h[:len(rows)], l[:len(rows)], c[:len(rows)], v[:len(rows)])  # every indicator
        numpy_ema.append(time.perf_counter() - a)

    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    print(spread("incremental update", upd))
    print(spread("incremental update + rescan", both))
    print(spread("full recompute + rescan", full))
    print(spread("talib.stream peek, EMA-type only", stream))
    print(spread("numpy step, all 25 indicators", numpy_ema))
    print(f"median speed-up of update + rescan over the full recompute: x{statistics.median(full) / statistics.median(both):.1f}")


if __name__ == "__main__":
    main()
