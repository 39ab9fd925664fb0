"""The schedule and the sensors that run Technic every evening."""

import json

import pandas as pd
from dagster import (
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    materialize,
)

from technic_assets.sensors import CATCH_UP, MAX_PER_TICK, describe_failure, partitions_to_request
from technic_assets_tests.graph import ASSETS, definitions, resources

DEFS = definitions()
daily_scan_after_close = DEFS.resolve_schedule_def("daily_scan_after_close")
new_session_sensor = DEFS.resolve_sensor_def("new_session_sensor")
scan_failure_report = DEFS.resolve_sensor_def("scan_failure_report")
KEYS = DEFS.resolve_job_def("daily_scan").partitions_def.get_partition_keys()


def tick(when: str):
    ts = pd.Timestamp(when, tz="America/New_York")
    return daily_scan_after_close(build_schedule_context(scheduled_execution_time=ts.to_pydatetime()))


def test_the_schedule_runs_each_session_after_its_close():
    friday = tick("2026-11-20 18:00")
    assert isinstance(friday, RunRequest) and friday.partition_key == "2026-11-20" and friday.run_key == "2026-11-20"
    assert isinstance(tick("2025-11-28 18:00"), RunRequest)  # early close (13:00) day: still a session
    assert isinstance(tick("2025-11-27 18:00"), SkipReason)  # Thanksgiving
    assert isinstance(tick("2025-01-09 18:00"), SkipReason)  # the closure for the national day of mourning
    early = tick("2025-06-02 15:30")
    assert isinstance(early, SkipReason) and "closes at 16:00" in early.skip_message


def test_the_sensor_requests_missing_days_once_and_caps_each_tick():
    latest = "2025-06-13"
    first = partitions_to_request(KEYS, latest, None, set())
    assert len(first) == CATCH_UP and first[-1] == latest  # first start: the last sessions only
    after_outage = partitions_to_request(KEYS, latest, "2025-05-20", {"2025-05-22"})
    assert after_outage[0] == "2025-05-21" and "2025-05-22" not in after_outage  # built ones are skipped
    assert len(after_outage) == MAX_PER_TICK
    assert partitions_to_request(KEYS, latest, latest, set()) == []


def test_the_sensor_moves_its_cursor_so_nothing_runs_twice():
    instance = DagsterInstance.ephemeral()
    market = resources()["market"]
    with build_sensor_context(instance=instance, cursor=json.dumps({"requested_through": "2026-11-18"}),
                              resources={"market": market}) as context:
        requests = list(new_session_sensor(context))
    keys = [r.partition_key for r in requests]
    latest = market.source().latest_session(pd.Timestamp.now(tz="UTC"))
    assert keys and keys[0] == "2026-11-19" and keys[-1] == latest
    assert {r.run_key for r in requests} == {f"scan-{k}" for k in keys}
    with build_sensor_context(instance=instance, cursor=context.cursor, resources={"market": market}) as again:
        assert isinstance(new_session_sensor(again), SkipReason)


def test_a_failed_run_is_reported_with_its_day_step_and_reason(warm_store):
    instance = DagsterInstance.ephemeral()
    result = materialize(ASSETS, partition_key="2025-06-02", instance=instance, raise_on_error=False,
                         resources=resources(200, min_price=1e7))
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = [e for e in instance.all_logs(result.run_id) if e.dagster_event and e.dagster_event.event_type_value in ("RUN_FAILURE", "PIPELINE_FAILURE")][0]
    context = build_run_status_sensor_context(sensor_name="scan_failure_report", dagster_event=failure.dagster_event,
                                              dagster_instance=instance, dagster_run=run).for_run_failure()
    scan_failure_report(context)  # logs what describe_failure says
    message = describe_failure(context)
    assert message.startswith(f"Technic scan for 2025-06-02 failed (run {run.run_id[:8]}).")
    assert "filtered_universe: " in message and "left no symbols" in message
