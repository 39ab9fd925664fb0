"""The market-data provider interface that every source implements.

Bars are returned as traded (raw), with `split_ratio` on the ex-date (4.0 for a 4-for-1 split, 0.1 for
a 1-for-10 reverse split, 1.0 otherwise). Adjusting for splits is done as of the scan date when a
history window is read (`core.adjust.split_adjust`), so stored bars never need rewriting when a split
happens and a backfilled date never sees a split from its future.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod

import pandas as pd

LISTING_COLUMNS = ["symbol", "name", "type", "sector", "exchange", "is_leveraged", "listed", "delisted"]
BAR_COLUMNS = ["date", "symbol", "open", "high", "low", "close", "volume", "split_ratio"]
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


class MarketDataProvider(ABC):
    """A source of listings, daily bars and point-in-time fundamentals."""

    name: str

    @abstractmethod
    def listings(self, day: dt.date) -> pd.DataFrame:
        """Every listing active on `day` (LISTING_COLUMNS)."""

    @abstractmethod
    def daily_bars(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Raw daily bars of every symbol for sessions start..end inclusive (BAR_COLUMNS)."""

    @abstractmethod
    def fundamentals(self, as_of: dt.date) -> pd.DataFrame:
        """Each symbol's latest report published on or before `as_of` (FUNDAMENTAL_COLUMNS)."""
