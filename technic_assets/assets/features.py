"""Features: indicators over each symbol's history window, the smart filter, factors and the regime."""

from __future__ import annotations

from functools import partial

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, Failure, MetadataValue, Output, asset

from technic_assets.assets.common import (
    DAILY,
    STORE_METADATA,
    history_window,
    markdown_table,
    partition_label,
    previous_metadata,
    range_metadata,
    require_rows,
    scan_days,
    schema,
    screen_rows,
    screened,
    timed,
)
from technic_assets.config import ScanSettings
from technic_assets.core.calendar import nyse
from technic_assets.core.factors import FACTORS, factors_for_days
from technic_assets.core.indicators import INDICATOR_COLUMNS, LOOKBACK, indicators_for_days
from technic_assets.core.peers import month_start, neutral_groups
from technic_assets.core.quality_checks import finite_where_history_suffices
from technic_assets.core.regime import regime_for_days
from technic_assets.core.schema import BAR_COLUMNS
from technic_assets.core.universe_filter import REASONS, NothingPassed, filter_days
from technic_assets.rescreen import peers_for
from technic_assets.screens import Screens
from technic_assets.storage import StoreResource


def bars_window(context, store: StoreResource, days: list[pd.Timestamp], columns: list[str]) -> pd.DataFrame:
    """The stored bars of the LOOKBACK sessions ending on each of `days`.

    Why from the store and not a windowed partition mapping on price_bars: a price_bars partition
    already guarantees its day's whole window is stored (it fills what is missing), so the graph's
    edge is same-day; a 300-session mapping would make Dagster's asset backfill expand three days
    into the 300 sessions downstream of them."""
    return store.history.read_span("price_bars", history_window(context, days[0])[0], days[-1], columns)


@asset(
    **DAILY,
    group_name="features",
    kinds={"duckdb", "talib"},
    deps=["price_bars"],
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "symbol": "string",
                                           "last_date": "date of the symbol's last bar",
                                           "n_bars": "bars in the window",
                                           **{c: "float" for c in INDICATOR_COLUMNS},
                                           "split_unverified": "a split in the window its price gap contradicts"})},
    check_specs=[AssetCheckSpec("indicators_finite", asset="indicators",
                                description="finite wherever the symbol has a full history window")],
    description=(
        f"TA-Lib indicators for every listing, over the {LOOKBACK} sessions ending on the day, split-"
        "adjusted as of the day. NaN where a symbol's history is too short. A range of days is one "
        "TA-Lib pass per symbol over the whole span."
    ),
)
def indicators(context, universe: pd.DataFrame, store: StoreResource):
    days = scan_days(context)
    price_bars = bars_window(context, store, days, BAR_COLUMNS)
    require_rows(universe, "universe", partition_label(context))
    require_rows(price_bars, "price_bars", partition_label(context))
    with timed() as t:
        ind = indicators_for_days(price_bars, pd.DatetimeIndex(days), nyse().sessions)
        ind = ind.merge(universe[["date", "symbol"]], on=["date", "symbol"])
    yield Output(ind, metadata={
        **range_metadata(days), "rows": len(ind), "bars_read": len(price_bars),
        "full_history_symbols": int((ind["n_bars"] >= LOOKBACK).sum()),
        "split_unverified_symbols": int(ind["split_unverified"].sum()), "seconds": t["seconds"],
    })
    passed, details = finite_where_history_suffices(ind)
    yield AssetCheckResult(check_name="indicators_finite", passed=passed, metadata=details)


@asset(
    **DAILY,
    group_name="features",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({
        "date": "timestamp", "screen": "saved screen", "symbol": "string", "name": "string",
        "type": "stock | ETF", "sector": "string", "exchange": "string", "close": "float", "adv_20": "$ per day",
        "n_bars": "bars in the window"})},
    description=(
        "The smart filter: invalid tickers, leveraged/inverse ETFs, halted names, short histories, "
        "closes under $5, 20-day dollar volume under $500K, price CV over 50%, and sectors outside the "
        "user's list (default: the 8 most liquid GICS sectors). Counts per reason in the metadata."
    ),
)
def filtered_universe(context, universe: pd.DataFrame, indicators: pd.DataFrame, scan: ScanSettings,
                      screens: Screens):
    days = scan_days(context)
    require_rows(universe, "universe", partition_label(context))
    kept, meta = {}, {}
    for screen in screens.resolve(scan):
        try:
            kept[screen.name], totals, sectors = filter_days(universe, indicators, days, screen.settings.filter_settings())
        except NothingPassed as exc:
            raise Failure(description=f"screen {screen.name!r}: {exc}",
                          metadata={f"dropped_{r}": exc.counts[r] for r in REASONS}) from None
        if not meta:  # the first screen's counts, and every screen's size
            meta = {**{f"dropped_{r}": totals[r] for r in REASONS}, "sectors_kept": ", ".join(sectors)}
        meta[f"after_{screen.name}"] = len(kept[screen.name])
    out = screened(kept)
    return Output(out, metadata={**range_metadata(days), "before": len(universe), "after": len(out),
                                 "screens": ", ".join(kept), **meta})


@asset(
    **DAILY,
    group_name="features",
    kinds={"duckdb", "pandas"},
    deps=["price_bars"],
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "screen": "saved screen", "symbol": "string",
                                           "sector": "string",
                                           **{f: "sector-neutral z-score, clipped at +-3" for f in FACTORS}})},
    description=(
        "Momentum (12-1, 6 and 3 month), value, quality, growth (fundamentals published on or before the "
        "day), trend, volatility and liquidity: winsorized, sector-neutral z-scores over the filtered "
        "universe, weighted by the trade style."
    ),
)
def factors(context, filtered_universe: pd.DataFrame, indicators: pd.DataFrame, fundamentals: pd.DataFrame,
            store: StoreResource, scan: ScanSettings, screens: Screens):
    days = scan_days(context)
    splits = bars_window(context, store, days, ["date", "symbol", "split_ratio"])
    frames, meta = {}, {}
    sessions = nyse().sessions
    cached, fresh = previous_metadata(context, "peer_groups"), {}  # a month's groups, {group: [symbols]}
    for screen in screens.resolve(scan):
        groups = None
        if screen.settings.peer_groups:
            months = {d: f"{month_start(d, sessions):%Y-%m-%d}" for d in days}
            missing = [d for d in days if months[d] not in cached and months[d] not in fresh]
            fitted = peers_for(store.history, pd.DatetimeIndex(missing), sessions) if missing else {}
            for d in missing:
                fresh[months[d]] = {g: list(v.index) for g, v in fitted[d].groupby(fitted[d], sort=True)}
            groups = {}
            for d in days:
                mapping = fresh.get(months[d]) or cached.get(months[d]) or {}
                peers = pd.Series({sym: g for g, syms in mapping.items() for sym in syms}, dtype=object)
                groups[d] = partial(neutral_groups, peers=peers)
        frames[screen.name], missing = factors_for_days(screen_rows(filtered_universe, screen.name), indicators,
                                                        fundamentals, splits, screen.settings.style, groups)
        meta = meta or {"style": screen.settings.style, **{f"set_neutral_{k}": v for k, v in missing.items()}}
    out = screened(frames)
    used = {m: fresh.get(m) or cached.get(m) for m in {f"{month_start(d, sessions):%Y-%m-%d}" for d in days}}
    return Output(out, metadata={**range_metadata(days), "rows": len(out), **meta,
                                 "peer_groups": MetadataValue.json({m: g for m, g in used.items() if g})})


@asset(
    **DAILY,
    group_name="features",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({
        "date": "timestamp", "risk": "risk_on | neutral | risk_off", "risk_score": "-3..3",
        "trend": "uptrend | mixed | downtrend", "volatility": "calm | normal | stressed",
        "credit": "benign | neutral | stress", "rates": "rising | stable | falling",
        "leadership": "growth | broad", "missing_etfs": "regime ETFs absent that day"})},
    description="Trend, volatility, credit and rates states from SPY, QQQ, HYG, LQD, SHY, TLT, IEF and VIXY.",
)
def market_regime(context, indicators: pd.DataFrame):
    days = scan_days(context)
    frame = regime_for_days(indicators, days)
    tags = frame[["risk", "trend", "volatility", "credit", "rates", "leadership"]]
    return Output(frame, metadata={**range_metadata(days), **tags.iloc[-1].to_dict(),
                                   "summary": MetadataValue.md(markdown_table(tags.tail(10)).value)})
