"""Point-in-time fundamentals from quarterly filings, as known on a date.

Only filings published (filed) on or before the date count; of several filings for one quarter the
latest published by then wins (an amendment replaces the original from its filing date on). From each
company's last five quarters:
  eps_ttm               sum of the last four quarters' diluted EPS (NaN with fewer than four)
  book_value_per_share  equity / shares, shares = net income / basic EPS of the latest quarter
  roe                   last four quarters' net income / latest equity (NaN if equity <= 0)
  debt_to_equity        latest liabilities / equity
  revenue_growth        latest quarter's revenues / the same quarter a year before - 1
  eps_growth            the same for diluted EPS (NaN unless the year-ago EPS is positive)
  earnings_surprise     NaN: filings carry no consensus estimate
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from technic_assets.core.schema import FUNDAMENTAL_COLUMNS

FILING_COLUMNS = ["symbol", "period_end", "published", "eps_diluted", "eps_basic", "revenues", "net_income",
                  "equity", "liabilities"]
QUARTERS = 5
FILINGS_DAYS = 460  # five quarters of filings: enough for year-on-year growth


def point_in_time(filings: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each company's fundamentals as known on `as_of` (FUNDAMENTAL_COLUMNS)."""
    known = filings[filings["published"] <= as_of].sort_values(["symbol", "period_end", "published"])
    known = known.drop_duplicates(["symbol", "period_end"], keep="last")
    if known.empty:
        return pd.DataFrame(columns=FUNDAMENTAL_COLUMNS)
    known = known.assign(back=known.groupby("symbol").cumcount(ascending=False))
    recent = known[known["back"] < QUARTERS]
    wide = recent.pivot(index="symbol", columns="back")

    def col(field: str, back: int) -> pd.Series:
        return wide[(field, back)] if (field, back) in wide.columns else pd.Series(np.nan, index=wide.index)

    four = [col("eps_diluted", b) for b in range(4)]
    eps_ttm = sum(four)  # NaN unless all four quarters are there
    income_ttm = sum(col("net_income", b) for b in range(4))
    equity = col("equity", 0)
    shares = col("net_income", 0) / col("eps_basic", 0).replace(0.0, np.nan)
    year_ago_eps = col("eps_diluted", 4)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "period_end": col("period_end", 0), "published": col("published", 0),
            "eps_ttm": eps_ttm,
            "book_value_per_share": equity / shares.where(shares > 0),
            "roe": income_ttm / equity.where(equity > 0),
            "debt_to_equity": col("liabilities", 0) / equity.where(equity > 0),
            "revenue_growth": col("revenues", 0) / col("revenues", 4).where(col("revenues", 4) > 0) - 1,
            "eps_growth": col("eps_diluted", 0) / year_ago_eps.where(year_ago_eps > 0) - 1,
            "earnings_surprise": np.nan,
        })
    out = out.reset_index()
    out["period_end"] = pd.to_datetime(out["period_end"])
    out["published"] = pd.to_datetime(out["published"])
    return out[FUNDAMENTAL_COLUMNS]


def report_history(filings: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Point-in-time fundamentals as they changed from start to end: each symbol's state the day
    before start, then its new state on every day it filed (amendments included), with `known_from`,
    the day the row became known. An as-of join on `known_from` then gives `point_in_time` for any
    date in the span, without calling it once per date."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    first = point_in_time(filings, start - pd.Timedelta(days=1)).assign(known_from=start - pd.Timedelta(days=1))
    frames = [first]
    inside = filings[(filings["published"] >= start) & (filings["published"] <= end)]
    for day, filed in inside.groupby("published"):
        state = point_in_time(filings[filings["symbol"].isin(filed["symbol"].unique())], day)
        frames.append(state.assign(known_from=day))
    return pd.concat(frames, ignore_index=True)
