"""Every NYSE session, after the close: build that day's partition.

The cron fires on weekdays at TECHNIC_SCHEDULE_TIME (HH:MM, America/New_York, default 18:00); the
evaluation skips weekdays that are not sessions (holidays, closures) and fires only once the session's
close has passed, so an early close (13:00) is simply earlier and a misconfigured time before the
close waits for the next tick. One run per session: the run key is the date.
"""

from __future__ import annotations

import os

import pandas as pd
from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from technic_assets.jobs import daily_scan
from technic_assets.partitions import DATE_FMT, TIMEZONE, is_session, nyse


def scan_time() -> tuple[int, int]:
    raw = os.environ.get("TECHNIC_SCHEDULE_TIME", "18:00")
    try:
        hour, minute = (int(x) for x in raw.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        raise ValueError(f"TECHNIC_SCHEDULE_TIME={raw!r} is not a time of day (want HH:MM, New York time)") from None
    return hour, minute


def request_for(now: pd.Timestamp) -> RunRequest | SkipReason:
    """What the schedule asks for at `now` (tz-aware)."""
    local = now.tz_convert(TIMEZONE)
    day = pd.Timestamp(local.date())
    if not is_session(day):
        return SkipReason(f"{day:{DATE_FMT}} is not an NYSE session")
    close = nyse().session_close(day)
    if now < close:
        return SkipReason(f"{day:{DATE_FMT}} closes at {close.tz_convert(TIMEZONE):%H:%M} New York time; not yet")
    key = day.strftime(DATE_FMT)
    return RunRequest(run_key=key, partition_key=key)


_HOUR, _MINUTE = scan_time()


@schedule(job=daily_scan, cron_schedule=f"{_MINUTE} {_HOUR} * * 1-5", execution_timezone=TIMEZONE,
          default_status=DefaultScheduleStatus.STOPPED,
          description="The day's scan after the NYSE close, on sessions only.")
def daily_scan_after_close(context: ScheduleEvaluationContext):
    return request_for(pd.Timestamp(context.scheduled_execution_time))
