"""The schedule and the sensors that run Technic every evening."""

import json

import pandas as pd
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    materialize,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, SENSOR_NAME_TAG
from dagster._core.test_utils import create_run_for_test

from technic_assets.sensors import CATCH_UP, MAX_PER_TICK, build_sensors, describe_failure, partitions_to_request
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


def sensor_at(when: str):
    """The new-session sensor with its clock stopped at `when` (New York time)."""
    job = DEFS.resolve_job_def("daily_scan")
    return build_sensors(job, now=lambda: pd.Timestamp(when, tz="America/New_York").tz_convert("UTC"))[0]


def test_the_sensor_moves_its_cursor_so_nothing_runs_twice():
    instance = DagsterInstance.ephemeral()
    market = resources()["market"]
    sensor = sensor_at("2025-06-20 18:00")  # a Friday after the close; Thursday 19 June was Juneteenth
    with build_sensor_context(instance=instance, cursor=json.dumps({"requested_through": "2025-06-10"}),
                              resources={"market": market}) as context:
        requests = list(sensor(context))
    # the seven sessions after the cursor, by the exchange's published calendar, in one ordered run
    assert [(r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG]) for r in requests] == [
        ("2025-06-11", "2025-06-20")]
    assert requests[0].run_key == "scan-2025-06-11...2025-06-20"
    with build_sensor_context(instance=instance, cursor=context.cursor, resources={"market": market}) as again:
        assert isinstance(sensor(again), SkipReason)


def test_the_sensor_asks_its_clock_not_the_wall_clock():
    market = resources()["market"]
    for when, latest in [("2025-06-21 12:00", "2025-06-20"),  # a Saturday: Friday's session
                         ("2025-06-23 15:59", "2025-06-20"),  # Monday before the close
                         ("2025-06-23 16:01", "2025-06-23")]:
        with build_sensor_context(instance=DagsterInstance.ephemeral(), cursor=json.dumps(
                {"requested_through": "2025-06-18"}), resources={"market": market}) as context:
            requests = list(sensor_at(when)(context))
        assert requests[-1].tags[ASSET_PARTITION_RANGE_END_TAG] == latest, when


def test_the_sensor_waits_while_its_previous_run_is_in_flight():
    """A day's changes read the day before: a tick never starts days beside a run still storing earlier ones."""
    instance = DagsterInstance.ephemeral()
    create_run_for_test(instance, job_name="daily_scan", status=DagsterRunStatus.STARTED,
                        tags={SENSOR_NAME_TAG: "new_session_sensor", ASSET_PARTITION_RANGE_START_TAG: "2025-06-11"})
    with build_sensor_context(instance=instance, cursor=json.dumps({"requested_through": "2025-06-13"}),
                              resources={"market": resources()["market"]}) as context:
        skipped = sensor_at("2025-06-20 18:00")(context)
    assert isinstance(skipped, SkipReason) and "waiting for run" in skipped.skip_message
    assert json.loads(context.cursor) == {"requested_through": "2025-06-13"}


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
