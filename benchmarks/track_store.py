"""Track record from the store, issue 20's three speed figures, at 600 sessions of 6,000 symbols:

  stored     the record of a stored screen (technic backtest's read and compute), asked
             again in one process (the live page's case: the bars' Market is kept)     target 1 s
  other      the same record at another cost each time (5, 25, 0, 10 bps in turn), in one process:
             the live page keeps each answer, so a new ask differs in its cost or horizon
  cold       the same, everything kept dropped first, in memory and in files (a changed store)
  settings   new settings over the same sessions: re-screen every day, then evaluate; every timed
             call asks settings this process never saw (another style, minimum price and top N
             each time, new_settings), timed three times:                            target 5 s
               written: nothing kept, in memory or in files beside the store (the first call
                        after a write to the store: it reads the span and keeps it in files)
               cold: nothing kept in memory, the span's files beside the store (a fresh process,
                     `technic backtest --style ...`, after an earlier one of this store version)
               warm: in one process that has re-screened these sessions once (the store's inputs
                     kept: technic_assets.rescreen), the live page's "try settings" case
  process    `technic backtest` with new settings in a fresh process, the span's files beside the
             store: the whole command's wall time, Python's start and imports included
  ready      the evening's rescreen_inputs step (track.ready_for_settings of the default screen),
             everything kept dropped first: what it adds to an evening
  evening    the evening track_record step for one day (records_for), everything kept dropped
             first (each Dagster run is a fresh process, after its day's write)        target 2 s
  range      the track_record step of a range run (a backfill): records_for over the
             last --range-days days at once, everything kept dropped first

The store: one day of the 6,000-stock built-in market is scanned through the graph (`technic scan`,
models included); its inputs (listings, indicators, reports, regime, forecasts) are copied to 600
sessions with every indicator multiplied by its own noise (1 + 2% N(0,1)), so each day ranks
differently; the bars are random walks over the 600 sessions and the 300 before them, with rare
splits; the stored screen (filtered universe, MERIT, top 25) is each day re-screened with the default
settings, as the graph would store it. Each figure is timed `repeat` times, from a warm store (the file
read before, in the OS cache).

    python -m benchmarks.track_store [--symbols 6000] [--sessions 600] [--repeat 5] [--store PATH]
                                     [--figures stored other cold settings process ready evening range]
                                     [--range-days 600]

It also runs against an older checkout (PYTHONPATH=that checkout), which may keep no Market and no
files: the before and after of a change come from the same script on the same store.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DAY = "2025-11-20"
COPIED = ("universe", "indicators", "fundamentals", "market_regime", "alpha_forecasts", "alpha_model")


def scanned_day(path: Path, stocks: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNIC_") and k != "DAGSTER_HOME"}
    env.update(TECHNIC_DUCKDB_PATH=str(path), TECHNIC_SYNTHETIC_STOCKS=str(stocks))
    technic = str(Path(sys.executable).with_name("technic"))
    done = subprocess.run([technic, "scan", "--date", DAY, "--quiet"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"technic scan failed: {done.stderr[-2000:]}")


def build(path: Path, stocks: int, sessions_n: int, seed: int = 7) -> pd.DatetimeIndex:
    import duckdb

    from technic_assets.config import ScanSettings
    from technic_assets.core.calendar import sessions_back
    from technic_assets.rescreen import rescreen
    from technic_assets.storage import History

    day_store = path.with_name("day.duckdb")
    scanned_day(day_store, stocks)
    src = duckdb.connect(str(day_store), read_only=True)
    one = {t: src.execute(f"SELECT * FROM technic.{t} WHERE date = ?", [pd.Timestamp(DAY)]).fetchdf() for t in COPIED}
    models = src.execute("SELECT * FROM technic.alpha_models").fetchdf()
    src.close()
    rng = np.random.default_rng(seed)
    days = sessions_back(DAY, sessions_n)
    window = sessions_back(DAY, sessions_n + 300)
    conn = duckdb.connect(str(path))
    conn.execute("CREATE SCHEMA IF NOT EXISTS technic")
    numeric = [c for c in one["indicators"].columns if c not in ("date", "symbol", "last_date", "n_bars")
               and pd.api.types.is_float_dtype(one["indicators"][c])]
    for name, frame in one.items():
        parts = []
        for d in days:
            part = frame.assign(date=d)
            if name == "indicators":
                part[numeric] = part[numeric].to_numpy() * (1 + 0.02 * rng.standard_normal((len(part), len(numeric))))
                part["last_date"] = d
            parts.append(part)
        whole = pd.concat(parts, ignore_index=True)
        conn.register("frame", whole)
        conn.execute(f"CREATE OR REPLACE TABLE technic.{name} AS SELECT * FROM frame")
        conn.unregister("frame")
    conn.register("frame", models)
    conn.execute("CREATE OR REPLACE TABLE technic.alpha_models AS SELECT * FROM frame")
    symbols = one["universe"]["symbol"].to_numpy()
    t, n = len(window), len(symbols)
    ratio = np.where(rng.random((t, n)) < 0.0003, 2.0, 1.0)
    close = rng.uniform(5, 200, n) * np.exp(np.cumsum(rng.normal(0.0002, 0.02, (t, n)), axis=0)) / np.cumprod(ratio, 0)
    bars = pd.DataFrame({"date": np.repeat(window, n), "symbol": np.tile(symbols, t), "open": close.ravel(),
                         "high": close.ravel(), "low": close.ravel(), "close": close.ravel().round(2),
                         "volume": rng.integers(10_000, 5_000_000, t * n).astype(float), "split_ratio": ratio.ravel()})
    conn.register("frame", bars)
    conn.execute("CREATE OR REPLACE TABLE technic.price_bars AS SELECT * FROM frame")
    conn.close()
    done = rescreen(History(str(path)), days, ScanSettings(), alpha_weight=0.35)
    conn = duckdb.connect(str(path))
    merit = done.scores.rename(columns={"score": "merit_score"}).assign(screen="default")
    top = done.picks.assign(screen="default")
    for name, frame in (("merit", merit), ("filtered_universe", merit[["date", "screen", "symbol"]]), ("ranked_top_n", top)):
        conn.register("frame", frame)
        conn.execute(f"CREATE OR REPLACE TABLE technic.{name} AS SELECT * FROM frame")
    conn.close()
    return days


def new_settings(ScanSettings):
    """Settings never asked before in this process, one after another: each style with a minimum price
    of $8 to $12 and a top N of 20 to 30 (the default's learned blend and peer groups), so no answer a
    page or a cache kept for earlier settings can serve them."""
    styles, prices, tops = ("swing", "medium", "position"), (10.0, 8.0, 12.0, 9.0, 11.0), (25, 20, 30, 22, 28, 24)
    for k in range(len(styles) * len(prices) * len(tops)):
        yield ScanSettings(style=styles[k % 3], min_price=prices[k // 3 % 5], top_n=tops[k // 15 % 6])


def timed(fn, repeat: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each of `repeat` calls: on a shared machine the CPU seconds (this
    process's threads, DuckDB's included) move less with the load than the wall clock."""
    out = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - start, time.process_time() - cpu))
    return out


def summary(name: str, runs: list[tuple[float, float]], target: float) -> str:
    wall, cpu = [w for w, _ in runs], [c for _, c in runs]
    median = statistics.median(wall)
    return (f"{name}: median {median:.2f} s (min {min(wall):.2f}, max {max(wall):.2f}, {len(wall)} runs), CPU "
            f"{statistics.median(cpu):.2f} s (min {min(cpu):.2f}, max {max(cpu):.2f}), target {target:g} s: "
            f"{'met' if median <= target else 'not met'}; load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=6000, help="stocks of the built-in market (plus its ETFs)")
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", help="keep the built store here (and reuse it when it exists)")
    parser.add_argument("--figures", nargs="+",
                        default=["stored", "other", "cold", "settings", "process", "ready", "evening", "range"],
                        help="which of stored, other, cold, settings, process, ready, evening, range to time")
    parser.add_argument("--range-days", type=int, default=600, help="the range run's days (the last ones)")
    args = parser.parse_args()
    from technic_assets import track
    from technic_assets.assets.record import records_for
    from technic_assets.config import ScanSettings
    from technic_assets.core.calendar import sessions_back
    from technic_assets.screens import Screen
    from technic_assets.storage import History
    from technic_assets.track import stored_record

    memory = getattr(track, "forget_market", lambda: None)  # an older checkout keeps nothing
    try:
        from technic_assets.storage.kept_files import discard
    except ImportError:  # an older checkout keeps no files
        def discard(history):
            return None

    tmp = tempfile.mkdtemp()
    path = Path(args.store) if args.store else Path(tmp) / "store.duckdb"
    started = time.perf_counter()
    if not path.exists():
        build(path, args.symbols, args.sessions)
    days = sessions_back(DAY, args.sessions)
    history = History(str(path))

    def forget():  # nothing kept, in memory or beside the store: the first call after a write
        memory()
        discard(history)

    rows = history.query("merit", "SELECT count(*) AS n, count(DISTINCT symbol) AS s FROM technic.merit", [])
    print(f"{len(days)} sessions, {int(rows['s'][0]):,} symbols scored ({int(rows['n'][0]):,} MERIT rows), store "
          f"{path.stat().st_size / 1e6:.0f} MB, ready in {time.perf_counter() - started:.0f} s; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    kw = dict(horizon=5, cost_bps=10.0, benchmark="SPY")
    stored_record(history, "default", None, None, **kw)  # warm the file
    if "stored" in args.figures:
        print(summary("stored screen's record", timed(lambda: stored_record(history, "default", None, None, **kw),
                                                      args.repeat), 1.0))
    if "other" in args.figures:
        costs = iter([5.0, 25.0, 0.0, 10.0] * args.repeat)
        print(summary("stored screen's record at another cost",
                      timed(lambda: stored_record(history, "default", None, None, **{**kw, "cost_bps": next(costs)}),
                            args.repeat), 1.0))
    if "settings" in args.figures:
        fresh = new_settings(ScanSettings)

        def record(before=lambda: None):
            before()
            return stored_record(history, "default", None, None, settings=next(fresh), alpha_weight=0.35, **kw)

        print(summary("new settings, after a write (nothing kept)", timed(lambda: record(forget), args.repeat), 5.0))
        record()  # the span kept in files (where the checkout keeps them)
        print(summary("new settings, cold (a fresh process: nothing kept in memory, the span's files)",
                      timed(lambda: record(memory), args.repeat), 5.0))
        record()  # these sessions re-screened once in this process (kept where the checkout keeps them)
        print(summary("new settings, warm (the store's inputs kept)", timed(record, args.repeat), 5.0))
    if "cold" in args.figures:
        print(summary("stored screen's record, Market not kept",
                      timed(lambda: (forget(), stored_record(history, "default", None, None, **kw)), args.repeat), 1.0))
    if "process" in args.figures:
        fresh = new_settings(ScanSettings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNIC_") and k != "DAGSTER_HOME"}
        env.update(TECHNIC_DUCKDB_PATH=str(path))
        technic = str(Path(sys.executable).with_name("technic"))

        def command():
            ask = next(fresh)
            argv = [technic, "backtest", "--style", ask.style, "--set", f"min_price={ask.min_price}",
                    "--top", str(ask.top_n), "--format", "json"]
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"technic backtest failed: {done.stderr[-2000:]}")

        command()  # the span's files beside the store, as an earlier command of this store version left them
        print(summary("new settings, technic backtest in a fresh process (the span's files)",
                      timed(command, args.repeat), 5.0))
    if "ready" in args.figures:
        from technic_assets.track import ready_for_settings

        (wall, cpu), = timed(lambda: (forget(), ready_for_settings(history, "default", ScanSettings(), horizon=5)), 1)
        print(f"evening rescreen_inputs step: {wall:.1f} s, CPU {cpu:.1f} s; load average {os.getloadavg()[0]:.1f}")
    screens = [Screen("default", ScanSettings())]
    if "evening" in args.figures:
        print(summary("evening track_record step (one day)",
                      timed(lambda: (forget(), records_for(history, [days[-1]], screens)), args.repeat), 2.0))
    if "range" in args.figures:
        chosen = list(days[-args.range_days:])
        (wall, cpu), = timed(lambda: (forget(), records_for(history, chosen, screens)), 1)
        print(f"range run's track_record step, {len(chosen)} days: {wall:.1f} s, CPU {cpu:.1f} s "
              f"({wall / len(chosen):.3f} s a day); "
              f"load average {os.getloadavg()[0]:.1f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if not args.store:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
