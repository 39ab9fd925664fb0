"""What a scan of one day will ask of a rate-limited source, before it asks: `technic plan`, and the
scan's first progress line.

On Polygon's free tier (5 requests a minute) a first scan is hours of requests; saying how many and how
long up front is the difference between a wait and a hang. The counts come from the store, as the fill
will see it: one grouped-daily request per session it lacks (the scan's LOOKBACK window and the
models' training history), the splits and dividends over them, the listing pages, the sector lookups the run may
spend, and the days of filings not fetched yet. No request is made to count them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from technic_assets.assets.alpha import sessions_for_training
from technic_assets.core.calendar import sessions_back
from technic_assets.core.fundamentals import FILINGS_DAYS
from technic_assets.core.indicators import LOOKBACK
from technic_assets.market.factory import is_remote

LISTINGS_PAGE = 1000  # tickers per page of /v3/reference/tickers
FILINGS_PAGE = 100  # filings per page of /vX/reference/financials


@dataclass
class RequestPlan:
    day: pd.Timestamp
    source: str
    remote: bool  # False: a local source, which makes no requests
    rate_per_minute: int
    sessions_needed: int
    sessions_missing: int
    listing_pages: int | None  # None: no stored universe to count from
    sector_lookups: int | None  # None: one per stock without a stored sector, uncapped
    stocks_without_sector: int | None
    filing_days: int

    @property
    def requests(self) -> int:
        """The fewest requests the scan makes (pages beyond the first are not counted)."""
        if not self.remote:
            return 0
        return (self.sessions_missing + (2 if self.sessions_missing else 0) + (self.listing_pages or 1)
                + (self.sector_lookups or 0) + (1 if self.filing_days else 0))

    @property
    def minutes(self) -> float | None:
        return self.requests / self.rate_per_minute if self.rate_per_minute else None

    def summary(self) -> str:
        if not self.remote:
            return f"{self.source} is read locally: no requests ({self.sessions_missing:,} sessions of bars to store)"
        at = (f", about {_duration(self.minutes)} at {self.rate_per_minute} a minute" if self.minutes is not None
              else " (no rate limit set)")
        return (f"{self.source} will get at least {self.requests:,} requests{at}: {self.sessions_missing:,} "
                f"sessions of bars, {self.sector_lookups or 0:,} sector lookups, the listings and "
                f"{self.filing_days:,} days of filings")

    def lines(self) -> list[str]:
        if not self.remote:
            return [f"Plan for {self.day:%Y-%m-%d}: {self.summary()}"]
        sectors = (f"{self.sector_lookups:,} ticker-detail requests at most this run, the most liquid first"
                   if self.sector_lookups is not None else "one request per stock without a stored sector")
        if self.stocks_without_sector is not None:
            sectors += f" ({self.stocks_without_sector:,} stocks in the latest stored universe have none)"
        else:
            sectors += " (no universe stored yet: every stock)"
        return [
            f"Plan for {self.day:%Y-%m-%d} on {self.source}:",
            f"  bars        {self.sessions_missing:,} of {self.sessions_needed:,} sessions missing from the store: "
            f"one request each" + (", and the splits and the dividends over them" if self.sessions_missing else ""),
            "  listings    " + (f"{self.listing_pages} page(s) of {LISTINGS_PAGE:,} tickers"
                                if self.listing_pages else "1 page or more (no stored universe to count from)"),
            f"  sectors     {sectors}",
            f"  financials  {self.filing_days:,} days of filings not fetched yet: 1 request or more "
            f"({FILINGS_PAGE} filings a page)" if self.filing_days else "  financials  all fetched",
            f"  in all      {self.summary()}",
        ]


def plan_scan(day: pd.Timestamp, market, alpha, first: pd.Timestamp) -> RequestPlan:
    """The requests a scan of `day` makes through `market` (a configured MarketResource), with `alpha`
    (AlphaSettings) deciding the training history and `first` the first partition."""
    day = pd.Timestamp(day)
    history, source = market.store.history, market.source()
    needed = sorted(set(sessions_back(day, LOOKBACK))
                    | set(sessions_for_training([day], alpha, market.store.models, first)))
    present = history.dates_present("price_bars", needed[0], needed[-1])
    latest = history.query("universe", "SELECT type, sector FROM technic.universe WHERE date = "
                           "(SELECT max(date) FROM technic.universe WHERE date <= ?)", [day.to_pydatetime()])
    pages = math.ceil(len(latest) / LISTINGS_PAGE) if latest is not None and len(latest) else None
    unknown = (int(((latest["type"] == "stock") & (latest["sector"] == "Unknown")).sum())
               if latest is not None and len(latest) else None)
    remote = is_remote(source.name)  # the others are files or built in: nothing to ration
    lookups = 0 if not remote or source.sector_map else source.sector_lookups
    if lookups is not None and unknown is not None:
        lookups = min(lookups, unknown)
    elif lookups is None:
        lookups = unknown  # uncapped: one per stock without a sector (None: every stock, count unknown)
    gaps = history.filing_gaps(day - pd.Timedelta(days=FILINGS_DAYS), day) if source.provides_filings else []
    return RequestPlan(day=day, source=source.name, remote=remote, rate_per_minute=market.rate_per_minute if remote else 0,
                       sessions_needed=len(needed), sessions_missing=len([d for d in needed if d not in present]),
                       listing_pages=pages, sector_lookups=lookups, stocks_without_sector=unknown,
                       filing_days=sum((b - a).days + 1 for a, b in gaps))


def _duration(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
