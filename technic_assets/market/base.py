"""The market-data provider interface that every source implements.

Bars are returned as traded (raw), with `split_ratio` on the ex-date (4.0 for a 4-for-1 split, 0.1 for
a 1-for-10 reverse split, 1.0 otherwise) and `dividend`, the cash dividend per share (as traded) whose
ex-date is the bar's day (0.0 otherwise); a source that knows no dividends gives 0.0. Adjusting for splits is done as of the scan date when a
history window is read (`core.adjust.split_adjust`), so stored bars never need rewriting when a split
happens and a backfilled date never sees a split from its future. Dividends adjust nothing: prices stay
as traded, and the track record (core.track_record) adds each one to its ex-date's return.
"""

from __future__ import annotations

import datetime as dt
import threading
from abc import ABC, abstractmethod

import pandas as pd

from technic_assets.core.calendar import latest_closed_session
from technic_assets.core.schema import empty_fundamentals


class MarketDataProvider(ABC):
    """A source of listings, daily bars and point-in-time fundamentals."""

    name: str
    provides_filings: bool = False  # True: fundamentals are built from `filings`, kept in the store
    rations_sector_lookups: bool = False  # True: a request per symbol, only some a run (listings takes `priority`)

    @abstractmethod
    def listings(self, day: dt.date, known_sectors: dict[str, str] | None = None,
                 priority: list[str] | None = None) -> pd.DataFrame:
        """Every listing active on `day` (LISTING_COLUMNS). `known_sectors` (symbol -> sector, from the
        store) spares a source that looks sectors up one symbol at a time from asking again, and
        `priority` (symbols, most liquid first) says whom it asks first when it cannot ask for all."""

    @abstractmethod
    def daily_bars(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Raw daily bars of every symbol for sessions start..end inclusive (BAR_COLUMNS)."""

    @abstractmethod
    def fundamentals(self, as_of: dt.date) -> pd.DataFrame:
        """Each symbol's latest report published on or before `as_of` (FUNDAMENTAL_COLUMNS)."""

    def report_history(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Every report published start..end plus each symbol's latest one before start
        (FUNDAMENTAL_COLUMNS and `known_from`, the day a row became known), so that `fundamentals(d)`
        for any d in start..end is each symbol's latest row known on or before d. The alpha model's training reads this; sources without
        fundamentals give none (and the model's fundamental features are then missing)."""
        return empty_fundamentals().assign(known_from=pd.Series(dtype="datetime64[ns]"))

    def filings(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Quarterly filings filed from start to end (core.fundamentals.FILING_COLUMNS), for sources
        with `provides_filings`."""
        raise NotImplementedError(f"{type(self).__name__} gives fundamentals directly, not filings")

    def latest_session(self, now: pd.Timestamp) -> str:
        """The latest session whose data is complete at `now` (default: the latest closed one)."""
        return latest_closed_session(now)

    def bars_for_sessions(self, days: list[pd.Timestamp]) -> pd.DataFrame:
        """Raw bars of exactly these sessions; sources that pay per session override this."""
        bars = self.daily_bars(min(days), max(days))
        return bars[bars["date"].isin(days)]

    def cache_stats(self) -> dict[str, int]:
        """Counters of the source's cache layers and requests (none for local sources)."""
        return {}

    def new_warnings(self) -> list[str]:
        """Degradations (such as a cache layer lost) not reported yet; each is returned once."""
        return []


class ProviderError(RuntimeError):
    """A data source could not give what was asked; the message names the endpoint and the date."""


class DatasetUnavailable(ProviderError):
    """The account's plan does not serve this dataset: the caller goes on without it, and says so."""


class Degradations:
    """What a source could not give (a dataset the plan lacks, a capped lookup), said once per endpoint
    until the warnings are next reported: a step reports them as it ends. Thread-safe: a source's
    requests run on a pool."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._said: set[str] = set()

    def note(self, endpoint: str, message: str) -> None:
        """Keep `message` unless `endpoint` was already noted (the first reason given is kept)."""
        with self._lock:
            if endpoint not in self._said:
                self._said.add(endpoint)
                self._pending.append(message)

    def report(self) -> list[str]:
        """The messages noted since the last report, and forget the endpoints."""
        with self._lock:
            out, self._pending = self._pending, []
            self._said.clear()
            return out


def no_fundamentals(why: str) -> str:
    """The warning for a run without fundamentals: why, and what the scan does instead."""
    return (f"{why}; going on without fundamentals: value, quality and growth score neutral "
            "(as for a data file without them)")
