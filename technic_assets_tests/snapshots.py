"""Whole-store comparisons for the fault tests: every table of the store, row by row."""

import pandas as pd

from technic_assets.storage import connect


def query(store, sql: str, params=()) -> pd.DataFrame:
    """One query's rows from a store, opened read-only."""
    conn = connect(str(store), read_only=True)
    try:
        return conn.execute(sql, list(params)).fetchdf()
    finally:
        conn.close()


def snapshot(store) -> dict[str, pd.DataFrame]:
    """Every table of the `technic` schema, its rows in a canonical order. Opened the way Technic opens
    it, waiting while another process holds the file: a killed process keeps its lock until it has
    finished exiting, which takes a moment for one holding gigabytes."""
    conn = connect(str(store), read_only=True)
    try:
        tables = [t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'technic' ORDER BY 1").fetchall()]
        return {t: conn.execute(f"SELECT * FROM technic.{t} ORDER BY ALL").fetchdf() for t in tables}
    finally:
        conn.close()


def by_day(frame: pd.DataFrame) -> dict:
    """A table's rows per day (per training day for the stored models, per publication for filings)."""
    key = next(k for k in ("date", "trained_for", "published", "first_day") if k in frame)
    return {d: g.reset_index(drop=True) for d, g in frame.groupby(key)}


def assert_whole_days(store, reference: dict[str, pd.DataFrame], when: str) -> None:
    """Every day any table holds is exactly that day's rows in `reference`: nothing partial or mixed."""
    for table, frame in snapshot(store).items():
        assert table in reference, f"{table} exists {when} but not in the reference store"
        want = by_day(reference[table])
        for day, rows in by_day(frame).items():
            assert day in want, f"{table} holds {day} {when}, which the reference does not"
            pd.testing.assert_frame_equal(rows, want[day], obj=f"{table} {day} {when}")


def assert_same_store(store, reference: dict[str, pd.DataFrame]) -> None:
    after = snapshot(store)
    assert list(after) == list(reference)
    for table in reference:
        pd.testing.assert_frame_equal(after[table], reference[table], obj=table)


def iceberg_snapshot(url: str) -> dict[str, pd.DataFrame]:
    """`snapshot` of an Iceberg store (a TECHNIC_STORE URL): every table, read as Technic reads it."""
    from technic_assets.storage.iceberg import IcebergStore

    store = IcebergStore(url)
    tables = sorted(name for _, name in store.catalog.list_tables("technic"))
    return {t: store.query([t], f"SELECT * FROM technic.{t} ORDER BY ALL", []) for t in tables}
