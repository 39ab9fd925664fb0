"""The trading-day partitions: a partition per NYSE session, from a start date the definitions pass in
(`build_partitions(start)`, cached, so every asset, job, schedule and sensor shares one definition).

Weekends are left out by the cron schedule and exchange holidays (and one-off closures such as
2025-01-09) by `exclusions` read from exchange-calendars, so a partition key is always a session and
`TimeWindowPartitionMapping(start_offset=-n)` counts n sessions back, not n calendar days.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from dagster import TimeWindowPartitionsDefinition

from technic_assets.config import DEFAULT_START_DATE
from technic_assets.core.calendar import DATE_FMT, TIMEZONE, first_session, holiday_exclusions, nyse
from technic_assets.core.indicators import LOOKBACK


@lru_cache(maxsize=8)
def build_partitions(start: str = DEFAULT_START_DATE) -> TimeWindowPartitionsDefinition:
    """The trading-day partitions from `start` (a date; snapped forward to a session) on."""
    start = first_session(start)
    return TimeWindowPartitionsDefinition(
        start=start,
        fmt=DATE_FMT,
        cron_schedule="0 0 * * 1-5",
        timezone=TIMEZONE,
        end_offset=1,
        exclusions=holiday_exclusions(start),
    )


def first_scannable(partitions: TimeWindowPartitionsDefinition) -> str:
    """The first partition with a whole history window before it ("none yet" if there is none)."""
    first = pd.Timestamp(partitions.get_first_partition_key())
    window = nyse().sessions[nyse().sessions >= first]
    return window[LOOKBACK - 1].strftime(DATE_FMT) if len(window) >= LOOKBACK else "none yet"
