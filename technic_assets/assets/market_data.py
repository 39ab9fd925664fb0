"""Market data: the day's universe, the local store of bars (filled back as far as a scan needs) and
point-in-time fundamentals."""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, Output, asset

from technic_assets.assets.common import (DAILY, STORE_METADATA, fill_history, history_window, provider_report,
                                          range_metadata, scan_days, schema, timed)
from technic_assets.core.fundamentals import FILINGS_DAYS, point_in_time
from technic_assets.core.quality_checks import bars_sane, unique_keys
from technic_assets.core.universe_filter import is_valid_ticker
from technic_assets.market.base import BAR_COLUMNS
from technic_assets.partitions import DATE_FMT, sessions
from technic_assets.resources import MarketResource, ScanSettings
from technic_assets.store import StoreResource

FILINGS_SETTLE_DAYS = 3

UNIVERSE_SCHEMA = {
    "date": "timestamp", "symbol": "string", "name": "string", "type": "stock | ETF",
    "sector": "GICS sector, or ETF", "exchange": "string", "is_leveraged": "leveraged or inverse ETF",
    "listed": "timestamp", "delisted": "timestamp (null while listed)", "valid_ticker": "bool",
}
BARS_SCHEMA = {
    "date": "timestamp", "symbol": "string", "open": "float, as traded", "high": "float",
    "low": "float", "close": "float", "volume": "shares, as traded",
    "split_ratio": "new shares per old on the ex-date, else 1",
}


@asset(
    **DAILY,
    group_name="market_data",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema(UNIVERSE_SCHEMA)},
    description="Every listing active on the day, from the market-data provider.",
)
def universe(context, market: MarketResource, store: StoreResource, scan: ScanSettings) -> Output[pd.DataFrame]:
    # `scan` is here so its settings are validated before this first writer runs.
    days = scan_days(context)
    for day in days:
        history_window(day)  # refuse a date too early for a scan before anything is written
    provider = market.provider()
    before = provider.cache_stats()
    known = store.latest_sectors(days[0])
    frames = []
    for day in days:
        listings = provider.listings(day, known_sectors=known)
        known.update(listings.loc[listings["sector"] != "Unknown"].set_index("symbol")["sector"].to_dict())
        listings.insert(0, "date", day)
        frames.append(listings)
    listings = pd.concat(frames, ignore_index=True)
    listings["valid_ticker"] = listings["symbol"].map(is_valid_ticker)
    return Output(listings, metadata={
        **range_metadata(days),
        "rows": len(listings),
        "stocks": int((listings["type"] == "stock").sum()),
        "etfs": int((listings["type"] == "ETF").sum()),
        "invalid_tickers": int((~listings["valid_ticker"]).sum()),
        **provider_report(context, provider, before),
    })


@asset(
    **DAILY,
    group_name="market_data",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema(BARS_SCHEMA)},
    check_specs=[
        AssetCheckSpec("bars_sane", asset="price_bars",
                       description="0 < low <= min(open, close) <= max(open, close) <= high; volume >= 0"),
        AssetCheckSpec("unique_date_symbol", asset="price_bars", description="(date, symbol) is unique"),
    ],
    description=(
        "The local store of daily bars, as traded, with split ratios (indicators adjust them as of the "
        "scan date). On an empty or partial store, this fills in every session the scan's history "
        "window lacks and records each as a materialization of its own partition; a warm store "
        "fetches nothing it already has."
    ),
)
def price_bars(context, market: MarketResource, store: StoreResource, scan: ScanSettings):
    days = scan_days(context)
    window = sessions(history_window(days[0])[0], days[-1])
    with timed() as t:
        present = store.dates_present("price_bars", window[0], days[-1])
        missing = [d for d in window if d not in present and d not in days]
        need = [d for d in days if d not in present]
        provider = market.provider()
        before = provider.cache_stats()
        fetched, cleaning = fill_history(context, store, provider, missing, extra=need)
        kept = [d for d in days if d in present]
        today = pd.concat([fetched[fetched["date"].isin(need)]]
                          + ([store.read_dates("price_bars", kept)] if kept else []), ignore_index=True)
    empty = sorted(set(days) - set(today["date"]))
    if empty:
        raise ValueError(f"the {market.source} market returned no bars for "
                         + ", ".join(d.strftime(DATE_FMT) for d in empty[:5]) + (" ..." if len(empty) > 5 else ""))
    today = today[BAR_COLUMNS].sort_values(["date", "symbol"]).reset_index(drop=True)
    yield Output(today, metadata={
        **range_metadata(days),
        "rows": len(today),
        "history_sessions_filled": len(missing),
        "sessions_fetched": len(missing) + len(need),
        **provider_report(context, provider, before),
        "store_hits_sessions": len(present),
        "splits_today": int((today["split_ratio"] != 1.0).sum()),
        **{f"cleaned_{k}": v for k, v in cleaning.items()},
        "seconds": t["seconds"],
    })
    passed, details = bars_sane(today)
    yield AssetCheckResult(check_name="bars_sane", passed=passed, metadata=details)
    passed, details = unique_keys(today)
    yield AssetCheckResult(check_name="unique_date_symbol", passed=passed, metadata=details)


@asset(
    **DAILY,
    group_name="market_data",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({
        "date": "timestamp", "symbol": "string", "period_end": "quarter end", "published": "filing date",
        "eps_ttm": "trailing 12-month EPS, per share at publication", "book_value_per_share": "float",
        "roe": "return on equity", "debt_to_equity": "float", "revenue_growth": "year on year",
        "eps_growth": "year on year", "earnings_surprise": "standardized unexpected earnings"})},
    description="Each stock's latest quarterly report published on or before the day (point in time).",
)
def fundamentals(context, market: MarketResource, store: StoreResource, scan: ScanSettings) -> Output[pd.DataFrame]:
    days = scan_days(context)
    for day in days:
        history_window(day)
    provider = market.provider()
    before = provider.cache_stats()
    fetched_days = 0
    if provider.provides_filings:
        filings, fetched_days = stored_filings(store, provider, days[0] - pd.Timedelta(days=FILINGS_DAYS), days[-1])
    frames = []
    for day in days:
        if provider.provides_filings:  # the same FILINGS_DAYS a one-day run reads
            reports = point_in_time(filings[filings["published"] >= day - pd.Timedelta(days=FILINGS_DAYS)], day)
        else:
            reports = provider.fundamentals(day)
        reports.insert(0, "date", day)
        frames.append(reports)
    reports = pd.concat(frames, ignore_index=True)
    stale = (reports["date"] - reports["published"]).dt.days > 200
    return Output(reports, metadata={**range_metadata(days), "rows": len(reports),
                                     "reports_older_than_200_days": int(stale.sum()),
                                     "filing_days_fetched": fetched_days,
                                     **provider_report(context, provider, before)})


def stored_filings(store: StoreResource, provider, start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """Filings published start..end, fetched only for days the store (L2) has not covered yet; the
    last few days are asked again on every run, as late filings for them may still arrive.
    Returns (the filings, calendar days fetched)."""
    settled = end - pd.Timedelta(days=FILINGS_SETTLE_DAYS)
    fetched_days = 0
    for first, last in store.filing_gaps(start, end):
        store.replace_filings(provider.filings(first, last), first, last, covered_through=settled)
        fetched_days += (last - first).days + 1
    return store.read_filings(start, end), fetched_days
