"""Funds in the filtered stock universe of the shared real file, before and after the fund rules of a
code tree (issue 21: KYN, a closed-end fund, was picked as a stock in the test period).

The store that issue 21's figures come from (benchmarks/real_record.py) took 62 minutes to build; this
measures, without it, what the fund typing changes upstream of every ranking: the default screen's
smart filter (core.universe_filter, FilterSettings()) on every session of 2018-07-02 .. 2020-11-30
(issue 21's development and test periods), from ParquetMarket's listings and core.indicators of the same bars, as the
universe and indicators assets compute them. A kept row is a fund when benchmarks/fund_labels.csv
labels it so (hand labels; unlabelled symbols count as stocks). Run it with PYTHONPATH pointing at the
tree to measure (the labels are read from this file's folder, so both trees count by the same labels):

    cd TREE && python -m benchmarks.fund_universe [--data PATH]   (run from the tree measured: -m puts
    the working directory first on sys.path)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from technic_assets.core.indicators import indicators_for_days
from technic_assets.core.universe_filter import FilterSettings, filter_days
from technic_assets.market.parquet import ParquetMarket

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[0].parent / "shared" / "data" / "market" / "us_equities_daily_2017_2020.parquet"
LABELS = HERE / "fund_labels.csv"
SPAN = ("2018-07-02", "2020-11-30")
TEST_START = pd.Timestamp("2019-07-01")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA))
    args = parser.parse_args()
    import technic_assets
    print(f"code: {Path(technic_assets.__file__).parents[1]}")
    labels = pd.read_csv(LABELS, keep_default_na=False).set_index("symbol")["label"]
    market = ParquetMarket(args.data)
    started, cpu = time.perf_counter(), time.process_time()
    bars = market.daily_bars(pd.Timestamp("2017-01-03").date(), pd.Timestamp(SPAN[1]).date())
    sessions = pd.DatetimeIndex(sorted(bars["date"].unique()))
    inside = sessions[(sessions >= SPAN[0]) & (sessions <= SPAN[1])]
    days = inside
    universe = pd.concat([market.listings(d.date()).assign(date=d) for d in days], ignore_index=True)
    indicators = indicators_for_days(bars, days, sessions)
    kept, counts, _ = filter_days(universe, indicators, days, FilterSettings())
    kept["label"] = kept["symbol"].map(labels).fillna("unlabelled")
    funds = kept[kept["label"] == "fund"]
    print(f"{len(days)} days ({days[0]:%Y-%m-%d} .. {days[-1]:%Y-%m-%d}), {time.perf_counter() - started:.0f} s wall, "
          f"{time.process_time() - cpu:.0f} s CPU; filter drops as 'etf': {counts['etf']}, "
          f"'leveraged_or_inverse': {counts['leveraged_or_inverse']}")
    for name, part in (("development", kept["date"] < TEST_START), ("test", kept["date"] >= TEST_START)):
        f = funds[part[funds.index]]
        print(f"  {name}: {int(part.sum())} kept rows, {len(f)} of them labelled funds "
              f"({f['symbol'].nunique()} symbols)")
    days_kept = {s: int(n) for s, n in funds["symbol"].value_counts().sort_index().items()}
    print(f"  funds kept (symbol: days): {days_kept}")
    print(f"  'other' kept: {sorted(kept.loc[kept['label'] == 'other', 'symbol'].unique())}")


if __name__ == "__main__":
    main()
