"""Small helpers shared by the asset modules."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

from technic_assets.core.indicators import LOOKBACK
from technic_assets.partitions import DATE_FMT, sessions_back, trading_days

STORE_METADATA = {"partition_expr": "date"}


def scan_day(context) -> pd.Timestamp:
    return pd.Timestamp(context.partition_key)


def history_window(day: pd.Timestamp) -> pd.DatetimeIndex:
    """The LOOKBACK sessions ending on `day`; an error naming the date when they predate the store."""
    first = pd.Timestamp(trading_days.get_first_partition_key())
    window = sessions_back(day, LOOKBACK)
    if window[0] < first or len(window) < LOOKBACK:
        earliest = sessions_back(first, 1)[0]
        later = trading_days.get_partition_keys()[LOOKBACK - 1] if len(trading_days.get_partition_keys()) >= LOOKBACK else None
        raise ValueError(
            f"scan date {day:{DATE_FMT}} needs {LOOKBACK} sessions of history but partitions start on "
            f"{earliest:{DATE_FMT}} (TECHNIC_START_DATE); the first date that can be scanned is {later}"
        )
    return window


def schema(columns: dict[str, str]) -> dict:
    return {"dagster/column_schema": TableSchema(
        columns=[TableColumn(name, type_, description=None) for name, type_ in columns.items()])}


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
