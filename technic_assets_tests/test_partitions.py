import pandas as pd
from dagster import TimeWindowPartitionMapping

from technic_assets.core.calendar import latest_closed_session, sessions_back
from technic_assets.partitions import build_partitions

trading_days = build_partitions()


def test_partitions_are_nyse_sessions_only():
    keys = set(trading_days.get_partition_keys())
    assert "2025-01-08" in keys and "2025-01-10" in keys
    assert "2025-01-09" not in keys  # national day of mourning: the exchange was closed
    assert "2025-07-04" not in keys  # Independence Day
    assert "2025-07-05" not in keys  # a Saturday
    assert "2025-11-28" in keys  # the early close after Thanksgiving is still a session


def test_history_mapping_counts_sessions_not_calendar_days():
    mapping = TimeWindowPartitionMapping(start_offset=-3)
    up = mapping.get_upstream_mapped_partitions_result_for_partitions(
        trading_days.subset_with_partition_keys(["2025-01-13"]), trading_days, trading_days)
    assert up.partitions_subset.get_partition_keys() == ["2025-01-07", "2025-01-08", "2025-01-10", "2025-01-13"]


def test_sessions_back_skips_the_closure():
    assert [d.strftime("%Y-%m-%d") for d in sessions_back("2025-01-10", 3)] == ["2025-01-07", "2025-01-08", "2025-01-10"]


def test_latest_closed_session_waits_for_the_close():
    friday_before_close = pd.Timestamp("2026-11-20 20:59", tz="UTC")  # 15:59 in New York
    friday_after_close = pd.Timestamp("2026-11-20 21:01", tz="UTC")
    saturday = pd.Timestamp("2026-11-21 15:00", tz="UTC")
    assert latest_closed_session(friday_before_close) == "2026-11-19"
    assert latest_closed_session(friday_after_close) == "2026-11-20"
    assert latest_closed_session(saturday) == "2026-11-20"
