import duckdb
import pandas as pd
import pytest

from technic_assets.storage import History, StoreIOManager, StoreResource, db_path


def frame(day, value):
    return pd.DataFrame({"date": [pd.Timestamp(day)] * 2, "symbol": ["A", "B"], "close": [value, value]})


def test_replace_dates_is_atomic(store_path):
    store = History(str(store_path))
    store.replace_dates("price_bars", frame("2025-06-02", 1.0), [pd.Timestamp("2025-06-02")])
    store.replace_dates("price_bars", frame("2025-06-02", 2.0), [pd.Timestamp("2025-06-02")])
    bad = frame("2025-06-02", 3.0).rename(columns={"close": "wrong_column"}).assign(extra=1)
    with pytest.raises(duckdb.Error):
        store.replace_dates("price_bars", bad, [pd.Timestamp("2025-06-02")])
    conn = duckdb.connect(str(store_path), read_only=True)
    rows = conn.execute("SELECT symbol, close FROM technic.price_bars ORDER BY symbol").fetchall()
    assert rows == [("A", 2.0), ("B", 2.0)]  # replaced once, and the failed write left it intact


def test_symbols_that_look_like_sql_are_only_data(store_path):
    store = History(str(store_path))
    evil = pd.DataFrame({"date": [pd.Timestamp("2025-06-02")], "symbol": ["A'); DROP TABLE technic.price_bars; --"],
                         "close": [1.0]})
    store.replace_dates("price_bars", evil, [pd.Timestamp("2025-06-02")])
    assert store.dates_present("price_bars", pd.Timestamp("2025-06-01"), pd.Timestamp("2025-06-03")) == {
        pd.Timestamp("2025-06-02")}
    assert store.read_dates("price_bars", [pd.Timestamp("2025-06-02")])["symbol"].tolist() == evil["symbol"].tolist()


def test_the_store_file_may_not_shadow_the_schema(tmp_path):
    with pytest.raises(ValueError, match="technic"):
        db_path(str(tmp_path / "technic.duckdb"))


def test_a_store_from_an_older_version_gains_new_columns_and_rows_go_in_by_name(store_path):
    """merit gained alpha columns: an existing table is extended, never misaligned or refused."""
    from dagster import asset, materialize

    from technic_assets.partitions import build_partitions

    def version(columns):
        @asset(name="scores_table", partitions_def=build_partitions(), metadata={"partition_expr": "date"})
        def scores_table(context):
            return pd.DataFrame({"date": [pd.Timestamp(context.partition_key)], **columns})
        return scores_table

    io = {"io_manager": StoreIOManager(store=StoreResource(database=str(store_path)))}
    old = version({"symbol": ["A"], "score": [1.0]})
    new = version({"alpha": [0.5], "score": [2.0], "symbol": ["B"]})  # reordered, one more column
    assert materialize([old], partition_key="2025-06-02", resources=io).success
    assert materialize([new], partition_key="2025-06-03", resources=io).success
    assert materialize([new], partition_key="2025-06-02", resources=io).success  # a rewrite replaces
    assert materialize([old], partition_key="2025-06-04", resources=io).success  # an older writer: NULL alpha
    conn = duckdb.connect(str(store_path), read_only=True)
    rows = conn.execute("SELECT date::DATE::VARCHAR, symbol, score, alpha FROM technic.scores_table ORDER BY date").fetchall()
    conn.close()
    assert rows == [("2025-06-02", "B", 2.0, 0.5), ("2025-06-03", "B", 2.0, 0.5), ("2025-06-04", "A", 1.0, None)]


def test_a_span_read_with_symbols_coded_by_duckdb_has_the_rows_of_the_span(store_path):
    """read_span_coded: the rows dated in the span, each with its own symbol (a categorical whose codes
    DuckDB found), the columns asked in their order, a store from before dividends reading 0.0; a row
    without a symbol is left out."""
    day, later = pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-04")
    bars = pd.DataFrame({"date": [day, day, day, later, later], "symbol": ["B", "A", None, "C'; --", "B"],
                         "close": [2.0, 1.0, 9.0, 3.0, 4.0], "split_ratio": [1.0, 2.0, 1.0, 1.0, 1.0]})
    store = History(str(store_path))
    store.replace_dates("price_bars", bars, [day, later])
    columns = ["date", "symbol", "close", "split_ratio", "dividend"]
    span = store.read_span_coded("price_bars", day, later, columns)
    assert list(span.columns) == columns and isinstance(span["symbol"].dtype, pd.CategoricalDtype)
    rows = sorted(zip(span["date"].dt.strftime("%m-%d"), span["symbol"].astype(str), span["close"], span["split_ratio"],
                      span["dividend"]))
    assert rows == [("06-02", "A", 1.0, 2.0, 0.0), ("06-02", "B", 2.0, 1.0, 0.0), ("06-04", "B", 4.0, 1.0, 0.0),
                    ("06-04", "C'; --", 3.0, 1.0, 0.0)]
    assert store.read_span_coded("price_bars", later, later, ["date", "symbol", "close"])["close"].tolist() in (
        [3.0, 4.0], [4.0, 3.0])


def test_a_span_read_in_the_stores_order_has_the_rows_of_the_span_in_date_order_or_not(store_path):
    """read_span: every column in date order by default; not `ordered`, the same rows in the store's
    order (a later day written first comes first), each row whole."""
    first, later = pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-04")
    store = History(str(store_path))
    for day, symbols in ((later, ["C", "A"]), (first, ["B", "A"])):  # the later day written first
        names = [s * 2 for s in symbols]
        store.replace_dates("universe", pd.DataFrame({"date": day, "symbol": symbols, "name": names}), [day])
    ordered = store.read_span("universe", first, later)
    stored = store.read_span("universe", first, later, ordered=False)
    assert ordered["date"].is_monotonic_increasing and not stored["date"].is_monotonic_increasing
    assert sorted(zip(stored["date"], stored["symbol"], stored["name"])) == sorted(
        zip(ordered["date"], ordered["symbol"], ordered["name"])) == [
        (first, "A", "AA"), (first, "B", "BB"), (later, "A", "AA"), (later, "C", "CC")]


def test_a_store_from_before_dividends_reads_them_as_none_and_gains_the_column(store_path):
    """price_bars written without `dividend` (a store of an older Technic): every read gives 0.0; the
    next write of bars with dividends adds the column, the older rows still reading 0.0."""
    from technic_assets.core.calendar import nyse
    from technic_assets.core.schema import BAR_COLUMNS
    from technic_assets.live.day import read_window

    old_day, new_day = pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-03")
    bars = pd.DataFrame({"date": [old_day] * 2, "symbol": ["A", "B"], "open": 1.0, "high": 1.0, "low": 1.0,
                         "close": 1.0, "volume": 100.0, "split_ratio": 1.0})
    store = History(str(store_path))
    store.replace_dates("price_bars", bars, [old_day])
    span = store.read_span("price_bars", old_day, new_day, BAR_COLUMNS)
    assert list(span.columns) == BAR_COLUMNS and span["dividend"].tolist() == [0.0, 0.0]
    assert store.read_dates("price_bars", [old_day])["dividend"].tolist() == [0.0, 0.0]
    window = read_window(str(store_path), old_day, nyse().sessions)
    assert list(window.columns) == BAR_COLUMNS and window["dividend"].tolist() == [0.0, 0.0]

    store.replace_dates("price_bars", bars.assign(date=new_day, dividend=[0.25, 0.0]), [new_day])
    span = store.read_span("price_bars", old_day, new_day, ["date", "symbol", "dividend"]).sort_values(["date", "symbol"])
    assert span["dividend"].tolist() == [0.0, 0.0, 0.25, 0.0]
    conn = duckdb.connect(str(store_path), read_only=True)
    stored = conn.execute("SELECT dividend FROM technic.price_bars ORDER BY date, symbol").fetchall()
    conn.close()
    assert stored == [(None,), (None,), (0.25,), (0.0,)]  # the older rows hold NULL, read as 0.0
