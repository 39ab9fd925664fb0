"""Features: indicators over each symbol's history window, the smart filter, factors and the regime."""

from __future__ import annotations

import warnings

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetIn,
    Failure,
    MetadataValue,
    Output,
    TimeWindowPartitionMapping,
    asset,
)

from technic_assets.assets.common import STORE_METADATA, markdown_table, require_rows, scan_day, schema, timed
from technic_assets.core.adjust import split_adjust
from technic_assets.core.factors import FACTORS, compute_factors, factor_panel
from technic_assets.core.indicators import INDICATOR_COLUMNS, LOOKBACK, compute_indicators
from technic_assets.core.quality_checks import finite_where_history_suffices, unique_keys
from technic_assets.core.regime import classify_regime
from technic_assets.core.universe_filter import REASONS, smart_filter
from technic_assets.partitions import trading_days
from technic_assets.resources import ScanSettings

with warnings.catch_warnings():  # allow_nonexistent_upstream_partitions is marked beta
    warnings.simplefilter("ignore")
    # Dates too early for a full window are refused by price_bars with a clear message first.
    HISTORY = TimeWindowPartitionMapping(start_offset=-(LOOKBACK - 1), allow_nonexistent_upstream_partitions=True)


@asset(
    partitions_def=trading_days,
    group_name="features",
    kinds={"duckdb", "talib"},
    ins={
        "universe": AssetIn(),
        "price_bars": AssetIn(partition_mapping=HISTORY),
    },
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "symbol": "string",
                                           "last_date": "date of the symbol's last bar",
                                           "n_bars": "bars in the window",
                                           **{c: "float" for c in INDICATOR_COLUMNS}})},
    check_specs=[AssetCheckSpec("indicators_finite", asset="indicators",
                                description="finite wherever the symbol has a full history window")],
    description=(
        f"TA-Lib indicators for every listing, over the {LOOKBACK} sessions ending on the day, split-"
        "adjusted as of the day. NaN where a symbol's history is too short."
    ),
)
def indicators(context, universe: pd.DataFrame, price_bars: pd.DataFrame):
    day = scan_day(context)
    require_rows(universe, "universe", context.partition_key)
    require_rows(price_bars, "price_bars", context.partition_key)
    with timed() as t:
        ind = compute_indicators(split_adjust(price_bars))
        ind = ind[ind["symbol"].isin(universe["symbol"])].reset_index(drop=True)
    ind.insert(0, "date", day)
    yield Output(ind, metadata={
        "rows": len(ind), "bars_read": len(price_bars),
        "full_history_symbols": int((ind["n_bars"] >= LOOKBACK).sum()), "seconds": t["seconds"],
    })
    passed, details = finite_where_history_suffices(ind)
    yield AssetCheckResult(check_name="indicators_finite", passed=passed, metadata=details)


@asset(
    partitions_def=trading_days,
    group_name="features",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({
        "date": "timestamp", "symbol": "string", "name": "string", "type": "stock | ETF",
        "sector": "string", "exchange": "string", "close": "float", "adv_20": "$ per day",
        "n_bars": "bars in the window"})},
    description=(
        "The smart filter: invalid tickers, leveraged/inverse ETFs, halted names, short histories, "
        "closes under $5, 20-day dollar volume under $500K, price CV over 50%, and sectors outside the "
        "user's list (default: the 8 most liquid GICS sectors). Counts per reason in the metadata."
    ),
)
def filtered_universe(context, universe: pd.DataFrame, indicators: pd.DataFrame, scan: ScanSettings):
    day = scan_day(context)
    require_rows(universe, "universe", context.partition_key)
    settings = scan.filter_settings()
    kept, counts, sectors = smart_filter(universe.drop(columns="date"), indicators.drop(columns="date"),
                                         day, settings)
    meta = {"before": len(universe), "after": len(kept), **{f"dropped_{r}": counts[r] for r in REASONS},
            "sectors_kept": ", ".join(sectors)}
    if kept.empty:
        raise Failure(
            description=f"the filter left no symbols on {context.partition_key} "
                        f"(settings: {settings}); dropped per reason: "
                        + ", ".join(f"{k}={v}" for k, v in counts.items() if v),
            metadata=meta,
        )
    out = kept[["symbol", "name", "type", "sector", "exchange", "close", "adv_20", "n_bars"]].copy()
    out.insert(0, "date", day)
    return Output(out, metadata=meta)


@asset(
    partitions_def=trading_days,
    group_name="features",
    kinds={"duckdb", "pandas"},
    ins={
        "filtered_universe": AssetIn(),
        "indicators": AssetIn(),
        "fundamentals": AssetIn(),
        "price_bars": AssetIn(partition_mapping=HISTORY, metadata={"columns": ["date", "symbol", "split_ratio"]}),
    },
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "symbol": "string", "sector": "string",
                                           **{f: "sector-neutral z-score, clipped at +-3" for f in FACTORS}})},
    description=(
        "Momentum (12-1, 6 and 3 month), value, quality, growth (fundamentals published on or before the "
        "day), trend, volatility and liquidity: winsorized, sector-neutral z-scores over the filtered "
        "universe, weighted by the trade style."
    ),
)
def factors(context, filtered_universe: pd.DataFrame, indicators: pd.DataFrame, fundamentals: pd.DataFrame,
            price_bars: pd.DataFrame, scan: ScanSettings):
    day = scan_day(context)
    panel = factor_panel(filtered_universe, indicators, fundamentals, price_bars)
    z, missing = compute_factors(panel, scan.style)
    out = pd.concat([panel[["symbol", "sector", "realized_vol_63", "adv_20"]], z], axis=1)
    out.insert(0, "date", day)
    return Output(out, metadata={"rows": len(out), "style": scan.style,
                                 **{f"set_neutral_{k}": v for k, v in missing.items()}})


@asset(
    partitions_def=trading_days,
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
    regime = classify_regime(indicators)
    frame = pd.DataFrame([{"date": scan_day(context), **regime}])
    tags = {k: regime[k] for k in ("risk", "trend", "volatility", "credit", "rates", "leadership")}
    return Output(frame, metadata={**tags, "summary": MetadataValue.md(
        markdown_table(pd.DataFrame([tags])).value)})
