"""Small helpers shared by the asset modules: partitions, metadata, and recording filled history."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager

import pandas as pd
from dagster import AssetKey, AssetMaterialization, BackfillPolicy, MetadataValue, TableColumn, TableRecord, TableSchema

from technic_assets.core.calendar import DATE_FMT, sessions_back
from technic_assets.core.indicators import LOOKBACK
from technic_assets.partitions import build_partitions, first_scannable
from technic_assets.storage.history import screen_rows, screen_span  # noqa: F401 - the assets' import

STORE_METADATA = {"partition_expr": "date"}
# Every asset is partitioned by trading day and computes a range of days in one run when asked (a
# backfill, or `dagster asset materialize --partition-range A...B`): one run instead of one per day.
# The partitions here start on the default date; the definitions rebind them to the configured one.
DAILY = {"partitions_def": build_partitions(), "backfill_policy": BackfillPolicy.single_run()}


def partition_label(context) -> str:
    """'2025-06-02', or '2025-06-02...2025-06-30' for a range."""
    keys = context.partition_keys
    return keys[0] if len(keys) == 1 else f"{keys[0]}...{keys[-1]}"


def scan_days(context) -> list[pd.Timestamp]:
    """The days this run computes: one for a daily run, many for a single-run backfill."""
    return [pd.Timestamp(k) for k in context.partition_keys]


def first_partition(context) -> pd.Timestamp:
    return pd.Timestamp(context.assets_def.partitions_def.get_first_partition_key())


def range_metadata(days: list[pd.Timestamp]) -> dict:
    return {"days": len(days)} if len(days) == 1 else {
        "days": len(days), "first_day": days[0].strftime(DATE_FMT), "last_day": days[-1].strftime(DATE_FMT)}


def history_window(context, day: pd.Timestamp) -> pd.DatetimeIndex:
    """The LOOKBACK sessions ending on `day`; an error naming the date when they predate the partitions."""
    partitions = context.assets_def.partitions_def
    first = first_partition(context)
    window = sessions_back(day, LOOKBACK)
    if window[0] < first or len(window) < LOOKBACK:
        raise ValueError(
            f"scan date {day:{DATE_FMT}} needs {LOOKBACK} sessions of history but partitions start on "
            f"{first:{DATE_FMT}} (TECHNIC_START_DATE); the first date that can be scanned is "
            f"{first_scannable(partitions)}"
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


def screened(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each screen's rows with its name in a `screen` column after `date`: one table for every screen."""
    out = pd.concat([f.assign(screen=name) for name, f in frames.items()], ignore_index=True)
    return out[["date", "screen", *[c for c in out.columns if c not in ("date", "screen")]]]


def readable(value: float) -> float:
    """A float rounded for reading: 4 significant digits, and at least 2 decimals (0.01235, 1.235, 123.46,
    12345678.9); the UI prints a table cell's number as JSON gives it, 14 decimals and all."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(2, 3 - math.floor(math.log10(abs(value)))))


def table_metadata(frame: pd.DataFrame) -> MetadataValue:
    """A frame as the UI's typed table (sortable, with its schema) rather than Markdown behind a link;
    floats rounded for reading (`readable`): the store keeps them whole."""
    kinds = {c: "float" if pd.api.types.is_float_dtype(t) else "int" if pd.api.types.is_integer_dtype(t)
             else "bool" if pd.api.types.is_bool_dtype(t) else "string" for c, t in frame.dtypes.items()}

    def cell(value, kind):
        if value is None or (isinstance(value, float) and value != value):
            return None  # NaN is no JSON: an empty cell
        if kind == "float":
            return readable(float(value))
        return {"int": int, "bool": bool}.get(kind, str)(value)

    records = [TableRecord({c: cell(v, kinds[c]) for c, v in zip(frame.columns, row)})
               for row in frame.itertuples(index=False)]
    return MetadataValue.table(records, TableSchema(columns=[TableColumn(c, k) for c, k in kinds.items()]))


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


def record_fill(context, fill) -> None:
    """Record each history session a StoredMarket.fill stored as a materialization of its own
    price_bars partition, so the UI shows what the store holds."""
    if any(fill.cleaning.values()):
        context.log.info("price_bars: dirty bars handled: " + ", ".join(f"{k} {v}" for k, v in fill.cleaning.items() if v))
    for day in fill.stored:
        context.log_event(AssetMaterialization(
            asset_key=AssetKey("price_bars"), partition=day.strftime(DATE_FMT),
            description="history filled for a later scan",
            metadata={"rows": fill.rows[day], "filled_by": f"{context.asset_key.to_user_string()} "
                                                           f"{partition_label(context)}"},
        ))
    if fill.stored:
        context.log.info(f"price_bars: filled {len(fill.stored)} missing sessions ({sum(fill.rows.values()):,} bars)")


def previous_metadata(context, key: str) -> dict:
    """The JSON metadata entry `key` of this asset's latest materialization ({} without one): what a
    monthly fit (the learned blend's weights, the peer groups) stored, reused by the month's later runs."""
    event = context.instance.get_latest_materialization_event(context.asset_key)
    if event is None or event.asset_materialization is None:
        return {}
    value = event.asset_materialization.metadata.get(key)
    return dict(value.value) if value is not None and isinstance(value.value, dict) else {}
