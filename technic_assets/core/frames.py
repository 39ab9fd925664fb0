"""Multi-day frames: every core stage takes and returns frames with a `date` column, one
cross-section per day, so that one day and a backfill's range run the same code."""

from __future__ import annotations

import pandas as pd


def days_of(frame: pd.DataFrame) -> list[pd.Timestamp]:
    """The distinct dates of `frame` in order of appearance (without iterating its rows as objects)."""
    return list(pd.DatetimeIndex(pd.unique(frame["date"])))


def by_day(frame: pd.DataFrame, days) -> dict[pd.Timestamp, pd.DataFrame]:
    """Each day's rows of `frame` (an empty frame for a day without any)."""
    groups = dict(tuple(frame.groupby("date", sort=False))) if len(frame) else {}
    return {d: groups.get(d, frame.iloc[:0]) for d in days}


def stack(frames: dict[pd.Timestamp, pd.DataFrame]) -> pd.DataFrame:
    """Per-day frames (without `date`) back into one frame with `date` first."""
    parts = [f.assign(date=day)[["date", *[c for c in f.columns if c != "date"]]] for day, f in frames.items()]
    return pd.concat(parts, ignore_index=True)
