"""The NYSE trading calendar: sessions, the latest closed one, and the wall clock every injectable
clock defaults to. Pure (exchange-calendars and pandas), so the core, the sources and the Dagster
partitions all count sessions the same way.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

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


def holiday_exclusions(start: str) -> list[dt.datetime]:
    """Weekdays from `start` to the calendar's end that are not sessions."""
    cal = nyse()
    weekdays = pd.bdate_range(start, cal.last_session)
    closed = weekdays.difference(cal.sessions)
    return [d.to_pydatetime() for d in closed]
