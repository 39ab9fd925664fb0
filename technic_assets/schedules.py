"""Every NYSE session, after the close: build that day's partition.

The cron fires on weekdays at TECHNIC_SCHEDULE_TIME (HH:MM, America/New_York, default 18:00); the
evaluation skips weekdays that are not sessions (holidays, closures) and fires only once the session's
close has passed, so an early close (13:00) is simply earlier and a misconfigured time before the
close waits for the next tick. One run per session: the run key is the date.
"""

from __future__ import annotations

import pandas as pd
from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from technic_assets.core.calendar import DATE_FMT, TIMEZONE, is_session, nyse


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


def build_schedule(job, hour: int, minute: int):
    """The after-close schedule of `job`, firing on weekdays at hour:minute New York time."""

    @schedule(job=job, cron_schedule=f"{minute} {hour} * * 1-5", execution_timezone=TIMEZONE,
              default_status=DefaultScheduleStatus.STOPPED, name="daily_scan_after_close",
              description="The day's scan after the NYSE close, on sessions only.")
    def daily_scan_after_close(context: ScheduleEvaluationContext):
        return request_for(pd.Timestamp(context.scheduled_execution_time))

    return daily_scan_after_close
