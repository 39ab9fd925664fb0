"""Sensors: scan each newly completed session once, catching up after an outage; report failures.

`new_session_sensor` asks the market-data source for its latest complete session and requests every
scannable partition from the one after its cursor up to it whose `ranked_top_n` is not built yet, a run
key per partition (so nothing runs twice) and at most MAX_PER_TICK per evaluation. Without a cursor
(first start) it looks back CATCH_UP sessions at most.
"""

from __future__ import annotations

import json

import pandas as pd
from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

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


def build_sensors(job) -> list:
    """The new-session sensor and the failure report of `job`."""

    @sensor(job=job, minimum_interval_seconds=600, default_status=DefaultSensorStatus.STOPPED,
            name="new_session_sensor",
            description="Requests each newly completed session's scan once; catches up missed days.")
    def new_session_sensor(context: SensorEvaluationContext, market: MarketResource):
        latest = market.source().latest_session(pd.Timestamp.now(tz="UTC"))
        state = json.loads(context.cursor) if context.cursor else {}
        built = set(context.instance.get_materialized_partitions(AssetKey("ranked_top_n")))
        todo = partitions_to_request(job.partitions_def.get_partition_keys(), latest,
                                     state.get("requested_through"), built)
        if not todo:
            return SkipReason(f"nothing new: the latest complete session is {latest}")
        context.update_cursor(json.dumps({"requested_through": todo[-1]}))
        return [RunRequest(run_key=f"scan-{key}", partition_key=key) for key in todo]

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
