"""The store after a set of scans is the same whatever their order.

`changes` reads the previous session's top N and `alpha_evaluation` the MERIT of 5 and 10 sessions
back (technic_assets.lineage): scanned newest first, each day is computed before the days it reads,
so the scan recomputes the later stored days that read the one it wrote.
"""

import shutil

import pandas as pd
import pytest

from technic_assets.cli import main
from technic_assets.lineage import followers
from technic_assets.partitions import nyse
from technic_assets_tests.snapshots import snapshot

# 06-02 is scanned in the warm store; 06-03 and 06-04 follow each other; 06-10 is 5 sessions after 06-03
DAYS = ["2025-06-03", "2025-06-04", "2025-06-10"]


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
    assert set(changed["date"].dt.strftime("%Y-%m-%d")) == set(DAYS[:2]), "06-10's previous session is not scanned"
    evaluated = oldest_first["alpha_evaluation"]
    assert (evaluated["signal_date"] == pd.Timestamp("2025-06-03")).any()


def test_the_later_days_that_read_a_day_are_counted_in_sessions():
    sessions = nyse().sessions
    later = followers([pd.Timestamp("2025-06-13")], sessions)
    # Friday 13 June: Monday the 16th reads it for its changes; 5 and 10 sessions on, skipping Juneteenth
    assert later == {"changes": [pd.Timestamp("2025-06-16")],
                     "alpha_evaluation": [pd.Timestamp("2025-06-23"), pd.Timestamp("2025-06-30")]}
    # days written together read each other in the run itself
    both = followers([pd.Timestamp("2025-06-13"), pd.Timestamp("2025-06-16")], sessions)
    assert both["changes"] == [pd.Timestamp("2025-06-17")]
