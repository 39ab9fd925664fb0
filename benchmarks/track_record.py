"""Track record benchmark: the record of one screen over 600 sessions of 6,000 symbols (issue 20's
figure: 1 s or less from a warm store).

The panel is synthetic, made with numpy at that size: random walks with splits, dividends, missing
bars and names that list late or stop trading, over 600 + 253 sessions so that 12-1 momentum has
its year before the first pick day (5.1M bar rows); a filter that passes about 60% of the names each
day (2.2M score rows); the score a noisy 20-session return. Every run computes the whole record: top
25, the universe, SPY, 12-1 momentum and 50 random books, each gross, net and at 0/5/10/25 bps, the
signal at 1/5/10/21 sessions, the by-year table. Timed `repeat` times each, for each horizon:

  market   market_from_bars: the bars and dividends (DataFrames) to the total-return index
  record   track_record with that market built (what each further screen or setting costs)
  whole    track_record from the DataFrames: the figure the issue names

    python -m benchmarks.track_record [--symbols 6000] [--sessions 600] [--horizon 1 5 21] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import time

import numpy as np
import pandas as pd

HISTORY = 253  # sessions of bars before the first pick day: 12-1 momentum's year


def summarize(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f})"


def panel(symbols: int, sessions: int, seed: int = 7):
    """(bars, dividends, scores, universe) as the store would give them, sorted by date and symbol."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2021-01-04", periods=sessions + HISTORY + 2)
    names = np.array(["SPY"] + [f"S{k:05d}" for k in range(symbols - 1)], dtype=object)
    t, n = len(days), len(names)
    log_ret = rng.normal(0.0002, 0.02, (t, n))
    ratio = np.where(rng.random((t, n)) < 0.0005, rng.choice([2.0, 3.0, 0.5], (t, n)), 1.0)
    close = rng.uniform(5, 200, n) * np.exp(np.cumsum(log_ret, axis=0)) / np.cumprod(ratio, axis=0)
    listed = (np.arange(t)[:, None] >= np.where(rng.random(n) < 0.1, rng.integers(0, t, n), 0)) & \
             (np.arange(t)[:, None] < np.where(rng.random(n) < 0.05, rng.integers(0, t, n), t))
    bar = listed & (rng.random((t, n)) > 0.01)
    bar[:, 0] = True  # SPY trades every session
    ti, si = np.nonzero(bar)
    bars = pd.DataFrame({"date": days[ti], "symbol": names[si], "close": close[ti, si].round(2),
                         "split_ratio": ratio[ti, si], "volume": rng.integers(1_000, 1_000_000, len(ti)).astype(float)})
    paid = rng.random(len(ti)) < 0.004
    dividends = pd.DataFrame({"ex_date": days[ti[paid]], "symbol": names[si[paid]],
                              "amount": (close[ti[paid], si[paid]] * 0.005).round(2)})
    picked = (ti >= HISTORY) & (si > 0) & (rng.random(len(ti)) < 0.6)
    k = np.flatnonzero(picked)
    back = np.maximum(ti[k] - 20, 0)
    score = np.log(close[ti[k], si[k]] / close[back, si[k]]) + rng.normal(0, 0.05, len(k))
    scores = pd.DataFrame({"date": days[ti[k]], "symbol": names[si[k]], "score": score})
    return bars, dividends, scores, scores[["date", "symbol"]]


def main(symbols: int, sessions: int, horizons: list[int], repeat: int) -> None:
    from technic_assets.core.track_record import market_from_bars, track_record

    started = time.perf_counter()
    bars, dividends, scores, universe = panel(symbols, sessions)
    print(f"track record on {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}), {repeat} timed runs each: "
          f"{bars['symbol'].nunique():,} symbols, {bars['date'].nunique()} sessions of bars ({len(bars):,} rows), "
          f"{scores['date'].nunique()} pick days ({len(scores):,} score rows), made in {time.perf_counter() - started:.0f} s")
    for horizon in horizons:
        args = dict(horizon=horizon, cost_bps=10, top_n=25, benchmark="SPY", draws=50)
        market_s, record_s, whole_s = [], [], []
        for _ in range(repeat):
            gc.collect()
            t0 = time.perf_counter()
            market = market_from_bars(bars, dividends)
            t1 = time.perf_counter()
            record = track_record(scores, universe, market=market, **args)
            t2 = time.perf_counter()
            market_s.append(t1 - t0)
            record_s.append(t2 - t1)
            gc.collect()
            t3 = time.perf_counter()
            track_record(scores, universe, bars, dividends=dividends, **args)
            whole_s.append(time.perf_counter() - t3)
        top = record.summary["portfolios"]["top_n"]
        print(f"H = {horizon:>2}  ({record.summary['days']} evaluated sessions; top 25 net {top['ann_return']:+.1%} a year, "
              f"turnover {top['turnover']:.1%}, rank IC {record.summary['rank_ic']['mean']:+.4f})")
        print(f"      market   {summarize(market_s)}")
        print(f"      record   {summarize(record_s)}")
        print(f"      whole    {summarize(whole_s)}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (whole process, the panel included)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=6000)
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--horizon", type=int, nargs="+", default=[1, 5, 21])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    main(args.symbols, args.sessions, args.horizon, args.repeat)
