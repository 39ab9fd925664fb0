"""The Iceberg store (TECHNIC_STORE) against the DuckDB file: the same tables, the same rows.

A real PostgreSQL catalog and a temporary warehouse directory; each expected value is the DuckDB
backend's (the reference implementation, tested against TA-Lib and hand computation elsewhere) or a
count written by hand.
"""

import multiprocessing

import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from technic_assets.live.engine import LiveEngine
from technic_assets.storage.iceberg import IcebergStore, parse_store_url
from technic_assets.storage.iceberg_history import IcebergHistory, IcebergModelRegistry
from technic_assets_tests.graph import ASSETS, resources
from technic_assets_tests.services import iceberg_url, pg_database
from technic_assets_tests.snapshots import iceberg_snapshot, snapshot

DAY = "2025-06-02"


@pytest.fixture
def iceberg_store(tmp_path):
    """TECHNIC_STORE of an empty Iceberg store: the catalog in a new PostgreSQL database."""
    with pg_database("technic_ice") as db:
        yield iceberg_url(db, tmp_path / "warehouse")


def test_the_store_url_is_checked_and_its_password_never_shown():
    assert parse_store_url("iceberg+postgresql://u:pw@db:5432/cat?warehouse=/shared/w") == (
        "postgresql+psycopg2://u:pw@db:5432/cat", "file:///shared/w")
    for bad in ("postgresql://u:s3cret@db/cat?warehouse=/w", "iceberg+postgresql://u:s3cret@db/cat"):
        with pytest.raises(ValueError, match="TECHNIC_STORE") as err:
            parse_store_url(bad)
        assert "s3cret" not in str(err.value) and "***" in str(err.value)
    assert "s3cret" not in repr(IcebergStore("iceberg+postgresql://u:s3cret@db/cat?warehouse=/w"))
    with pytest.raises(RuntimeError, match="catalog of TECHNIC_STORE=.* cannot be opened") as err:
        IcebergStore("iceberg+postgresql://u:s3cret@127.0.0.1:1/cat?warehouse=/tmp/technic-none").load("universe")
    assert "s3cret" not in str(err.value)


def test_a_day_of_the_whole_graph_is_the_same_on_both_backends_and_served_alike(tmp_path, monkeypatch, iceberg_store):
    """Every table, the models included (alpha on), row for row and type for type."""
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(tmp_path / "store.duckdb"))
    assert materialize(ASSETS, partition_key=DAY, resources=resources(80), instance=DagsterInstance.ephemeral()).success
    reference = snapshot(tmp_path / "store.duckdb")
    monkeypatch.setenv("TECHNIC_STORE", iceberg_store)
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(tmp_path / "unused.duckdb"))
    assert materialize(ASSETS, partition_key=DAY, resources=resources(80), instance=DagsterInstance.ephemeral()).success
    assert not (tmp_path / "unused.duckdb").exists()
    stored = iceberg_snapshot(iceberg_store)
    assert sorted(stored) == sorted(reference) and "alpha_models" in stored
    for name, frame in reference.items():
        assert len(frame) or name in ("alpha_evaluation", "changes", "track_record"), name  # the first day: no past
        pd.testing.assert_frame_equal(stored[name], frame, obj=name)

    # and `technic serve` serves either: the live engine reads its day through the storage interface
    on_iceberg, on_file = LiveEngine.load(iceberg_store, DAY), LiveEngine.load(tmp_path / "store.duckdb", DAY)
    assert on_iceberg.stored.settings_stored and on_iceberg.day_settings == on_file.day_settings
    pd.testing.assert_frame_equal(on_iceberg.window_bars, on_file.window_bars)
    pd.testing.assert_frame_equal(on_iceberg.stored.forecasts, on_file.stored.forecasts)
    pd.testing.assert_frame_equal(on_iceberg.screen().top, on_file.screen().top)
    assert on_iceberg.screen().top["symbol"].tolist() == stored["ranked_top_n"].sort_values("rank")["symbol"].tolist()


def _day(day: str, writer: int, rows: int = 50) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.Timestamp(day), "symbol": [f"S{i:03d}" for i in range(rows)],
                         "value": [writer * 1000.0 + i for i in range(rows)], "writer": writer})


def test_replacing_days_keeps_one_copy_and_adds_new_columns(iceberg_store):
    history = IcebergHistory(IcebergStore(iceberg_store))
    history.replace_dates("things", pd.concat([_day("2025-06-02", 1), _day("2025-06-03", 1)]),
                          [pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-03")])
    history.replace_dates("things", _day("2025-06-03", 2).assign(extra="x"), [pd.Timestamp("2025-06-03")])
    found = history.read_span("things", pd.Timestamp("2025-06-01"), pd.Timestamp("2025-06-30"),
                              ["date", "writer", "extra"])
    counts = found.groupby(["date", "writer"]).size().to_dict()
    assert counts == {(pd.Timestamp("2025-06-02"), 1): 50, (pd.Timestamp("2025-06-03"), 2): 50}
    assert found.loc[found["writer"] == 1, "extra"].isna().all() and (found.loc[found["writer"] == 2, "extra"] == "x").all()
    assert history.dates_present("things", pd.Timestamp("2025-06-01"), pd.Timestamp("2025-06-02")) == {pd.Timestamp("2025-06-02")}


def test_filings_and_models_side_tables(iceberg_store):
    store = IcebergStore(iceberg_store)
    history, registry = IcebergHistory(store), IcebergModelRegistry(store)
    filing = pd.DataFrame({"symbol": ["AAA"], "period_end": [pd.Timestamp("2025-03-31")],
                           "published": [pd.Timestamp("2025-05-01")], "eps_diluted": [1.0], "eps_basic": [1.1],
                           "revenues": [10.0], "net_income": [2.0], "equity": [5.0], "liabilities": [3.0]})
    for _ in range(2):  # fetched twice: replaced, not doubled
        history.replace_filings(filing, pd.Timestamp("2025-05-01"), pd.Timestamp("2025-05-10"),
                                covered_through=pd.Timestamp("2025-05-07"))
    assert len(history.read_filings(pd.Timestamp("2025-04-01"), pd.Timestamp("2025-06-01"))) == 1
    assert history.filing_gaps(pd.Timestamp("2025-05-01"), pd.Timestamp("2025-05-10")) == [
        (pd.Timestamp("2025-05-08"), pd.Timestamp("2025-05-10"))]
    model = ("m1", 5, pd.Timestamp("2025-06-02"), "cfg", "{}", b"\x00booster\xff")
    registry.save([model])
    registry.save([model])
    assert registry.find(pd.Timestamp("2025-06-02"), "cfg")["model_id"].tolist() == ["m1"]
    assert registry.model_bytes("m1") == b"\x00booster\xff"


def _overwrite(url: str, writer: int, rounds: int) -> None:
    history = IcebergHistory(IcebergStore(url))
    for _ in range(rounds):
        history.replace_dates("contested", _day("2025-06-02", writer), [pd.Timestamp("2025-06-02")])


def test_two_processes_replacing_one_partition_at_once_leave_no_duplicates(iceberg_store):
    _overwrite(iceberg_store, 0, 1)  # the table exists before the race
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_overwrite, args=(iceberg_store, w, 4)) for w in (1, 2)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(120)
        assert p.exitcode == 0
    found = IcebergHistory(IcebergStore(iceberg_store)).read_dates("contested", [pd.Timestamp("2025-06-02")])
    assert len(found) == 50 and found["writer"].nunique() == 1 and found["writer"].iloc[0] in (1, 2)
    assert found["symbol"].is_unique
    snapshots = IcebergStore(iceberg_store).load("contested").snapshots()
    assert len(snapshots) >= 1 + 2 * 4  # every overwrite committed (some after a retry), none lost


def test_a_screened_table_is_replaced_per_screen_as_on_the_duckdb_file(iceberg_store):
    """The I/O manager's write of some screens' rows of a day keeps the other screens' rows (and
    replaces rows from before screens), the same rule as storage.io_manager.replace_slice."""
    from datetime import datetime

    from dagster import TimeWindow
    from dagster._core.storage.db_io_manager import TablePartitionDimension, TableSlice

    from technic_assets.storage.iceberg_history import replaced_rows

    store = IcebergStore(iceberg_store)
    day = TableSlice(table="ranked", schema="technic", partition_dimensions=[TablePartitionDimension(
        partition_expr="date", partitions=TimeWindow(datetime(2025, 6, 2), datetime(2025, 6, 3)))])
    legacy = _day(DAY, 0, 5)  # stored before screens: no screen column
    store.replace("ranked", legacy, replaced_rows(day, legacy))
    both = pd.concat([_day(DAY, 1, 5).assign(screen="default"), _day(DAY, 1, 3).assign(screen="energy")])
    store.replace("ranked", both, replaced_rows(day, both))
    energy = _day(DAY, 2, 4).assign(screen="energy")
    store.replace("ranked", energy, replaced_rows(day, energy))
    found = store.query(["ranked"], "SELECT screen, writer, count(*) AS n FROM technic.ranked GROUP BY ALL "
                        "ORDER BY screen", [])
    assert found.values.tolist() == [["default", 1, 5], ["energy", 2, 4]]


def test_bars_from_before_dividends_read_as_none_and_the_column_is_added(iceberg_store):
    """price_bars written without `dividend` on the Iceberg store: reads give 0.0; a write with dividends
    adds the column by name and the older rows still read 0.0 (as on the DuckDB file, test_store.py)."""
    from technic_assets.core.schema import BAR_COLUMNS

    old_day, new_day = pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-03")
    bars = pd.DataFrame({"date": [old_day] * 2, "symbol": ["A", "B"], "open": 1.0, "high": 1.0, "low": 1.0,
                         "close": 1.0, "volume": 100.0, "split_ratio": 1.0})
    history = IcebergHistory(IcebergStore(iceberg_store))
    history.replace_dates("price_bars", bars, [old_day])
    span = history.read_span("price_bars", old_day, new_day, BAR_COLUMNS)
    assert list(span.columns) == BAR_COLUMNS and span["dividend"].tolist() == [0.0, 0.0]
    history.replace_dates("price_bars", bars.assign(date=new_day, dividend=[0.25, 0.0]), [new_day])
    span = history.read_span("price_bars", old_day, new_day, ["date", "symbol", "dividend"]).sort_values(["date", "symbol"])
    assert span["dividend"].tolist() == [0.0, 0.0, 0.25, 0.0]
    assert history.read_dates("price_bars", [old_day, new_day])["dividend"].sum() == 0.25
    coded = history.read_span_coded("price_bars", old_day, new_day, ["date", "symbol", "dividend"])  # the record's read
    assert sorted(zip(coded["date"], coded["symbol"].astype(str), coded["dividend"])) == [
        (old_day, "A", 0.0), (old_day, "B", 0.0), (new_day, "A", 0.25), (new_day, "B", 0.0)]
