"""The alert sensors: after each evening run of `daily_scan`, each saved screen's top N and changes (a
message per screen); after a failed one, why.

Run-status sensors on the job rather than an asset sensor on ranked_top_n: the evening runs (the
schedule, the new-session sensor, a daily backfill from the Jobs page) are `daily_scan` runs, one per
day, and a run's end is the moment the whole day, `changes` included, is stored. An asset sensor would
also fire for every CLI re-scan and for each day of a range backfill. A successful run that belongs to a
backfill, or that covers a range of days, sends nothing (a year's backfill is not 252 messages); a
failed one always alerts. Defined only when a channel is configured (definitions.py); the log-only
`scan_failure_report` stays beside them. A channel that cannot deliver is a logged warning, never a
failed tick.
"""

from __future__ import annotations

import pandas as pd
from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
)

from technic_assets.alerts.messages import Message, failure_message, scan_message
from technic_assets.storage.history import screen_rows
from technic_assets.config import ScanSettings
from technic_assets.core.calendar import DATE_FMT, nyse
from technic_assets.market.factory import label as source_label
from technic_assets.resources import AlertsResource, MarketResource
from technic_assets.screens import Screens
from technic_assets.sensors import describe_failure

PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"


def stored_day(market: MarketResource, day: str, screen: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One screen's ranked_top_n rows of the day and its `changes` rows (None while that table is not
    in the store)."""
    history = market.store.history
    when = [pd.Timestamp(day)]
    top = history.read_dates("ranked_top_n", when)
    changes = history.read_dates("changes", when)
    top = screen_rows(top, screen) if len(top.columns) else top
    return top, (screen_rows(changes, screen) if len(changes.columns) else None)


def deliver(context, alerts: AlertsResource, message: Message, what: str) -> None:
    """Send on every channel; each failure a warning in the sensor's log, never an exception."""
    sent, warnings = alerts.send(message)
    for warning in warnings:
        context.log.warning(warning)
    if sent:
        context.log.info(f"alert for {what} sent by {', '.join(sent)}")


def build_alert_sensors(job) -> list:
    """The success and the failure alert of `job`, both on by default."""

    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[job], name="scan_alert",
                       default_status=DefaultSensorStatus.RUNNING,
                       description="Sends the day's top N and what changed to Slack and/or email after each run.")
    def scan_alert(context: RunStatusSensorContext, alerts: AlertsResource, market: MarketResource,
                   screens: Screens, scan: ScanSettings):
        run = context.dagster_run
        day = run.tags.get(PARTITION_TAG)
        if BACKFILL_TAG in run.tags or not day:
            return SkipReason(f"run {run.run_id[:8]} is part of a backfill or covers a range: no alert")
        since = f"{nyse().previous_session(pd.Timestamp(day)):{DATE_FMT}}"
        for screen in screens.resolve(scan):  # the saved screens the evening run ranks, a message each
            top, changes = stored_day(market, day, screen.name)
            source = market.store.history.sources().get(pd.Timestamp(day), source_label(market.market))
            message = scan_message(day, source, top, changes, since, screen.name)
            deliver(context, alerts, message, f"{day}, screen {screen.name}")

    @run_failure_sensor(monitored_jobs=[job], name="scan_failure_alert", default_status=DefaultSensorStatus.RUNNING,
                        description="Sends which day's scan failed, in which step and why, to Slack and/or email.")
    def scan_failure_alert(context: RunFailureSensorContext, alerts: AlertsResource, market: MarketResource):
        run = context.dagster_run
        day = run.tags.get(PARTITION_TAG, "?")
        message = failure_message(day, source_label(market.market), run.job_name, describe_failure(context))
        deliver(context, alerts, message, day)

    return [scan_alert, scan_failure_alert]
