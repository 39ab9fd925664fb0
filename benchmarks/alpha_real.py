"""Alpha models on real data: walk-forward skill on ../shared/data (US equities 2017-2020).

The same features, labels, purge, embargo and XGBoost settings as the daily pipeline (nothing tuned on
this data): for each month from --start, models for both horizons are trained for its first session on
the signal days before it (at most two years; labels known before it) and score every day of the month.
Per day: Pearson IC, rank IC, top-minus-bottom quintile spread and hit rate against the realized
excess return over the training universe (price >= $5, $500K a day, 200 bars, price CV <= 50%).
Reported: means over days with t-statistics. The file has no fundamentals (those features are
missing) and only symbols still trading in December 2020 (survivorship bias, which flatters nothing
in a cross-sectional IC but is worth knowing).

    python -m benchmarks.alpha_real [--start 2018-07-01] [--end 2020-11-25]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from technic_assets.core.alpha_features import FEATURES, HORIZONS, indicator_panel, training_rows
from technic_assets.core.alpha_model import TrainConfig, predict, train_model
from technic_assets.core.calendar import nyse
from technic_assets.core.cleaning import clean_bars
from technic_assets.core.schema import empty_fundamentals
from technic_assets.core.signal_quality import MEASURES, signal_quality, t_stat
from technic_assets.market.parquet import ParquetMarket

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "market" / "us_equities_daily_2017_2020.parquet"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2018-07-01")
    parser.add_argument("--end", default="2020-11-25")
    args = parser.parse_args()
    market = ParquetMarket(str(DATA), None)
    sessions = nyse().sessions
    t0 = time.perf_counter()
    bars, cleaning = clean_bars(market.daily_bars(pd.Timestamp("2017-01-03"), pd.Timestamp("2020-12-11")))
    history = sessions[(sessions >= "2017-01-03") & (sessions <= "2020-12-11")]
    kinds = market.listings(pd.Timestamp("2020-12-11"))[["symbol", "type", "is_leveraged"]]
    reports = empty_fundamentals().assign(known_from=pd.Series(dtype="datetime64[ns]"))
    rows = training_rows(indicator_panel(bars, history), reports, kinds)
    print(f"{len(bars):,} clean bars ({sum(cleaning.values()):,} handled by the cleaning rules), "
          f"{len(rows):,} training-universe rows, built in {time.perf_counter() - t0:.1f} s")

    test_days = history[(history >= args.start) & (history <= args.end)]
    months = pd.Series(test_days).groupby(test_days.to_period("M")).first()
    config = TrainConfig()
    daily = {h: [] for h in HORIZONS}
    for month_start in months:
        month = test_days[test_days.to_period("M") == month_start.to_period("M")]
        for h in HORIZONS:
            model = train_model(rows, h, config, month_start, sessions)
            scored = rows[rows["date"].isin(month)].dropna(subset=[f"label_{h}"])
            scored = scored.assign(alpha=predict(model.booster, scored[list(FEATURES)]))
            for _, g in scored.groupby("date"):
                daily[h].append(signal_quality(g["alpha"], g[f"label_{h}"]))
        print(f"  {month_start:%Y-%m}: {len(month)} days scored")
    print(f"walk-forward {args.start}..{args.end}, monthly retrain, out of sample:")
    for h in HORIZONS:
        frame = pd.DataFrame(daily[h])
        frame["hit_rate"] -= 0.5  # t-statistic against a coin toss, not against 0
        parts = [f"{m} {frame[m].mean():+.4f} (t {t_stat(frame[m]):.1f})" for m in MEASURES if m != "names"]
        parts[-1] = parts[-1].replace("hit_rate", "hit_rate - 0.5")
        print(f"  alpha_{h}d over {len(frame)} days, {frame['names'].median():.0f} names a day: " + ", ".join(parts))


if __name__ == "__main__":
    main()
