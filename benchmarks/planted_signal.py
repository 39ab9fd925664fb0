"""How strong is the built-in market's planted signal? The yardstick for alpha models (issue 4).

For every session in a span, rank-correlates `SyntheticMarket.true_signal(day)` (the planted
post-earnings drift expected for the next session) with the realized 5-day forward return in excess
of the universe median, starting the session after `day`, over common stocks that traded on every one
of those days. Prints the mean daily rank IC, its t-statistic and the share of positive days.

    python -m benchmarks.planted_signal [--start 2025-01-02] [--end 2025-10-31]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from technic_assets.core.adjust import split_adjust
from technic_assets.core.calendar import sessions
from technic_assets.market.synthetic import SyntheticMarket

HORIZON = 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2025-01-02")
    parser.add_argument("--end", default="2025-10-31")
    args = parser.parse_args()
    market = SyntheticMarket()
    days = sessions(args.start, args.end)
    last = sessions(args.end, pd.Timestamp(args.end) + pd.Timedelta(days=20))[HORIZON]
    bars = split_adjust(market.daily_bars(days[0], last))
    close = bars.pivot(index="date", columns="symbol", values="close")
    all_days = close.index
    ics = []
    for day in days:
        i = all_days.get_loc(day)
        fwd = close.iloc[i + HORIZON] / close.iloc[i] - 1.0
        truth = market.true_signal(day)
        stocks = market.listings(day).query("type == 'stock'")["symbol"]
        frame = pd.DataFrame({"truth": truth, "fwd": fwd}).reindex(stocks).dropna()
        frame["fwd"] -= frame["fwd"].median()
        ics.append(frame["truth"].rank().corr(frame["fwd"].rank()))
    ics = np.array(ics)
    t_stat = ics.mean() / ics.std(ddof=1) * np.sqrt(len(ics))
    print(f"planted signal, {len(ics)} days {args.start}..{args.end}, {HORIZON}-day excess returns")
    print(f"  mean rank IC {ics.mean():.4f} (sd {ics.std(ddof=1):.4f}, t {t_stat:.1f}, positive on {np.mean(ics > 0):.0%} of days)")


if __name__ == "__main__":
    main()
