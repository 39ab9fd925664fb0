"""The shapes every source gives and the store keeps: the columns of listings, bars and fundamentals,
their empty typed frames, and the 11 GICS sectors. Pure, so the core and every source share one copy.
"""

from __future__ import annotations

import pandas as pd

GICS_SECTORS = (
    "Information Technology", "Financials", "Health Care", "Consumer Discretionary", "Industrials",
    "Communication Services", "Energy", "Consumer Staples", "Materials", "Real Estate", "Utilities",
)

LISTING_COLUMNS = ["symbol", "name", "type", "sector", "exchange", "is_leveraged", "listed", "delisted"]
# Bars as traded: `split_ratio` (new shares per old, 1.0 on most days) and `dividend` (the cash per
# share as traded whose ex-date is the bar's date, 0.0 on most days) are the day's corporate actions.
BAR_COLUMNS = ["date", "symbol", "open", "high", "low", "close", "volume", "split_ratio", "dividend"]
FUNDAMENTAL_COLUMNS = [
    "symbol",
    "period_end",
    "published",
    "eps_ttm",
    "book_value_per_share",
    "roe",
    "debt_to_equity",
    "revenue_growth",
    "eps_growth",
    "earnings_surprise",
]


def empty_reports(columns: list[str] = FUNDAMENTAL_COLUMNS) -> pd.DataFrame:
    """No rows, typed as stored: symbol text, the two report dates, every other column float."""
    dtypes = {"symbol": object, "period_end": "datetime64[ns]", "published": "datetime64[ns]"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, float)) for c in columns})


def empty_fundamentals() -> pd.DataFrame:
    """FUNDAMENTAL_COLUMNS with no rows, for sources without fundamentals."""
    return empty_reports(FUNDAMENTAL_COLUMNS)
