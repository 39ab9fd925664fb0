"""One day's screen_day on a stored day of 6,000 listings (the live engine's one-day rescan), timed
`--repeat` times: wall and CPU medians. Runs on an older checkout too (PYTHONPATH), so the before and
after of a change to the stage functions come from the same script and store.

    python -m benchmarks.screen_day_micro --store PATH [--day 2025-11-20] [--repeat 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--day", default="2025-11-20")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    from technic_assets.config import ScanSettings
    from technic_assets.core.factors import factor_panel
    from technic_assets.core.screen import prepare, screen_day
    from technic_assets.storage import History

    history, day = History(args.store), pd.Timestamp(args.day)
    listed = history.read_span("universe", day, day).drop(columns="date")
    ind = history.read_span("indicators", day, day).drop(columns="date")
    fund = history.read_span("fundamentals", day, day).drop(columns="date")
    fc = (listed[["symbol"]].merge(history.read_span("alpha_forecasts", day, day).drop(columns="date"), on="symbol",
                                   how="left").set_index("symbol")[["alpha_5d", "alpha_10d"]].astype(float))
    panel = factor_panel(listed[["symbol", "sector"]], ind[["symbol"]], fund, pd.DataFrame(
        {"date": pd.Series(dtype="datetime64[ns]"), "symbol": pd.Series(dtype=object), "split_ratio": 1.0}))
    prep = prepare(listed, ind, panel.drop(columns=["symbol", "sector"]).reset_index(drop=True), fc)
    order = np.argsort(np.argsort(listed["symbol"].to_numpy().astype(str), kind="stable"))
    for name, settings in (("hand", ScanSettings(ranking="hand", style="swing", min_price=10.0)),
                           ("default", ScanSettings())):
        screen_day(prep, day, "neutral", settings, order, 0.35)
        wall, cpu = [], []
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            screen_day(prep, day, "neutral", settings, order, 0.35)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        print(f"screen_day ({name}, {len(listed):,} listings): wall median {statistics.median(wall) * 1e3:.1f} ms "
              f"(min {min(wall) * 1e3:.1f}, max {max(wall) * 1e3:.1f}), CPU median {statistics.median(cpu) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
