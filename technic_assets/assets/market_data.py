"""Market data: the day's universe, the local store of bars (filled back as far as the scan and its
models need) and point-in-time fundamentals, all read through the store-backed market."""


from pathlib import Path

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, Config, Output, asset
from pydantic import Field

from technic_assets.assets.alpha import sessions_for_training
from technic_assets.assets.common import (
    DAILY,
    STORE_METADATA,
    first_partition,
    history_window,
    provider_report,
    range_metadata,
    record_fill,
    scan_days,
    schema,
    timed,
)
from technic_assets.config import AlphaSettings, ScanSettings
from technic_assets.core.calendar import DATE_FMT, sessions
from technic_assets.core.quality_checks import SHRINK_FLOOR, bars_sane, shrunk_days, unique_keys
from technic_assets.core.schema import BAR_COLUMNS
from technic_assets.core.universe_filter import is_valid_ticker
from technic_assets.market.factory import label as source_label
from technic_assets.resources import MarketResource
from technic_assets.screens import Screens

UNIVERSE_SCHEMA = {
    "date": "timestamp", "symbol": "string", "name": "string", "type": "stock | ETF",
    "sector": "GICS sector, or ETF", "exchange": "string", "is_leveraged": "leveraged or inverse ETF",
    "listed": "timestamp", "delisted": "timestamp (null while listed)", "valid_ticker": "bool",
    "source": "the data source the day was read from (simulated, file NAME, polygon)",
}
BARS_SCHEMA = {
    "date": "timestamp", "symbol": "string", "open": "float, as traded", "high": "float",
    "low": "float", "close": "float", "volume": "shares, as traded",
    "split_ratio": "new shares per old on the ex-date, else 1",
    "dividend": "cash dividend per share as traded on its ex-date, else 0",
}


def refuse_mixing(store, source: str) -> None:
    """One store, one source: a day of the simulated market beside a day of a file would be ranked,
    compared (changes) and evaluated as one history. An error naming both before anything is written."""
    other = sorted(set(store.history.sources().values()) - {source})
    if other:
        raise ValueError(f"the store {store.path} holds days read from {', '.join(other)}, and this scan reads "
                         f"{source}: keep each source in a store of its own (TECHNIC_DUCKDB_PATH, or TECHNIC_STORE)")


def source_name(market: str) -> str:
    """The source as an error names it: the file's full path, or the market's name."""
    if market.startswith("parquet:"):
        return f"market file {str(Path(market.removeprefix('parquet:')).expanduser())!r}"
    return f"the {source_label(market)} market"


def refuse_shrinking(store, table: str, counts: dict[pd.Timestamp, int], market: str, what: str) -> None:
    """A day whose new rows are fewer than SHRINK_FLOOR of those the store holds for it (a truncated
    file, a header-only export) would replace the stored day with a sliver of it: an error naming the
    source, the day and both counts, raised before anything of the day is written."""
    shrunk = shrunk_days(store.history.rows_per_date(table, list(counts)), counts)
    if shrunk:
        day, before, now = shrunk[0]
        raise ValueError(
            f"{source_name(market)} has {now:,} {what} for {day:{DATE_FMT}}, against {before:,} in the store "
            f"({store.path}): fewer than {SHRINK_FLOOR:.0%}, so it is taken for truncated and the stored day is "
            "kept; fix the file (or the source), or keep a smaller market in a store of its own "
            "(TECHNIC_DUCKDB_PATH)" + (f"; {len(shrunk) - 1} more day(s) shrank too" if len(shrunk) > 1 else ""))


@asset(
    **DAILY,
    group_name="market_data",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema(UNIVERSE_SCHEMA)},
    description="Every listing active on the day, from the market-data provider.",
)
def universe(context, market: MarketResource, scan: ScanSettings, screens: Screens) -> Output[pd.DataFrame]:
    # `scan` and `screens` are here so the settings and the screens file are checked before this first writer runs
    screens.resolve(scan)
    days = scan_days(context)
    for day in days:
        history_window(context, day)  # refuse a date too early for a scan before anything is written
    source = source_label(market.market)
    refuse_mixing(market.store, source)
    provider = market.provider()
    before = provider.cache_stats()
    listings = pd.concat([provider.listings(day).assign(date=day) for day in days], ignore_index=True)
    listings = listings[["date", *[c for c in listings.columns if c != "date"]]].assign(source=source)
    listings["valid_ticker"] = listings["symbol"].map(is_valid_ticker)
    counts = listings.groupby("date").size()
    refuse_shrinking(market.store, "universe", {day: int(counts.get(day, 0)) for day in days}, market.market,
                     "listings")
    return Output(listings, metadata={
        **range_metadata(days),
        "rows": len(listings),
        "stocks": int((listings["type"] == "stock").sum()),
        "etfs": int((listings["type"] == "ETF").sum()),
        "invalid_tickers": int((~listings["valid_ticker"]).sum()),
        "stocks_without_sector": int(((listings["type"] == "stock") & (listings["sector"] == "Unknown")).sum()),
        **provider_report(context, provider, before),
    })


class PriceBarsConfig(Config):
    replace_bars: bool = Field(default=False, description=(
        "Read the run's own days' bars from the source again, replacing those the store holds (a corrected "
        "file); refused when the source has fewer than half the stored bars of a day. `technic scan "
        "--replace-bars`."))


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
        "scan date) and cash dividends on their ex-dates (the track record's total returns). On an empty or partial store, this fills in every session the scan's history "
        "window and the alpha models' training lack, in one fetch, and records each as a "
        "materialization of its own partition; a warm store fetches nothing it already has."
    ),
)
def price_bars(context, config: PriceBarsConfig, market: MarketResource, scan: ScanSettings, alpha: AlphaSettings,
               screens: Screens):
    screens.resolve(scan)  # a screens file in error fails the run before the first write
    refuse_mixing(market.store, source_label(market.market))  # nor are another source's bars filled in
    days = scan_days(context)
    window = sessions(history_window(context, days[0])[0], days[-1])
    provider = market.provider()
    training = sessions_for_training(days, alpha, market.store.models, first_partition(context))
    with timed() as t:
        before = provider.cache_stats()
        fill = provider.fill(sorted(set(window) | set(training)), returned=days,
                             reread=days if config.replace_bars else ())
        record_fill(context, fill)
        today = fill.returned
    empty = sorted(set(days) - set(pd.DatetimeIndex(today["date"].unique())))
    if empty:
        raise ValueError(f"the {market.market} market returned no bars for "
                         + ", ".join(d.strftime(DATE_FMT) for d in empty[:5]) + (" ..." if len(empty) > 5 else ""))
    today = today[BAR_COLUMNS].sort_values(["date", "symbol"]).reset_index(drop=True)
    counts = today.groupby("date").size()
    refuse_shrinking(market.store, "price_bars", {day: int(counts.get(day, 0)) for day in days}, market.market,
                     "bars")
    yield Output(today, metadata={
        **range_metadata(days),
        "rows": len(today),
        "history_sessions_filled": len(fill.stored),
        "sessions_fetched": len(fill.fetched),
        **provider_report(context, provider, before),
        "store_hits_sessions": len(set(window) | set(training) | set(days)) - len(fill.fetched),
        "splits_today": int((today["split_ratio"] != 1.0).sum()),
        "dividends_today": int((today["dividend"] != 0.0).sum()),
        **{f"cleaned_{k}": v for k, v in fill.cleaning.items()},
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
    description=("Each stock's latest quarterly report published on or before the day (point in time); none "
                 "when the source has no fundamentals (value, quality and growth then score neutral)."),
)
def fundamentals(context, market: MarketResource, scan: ScanSettings, screens: Screens) -> Output[pd.DataFrame]:
    screens.resolve(scan)
    days = scan_days(context)
    for day in days:
        history_window(context, day)
    provider = market.provider()
    before = provider.cache_stats()
    reports = provider.fundamentals_for_days(days)
    reports = reports[["date", *[c for c in reports.columns if c != "date"]]]
    stale = (reports["date"] - pd.to_datetime(reports["published"])).dt.days > 200
    # no reports (a plan without financials, a file without them): value, quality and growth score
    # neutral, and the provider's warnings below say why
    return Output(reports, metadata={**range_metadata(days), "rows": len(reports),
                                     "fundamentals_neutral": bool(reports.empty),
                                     "reports_older_than_200_days": int(stale.sum()),
                                     "filing_days_fetched": provider.filing_days_fetched,
                                     **provider_report(context, provider, before)})
