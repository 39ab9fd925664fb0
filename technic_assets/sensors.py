"""Sensors: scan each newly completed session once, catching up after an outage; report failures.

`new_session_sensor` asks the market-data source for its latest complete session (as of its clock,
injectable) and requests every scannable partition from the one after its cursor up to it whose
`ranked_top_n` is not built yet, at most MAX_PER_TICK per evaluation. Without a cursor (first start) it
looks back CATCH_UP sessions at most. Consecutive days go in one run (a run key each, so nothing runs
twice), which computes them in order; and a tick waits while the sensor's previous runs are in flight, so
a day never reads an earlier day (`changes`, `alpha_evaluation`) that a concurrent run has yet to store.
"""

from __future__ import annotations

import json
from typing import Callable

import pandas as pd
from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, SENSOR_NAME_TAG

from technic_assets.core.calendar import utc_now
from technic_assets.core.indicators import LOOKBACK
from technic_assets.errors import root_cause
from technic_assets.resources import MarketResource

MAX_PER_TICK = 10
CATCH_UP = 10


def partitions_to_request(keys: list[str], latest: str, cursor: str | None, built: set[str]) -> list[str]:
    """Scannable partition keys (of `keys`) after `cursor` (or the last CATCH_UP) up to `latest`, not yet built."""
    scannable = keys[LOOKBACK - 1:]
    upto = [k for k in scannable if k <= latest]
    after = [k for k in upto if k > cursor] if cursor else upto[-CATCH_UP:]
    return [k for k in after if k not in built][:MAX_PER_TICK]


def consecutive(todo: list[str], keys: list[str]) -> list[list[str]]:
    """`todo` (in order) cut into runs of partitions that follow each other in `keys`."""
    position = {k: i for i, k in enumerate(keys)}
    spans: list[list[str]] = []
    for key in todo:
        if spans and position[key] == position[spans[-1][-1]] + 1:
            spans[-1].append(key)
        else:
            spans.append([key])
    return spans


def build_sensors(job, now: Callable[[], pd.Timestamp] = utc_now) -> list:
    """The new-session sensor (asking `now` what time it is) and the failure report of `job`."""

    @sensor(job=job, minimum_interval_seconds=600, default_status=DefaultSensorStatus.STOPPED,
            name="new_session_sensor",
            description="Requests each newly completed session's scan once; catches up missed days.")
    def new_session_sensor(context: SensorEvaluationContext, market: MarketResource):
        running = context.instance.get_runs(filters=RunsFilter(
            tags={SENSOR_NAME_TAG: "new_session_sensor"}, statuses=IN_PROGRESS_RUN_STATUSES), limit=1)
        if running:
            return SkipReason(f"waiting for run {running[0].run_id[:8]} "
                              f"({running[0].tags.get(ASSET_PARTITION_RANGE_START_TAG, '')}...) to finish")
        latest = market.source().latest_session(now())
        state = json.loads(context.cursor) if context.cursor else {}
        built = set(context.instance.get_materialized_partitions(AssetKey("ranked_top_n")))
        keys = job.partitions_def.get_partition_keys()
        todo = partitions_to_request(keys, latest, state.get("requested_through"), built)
        if not todo:
            return SkipReason(f"nothing new: the latest complete session is {latest}")
        context.update_cursor(json.dumps({"requested_through": todo[-1]}))
        return [RunRequest(run_key=f"scan-{span[0]}" if len(span) == 1 else f"scan-{span[0]}...{span[-1]}",
                           tags={ASSET_PARTITION_RANGE_START_TAG: span[0], ASSET_PARTITION_RANGE_END_TAG: span[-1]})
                for span in consecutive(todo, keys)]

    @run_failure_sensor(monitored_jobs=[job], default_status=DefaultSensorStatus.RUNNING, name="scan_failure_report",
                        description="Says which day's scan failed, in which step and why.")
    def scan_failure_report(context: RunFailureSensorContext):
        context.log.error(describe_failure(context))

    return [new_session_sensor, scan_failure_report]


def describe_failure(context: RunFailureSensorContext) -> str:
    """'Technic scan for <day> failed (run <id>). <step>: <innermost error> | ...'"""
    run = context.dagster_run
    day = run.tags.get("dagster/partition", "?")
    steps = [f"{e.step_key}: {root_cause(e.step_failure_data.error)}" for e in context.get_step_failure_events()
             if e.step_failure_data and e.step_failure_data.error]
    return f"Technic scan for {day} failed (run {run.run_id[:8]}). " + (" | ".join(steps) or
                                                                       context.failure_event.message or "")
