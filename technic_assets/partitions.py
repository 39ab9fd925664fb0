"""The trading-day partitions: a partition per NYSE session, from a start date the definitions pass in
(`build_partitions(start)`, cached, so every asset, job, schedule and sensor shares one definition).

Weekends are left out by the cron schedule and exchange holidays (and one-off closures such as
2025-01-09) by `exclusions` read from exchange-calendars, so a partition key is always a session and
`TimeWindowPartitionMapping(start_offset=-n)` counts n sessions back, not n calendar days.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd
from dagster import TimeWindowPartitionsDefinition

from technic_assets.environment import DEFAULT_START_DATE

TIMEZONE = "America/New_York"
DATE_FMT = "%Y-%m-%d"


@lru_cache(maxsize=1)
def nyse() -> xcals.ExchangeCalendar:
    """The NYSE calendar, from 2010 to as far ahead as exchange-calendars knows."""
    return xcals.get_calendar("XNYS", start="2010-01-04")


def first_session(raw: str) -> str:
    """The first partition for a configured start date (TECHNIC_START_DATE), snapped forward to a session."""
    try:
        day = pd.Timestamp(raw)
    except ValueError as exc:
        raise ValueError(f"TECHNIC_START_DATE={raw!r} is not a date (want YYYY-MM-DD)") from exc
    cal = nyse()
    if not cal.first_session <= day <= cal.last_session:
        raise ValueError(
            f"TECHNIC_START_DATE={raw!r} is outside the NYSE calendar "
            f"({cal.first_session:%Y-%m-%d} .. {cal.last_session:%Y-%m-%d})"
        )
    return cal.date_to_session(day, direction="next").strftime(DATE_FMT)


def sessions(start: str | dt.date, end: str | dt.date) -> pd.DatetimeIndex:
    """NYSE sessions from start to end, both included."""
    return nyse().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))


def is_session(day: str | dt.date) -> bool:
    return nyse().is_session(pd.Timestamp(day))


def sessions_back(day: str | dt.date, count: int) -> pd.DatetimeIndex:
    """The `count` sessions ending on `day` (a session), oldest first."""
    cal = nyse()
    end = cal.sessions.get_loc(pd.Timestamp(day))
    return cal.sessions[max(0, end - count + 1) : end + 1]


def utc_now() -> pd.Timestamp:
    """The wall clock, the default of every clock that can be injected (the CLI's, the sensor's)."""
    return pd.Timestamp.now(tz="UTC")


def latest_closed_session(now: pd.Timestamp | None = None) -> str:
    """The most recent session whose close has passed (the default scan date)."""
    cal = nyse()
    now = now if now is not None else utc_now()
    session = cal.date_to_session(now.tz_convert(TIMEZONE).tz_localize(None).normalize(), "previous")
    if cal.session_close(session) > now:
        session = cal.previous_session(session)
    return session.strftime(DATE_FMT)


def _holiday_exclusions(start: str) -> list[dt.datetime]:
    """Weekdays from `start` to the calendar's end that are not sessions."""
    cal = nyse()
    weekdays = pd.bdate_range(start, cal.last_session)
    closed = weekdays.difference(cal.sessions)
    return [d.to_pydatetime() for d in closed]


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
        exclusions=_holiday_exclusions(start),
    )


def first_scannable(partitions: TimeWindowPartitionsDefinition) -> str:
    """The first partition with a whole history window before it ("none yet" if there is none)."""
    from technic_assets.core.indicators import LOOKBACK

    first = pd.Timestamp(partitions.get_first_partition_key())
    window = nyse().sessions[nyse().sessions >= first]
    return window[LOOKBACK - 1].strftime(DATE_FMT) if len(window) >= LOOKBACK else "none yet"
