"""The store after a set of scans is the same whatever their order.

`changes` reads the previous session's top N, `alpha_evaluation` the MERIT of 5 and 10 sessions
back and `track_record` every earlier evening (technic_assets.lineage): scanned newest first, each day is computed before the days it reads,
so the run that writes a day recomputes the later stored days that read it; and a day whose earlier
day a run beside it is computing waits for that run.
"""

import logging
import shutil

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster._core.test_utils import create_run_for_test

from technic_assets.blend_history import stored_weights
from technic_assets.cli import main
from technic_assets.core import blend
from technic_assets.core.calendar import nyse
from technic_assets.lineage import followers, wait_for_earlier
from technic_assets.storage.history import History
from technic_assets_tests.clock import FakeClock
from technic_assets_tests.snapshots import snapshot

# 06-02 is scanned in the warm store; 06-03 and 06-04 follow each other; 06-10 is 5 sessions after 06-03;
# 06-13's track record holds the evenings before it (5 sessions held: the earlier days have too few)
DAYS = ["2025-06-03", "2025-06-04", "2025-06-10", "2025-06-13"]


def scanned(warm_store, tmp_path, monkeypatch, order: list[str]) -> dict[str, pd.DataFrame]:
    path = tmp_path / f"{'-'.join(order)}.duckdb"
    shutil.copy(warm_store, path)
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(path))
    monkeypatch.setenv("TECHNIC_ALPHA_WEIGHT", "0")
    for day in order:
        assert main(["scan", "--date", day, "--quiet"]) == 0
    return snapshot(path)


def test_days_scanned_newest_first_leave_the_store_of_oldest_first(warm_store, tmp_path, monkeypatch):
    oldest_first = scanned(warm_store, tmp_path, monkeypatch, DAYS)
    newest_first = scanned(warm_store, tmp_path, monkeypatch, DAYS[::-1])
    assert sorted(newest_first) == sorted(oldest_first)
    for table, frame in oldest_first.items():
        pd.testing.assert_frame_equal(newest_first[table], frame, obj=table)
    # and the comparison has something in it: each day's changes, and 06-10 evaluating 06-03's MERIT
    changed = oldest_first["changes"]
    assert set(changed["date"].dt.strftime("%Y-%m-%d")) == set(DAYS[:2]), "06-10's and 06-13's previous sessions are not scanned"
    evaluated = oldest_first["alpha_evaluation"]
    assert (evaluated["signal_date"] == pd.Timestamp("2025-06-03")).any()
    # 06-13's track record reads every evening before it and was recomputed as each came
    record = oldest_first["track_record"]
    assert set(record.loc[record["book"] == "top_n", "date"]) == {pd.Timestamp("2025-06-13")}


def test_a_month_whose_learned_blend_reads_a_day_scanned_after_it_is_scored_again(warm_store, tmp_path, monkeypatch):
    """July's learned blend is fitted on June's stored days. Scanned first, 07-01 is fitted on less (here
    too little: the hand weights), and that fit was kept for the month; the run that then stores 06-03
    scores 07-01 again (MERIT, top N, and what reads them), so the store is the one scanned in order.
    Two training days suffice here (MIN_DAYS lowered, to keep the store small)."""
    monkeypatch.setattr(blend, "MIN_DAYS", 2)
    days = ["2025-06-03", "2025-07-01"]
    in_order = scanned(warm_store, tmp_path, monkeypatch, days)
    reversed_ = scanned(warm_store, tmp_path, monkeypatch, days[::-1])
    assert sorted(reversed_) == sorted(in_order)
    for table, frame in in_order.items():
        pd.testing.assert_frame_equal(reversed_[table], frame, obj=table)
    # and July was ranked by a learned blend, not the hand weights: the fit on 06-02 and 06-03 exists
    path = tmp_path / f"{'-'.join(days)}.duckdb"
    assert stored_weights(History(str(path)), "default", pd.Timestamp("2025-07-01")) is not None


def test_the_later_days_that_read_a_day_are_counted_in_sessions():
    sessions = nyse().sessions
    later = followers([pd.Timestamp("2025-06-13")], sessions)
    # Friday 13 June: Monday the 16th reads it for its changes; 5 and 10 sessions on, skipping Juneteenth
    track = later.pop("track_record")
    assert later == {"changes": [pd.Timestamp("2025-06-16")],
                     "alpha_evaluation": [pd.Timestamp("2025-06-23"), pd.Timestamp("2025-06-30")]}
    # the track record reads every earlier evening: every later session does
    assert track[:3] == [pd.Timestamp("2025-06-16"), pd.Timestamp("2025-06-17"), pd.Timestamp("2025-06-18")]
    assert track[-1] == sessions[-1] and pd.Timestamp("2025-06-19") not in track
    # days written together read each other in the run itself
    both = followers([pd.Timestamp("2025-06-13"), pd.Timestamp("2025-06-16")], sessions)
    assert both["changes"] == [pd.Timestamp("2025-06-17")]


class RunsBeside:
    """What wait_for_earlier asks of a step's context: the instance, its own run, a log."""

    def __init__(self, instance):
        self.instance, self.run_id = instance, "this-run"
        self.log = logging.getLogger("test")


def test_a_day_whose_previous_day_another_run_is_computing_waits_for_it(warm_store):
    """A job backfill runs one run per day, side by side: 06-04's changes must not read a 06-03 that the run
    beside it has not stored yet. It waits until the day is stored, then reads it."""
    instance = DagsterInstance.ephemeral()
    create_run_for_test(instance, job_name="daily_scan", status=DagsterRunStatus.STARTED,
                        tags={PARTITION_NAME_TAG: "2025-06-03"})
    history = History(str(warm_store))
    top = history.read_dates("ranked_top_n", [pd.Timestamp("2025-06-02")])

    class OtherRunStoresTheDay(FakeClock):
        def sleep(self, seconds):
            super().sleep(seconds)
            if len(self.sleeps) == 3:  # the run beside finishes its day during the third wait
                history.replace_dates("ranked_top_n", top.assign(date=pd.Timestamp("2025-06-03")),
                                      [pd.Timestamp("2025-06-03")])

    clock = OtherRunStoresTheDay()
    wait_for_earlier(RunsBeside(instance), history, "ranked_top_n", [pd.Timestamp("2025-06-03")], clock=clock)
    assert len(clock.sleeps) == 3
    assert history.dates_present("ranked_top_n", pd.Timestamp("2025-06-03"), pd.Timestamp("2025-06-03"))


def test_a_run_that_never_stores_the_day_is_an_error_naming_it(warm_store):
    instance = DagsterInstance.ephemeral()
    run = create_run_for_test(instance, job_name="daily_scan", status=DagsterRunStatus.STARTED, tags={
        ASSET_PARTITION_RANGE_START_TAG: "2025-06-03", ASSET_PARTITION_RANGE_END_TAG: "2025-06-05"})
    clock = FakeClock()
    with pytest.raises(RuntimeError, match=f"ranked_top_n of 2025-06-04, .* run {run.run_id[:8]} after 60 s"):
        wait_for_earlier(RunsBeside(instance), History(str(warm_store)), "ranked_top_n",
                         [pd.Timestamp("2025-06-04")], timeout=60, clock=clock)
    assert 60 < clock.slept <= 62


def test_a_day_nobody_computes_is_not_waited_for(warm_store):
    """Not stored and not being computed: a day never scanned, so nothing to compare; a run of other days,
    or of other assets, is no reason to wait."""
    instance = DagsterInstance.ephemeral()
    create_run_for_test(instance, job_name="daily_scan", status=DagsterRunStatus.STARTED,
                        tags={PARTITION_NAME_TAG: "2025-06-05"})
    create_run_for_test(instance, job_name="daily_scan", status=DagsterRunStatus.STARTED,
                        tags={PARTITION_NAME_TAG: "2025-06-03"}, asset_selection={AssetKey("price_bars")})
    create_run_for_test(instance, job_name="daily_scan", status=DagsterRunStatus.SUCCESS,
                        tags={PARTITION_NAME_TAG: "2025-06-03"})
    clock = FakeClock()
    wait_for_earlier(RunsBeside(instance), History(str(warm_store)), "ranked_top_n", [pd.Timestamp("2025-06-03")],
                     clock=clock)
    assert clock.sleeps == []
