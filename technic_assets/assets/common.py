"""Small helpers shared by the asset modules."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pandas as pd
from dagster import AssetKey, AssetMaterialization, BackfillPolicy, MetadataValue, TableColumn, TableSchema

from technic_assets.core.cleaning import RULES, clean_bars
from technic_assets.market.base import BAR_COLUMNS

from technic_assets.core.indicators import LOOKBACK
from technic_assets.partitions import DATE_FMT, sessions_back, trading_days

STORE_METADATA = {"partition_expr": "date"}
# Every asset is partitioned by trading day and computes a range of days in one run when asked (a
# backfill, or `dagster asset materialize --partition-range A...B`): one run instead of one per day.
DAILY = {"partitions_def": trading_days, "backfill_policy": BackfillPolicy.single_run()}


def partition_label(context) -> str:
    """'2025-06-02', or '2025-06-02...2025-06-30' for a range."""
    keys = context.partition_keys
    return keys[0] if len(keys) == 1 else f"{keys[0]}...{keys[-1]}"


def scan_days(context) -> list[pd.Timestamp]:
    """The days this run computes: one for a daily run, many for a single-run backfill."""
    return [pd.Timestamp(k) for k in context.partition_keys]


def by_day(frame: pd.DataFrame, days: list[pd.Timestamp]) -> dict[pd.Timestamp, pd.DataFrame]:
    """Split a frame loaded for a range into each day's rows (an empty frame for a day without)."""
    groups = dict(tuple(frame.groupby("date", sort=False))) if len(frame) else {}
    return {d: groups.get(d, frame.iloc[:0]) for d in days}


def range_metadata(days: list[pd.Timestamp]) -> dict:
    return {"days": len(days)} if len(days) == 1 else {
        "days": len(days), "first_day": days[0].strftime(DATE_FMT), "last_day": days[-1].strftime(DATE_FMT)}


def history_window(day: pd.Timestamp) -> pd.DatetimeIndex:
    """The LOOKBACK sessions ending on `day`; an error naming the date when they predate the store."""
    first = pd.Timestamp(trading_days.get_first_partition_key())
    window = sessions_back(day, LOOKBACK)
    if window[0] < first or len(window) < LOOKBACK:
        keys = trading_days.get_partition_keys()
        earliest_scan = keys[LOOKBACK - 1] if len(keys) >= LOOKBACK else "none yet"
        raise ValueError(
            f"scan date {day:{DATE_FMT}} needs {LOOKBACK} sessions of history but partitions start on "
            f"{first:{DATE_FMT}} (TECHNIC_START_DATE); the first date that can be scanned is {earliest_scan}"
        )
    return window


def require_rows(frame: pd.DataFrame, asset: str, partition: str) -> None:
    """An upstream partition that was never built loads as an empty frame; say so instead of
    computing on nothing (a backfill of only some assets can get here)."""
    if frame.empty:
        raise ValueError(f"{asset} has no rows stored for {partition}: materialize {asset} for that day "
                         "first (or the whole graph, `--select '*'`)")


TYPES = {"timestamp", "string", "float", "int", "bool"}


def schema(columns: dict[str, str]) -> dict:
    """Column schema metadata; each value is a type name or else a description of the column."""
    return {"dagster/column_schema": TableSchema(columns=[
        TableColumn(name, text if text in TYPES else "", description=None if text in TYPES else text)
        for name, text in columns.items()])}


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".2f") -> MetadataValue:
    def fmt(v):
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = "".join("| " + " | ".join(fmt(v) for v in row) + " |\n" for row in frame.itertuples(index=False))
    return MetadataValue.md(head + body)


@contextmanager
def timed():
    """Yields a dict whose 'seconds' is filled in on exit."""
    out = {}
    start = time.perf_counter()
    yield out
    out["seconds"] = round(time.perf_counter() - start, 3)


def provider_report(context, provider, before: dict[str, int]) -> dict:
    """Metadata for what a step asked of the market-data source: per-layer counters since `before`,
    and any degradation (e.g. Redis lost), also logged as a warning on the run."""
    report = {f"cache_{k}": v - before.get(k, 0) for k, v in provider.cache_stats().items()}
    warnings = provider.new_warnings()
    for message in warnings:
        context.log.warning(message)
    if warnings:
        report["cache_warnings"] = "; ".join(warnings)
    return report


def fill_history(context, store, provider, missing: list[pd.Timestamp], extra: list[pd.Timestamp] = ()):
    """Fetch the `missing` sessions of price_bars (and `extra` ones the caller needs but stores itself),
    clean them, store the missing ones atomically and record each as a materialization of its own
    price_bars partition. Returns (the fetched bars, counts per cleaning rule)."""
    need = list(missing) + list(extra)
    if not need:
        return pd.DataFrame(columns=BAR_COLUMNS), dict.fromkeys(RULES, 0)
    fetched, cleaning = clean_bars(provider.bars_for_sessions(need))
    if any(cleaning.values()):
        context.log.info("price_bars: dirty bars handled: " + ", ".join(f"{k} {v}" for k, v in cleaning.items() if v))
    if missing:
        history = fetched[fetched["date"].isin(missing)]
        store.replace_dates("price_bars", history, list(missing))
        counts = history.groupby("date").size()
        for d in missing:
            context.log_event(AssetMaterialization(
                asset_key=AssetKey("price_bars"), partition=d.strftime(DATE_FMT),
                description="history filled for a later scan",
                metadata={"rows": int(counts.get(d, 0)), "filled_by": f"{context.asset_key.to_user_string()} "
                                                                      f"{partition_label(context)}"},
            ))
        context.log.info(f"price_bars: filled {len(missing)} missing sessions ({len(history):,} bars)")
    return fetched, cleaning
