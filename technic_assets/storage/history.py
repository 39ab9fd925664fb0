"""History reads and the store's side tables: what the assets need beyond their own partition.

Indicators read 300 sessions of bars, factors the splits in that window, the evaluation the scores of
10 sessions back, the store-backed market the sectors and filings it already knows. Every such access
goes through this one class, so a second storage backend replaces it without touching the assets.
"""

from __future__ import annotations

import os
from contextlib import closing, contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa

from technic_assets.storage.connection import (
    SCHEMA,
    add_missing_columns,
    connect,
    quoted,
    table,
    table_exists,
    transaction,
)

FILINGS_DDL = (f"CREATE TABLE IF NOT EXISTS {SCHEMA}.filings (symbol VARCHAR, period_end TIMESTAMP, "
               "published TIMESTAMP, eps_diluted DOUBLE, eps_basic DOUBLE, revenues DOUBLE, "
               "net_income DOUBLE, equity DOUBLE, liabilities DOUBLE)")
COVERAGE_DDL = f"CREATE TABLE IF NOT EXISTS {SCHEMA}.filings_coverage (first_day TIMESTAMP, last_day TIMESTAMP)"

# Columns a table gained after stores were written, and what a row from before them means: a store
# written before dividends were kept has no `dividend` column (until its next write adds it, its older
# rows then NULL), and its bars paid none that we know of. Reads give these values for both.
ADDED_COLUMNS = {"price_bars": {"dividend": 0.0}, "ranked_top_n": {"settings": None}}  # None: unknown before


def with_added_columns(name: str, frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """`frame` (rows of table `name`, with `columns` if given, else every column) with each of the
    table's ADDED_COLUMNS it asked for present and its nulls given their meaning."""
    added = {c: v for c, v in ADDED_COLUMNS.get(name, {}).items() if columns is None or c in columns}
    if not added:
        return frame
    for column, value in added.items():
        if column not in frame.columns:
            frame[column] = value
        elif value is not None:
            frame[column] = frame[column].fillna(value)
    return frame[columns] if columns is not None and list(frame.columns) != columns else frame


def stored_columns(name: str, columns: list[str], have) -> list[str]:
    """`columns` less those of table `name`'s ADDED_COLUMNS that it does not have (`have`: its
    columns), so a read of an older store asks only for what is there."""
    added = ADDED_COLUMNS.get(name, {})
    return [c for c in columns if c in have or c not in added]


def coded_frame(rows, coded: tuple[str, ...]) -> pd.DataFrame:
    """An Arrow table as a DataFrame, the `coded` columns dictionary-encoded (categorical in pandas)."""
    return pa.table({c: rows.column(c).dictionary_encode() if c in coded else rows.column(c)
                     for c in rows.column_names}).to_pandas()


def _ts(day: pd.Timestamp):
    return pd.Timestamp(day).to_pydatetime()


class History:
    """Reads and side-table writes of one store file."""

    _held = None  # the connection a `reading()` block holds

    def __init__(self, path: str, *, read_only: bool = False):
        self.path = path
        self.read_only = read_only  # a reader beside a writer (technic serve): DuckDB's shared read lock

    def query(self, name: str, sql: str, params: list, *, coded: tuple[str, ...] = (),
              arrow: bool = False) -> pd.DataFrame | None:
        """The query's rows, or None while the store file or table `name` does not exist yet. The
        `coded` text columns come back categorical, read through Arrow: millions of rows of a few
        thousand symbols cost their codes, not a Python string each. `arrow`: through Arrow with
        nothing coded too (millions of rows: DuckDB's own conversion to pandas costs several times more)."""
        if self._held is not None:
            return self._run(self._held, name, sql, params, coded, arrow)
        if not Path(self.path).exists():
            return None
        with self._connection() as conn:
            return self._run(conn, name, sql, params, coded, arrow)

    @staticmethod
    def _run(conn, name: str, sql: str, params: list, coded: tuple[str, ...], arrow: bool = False) -> pd.DataFrame | None:
        if not table_exists(conn, table(name)):
            return None
        if not coded and not arrow:
            return conn.execute(sql, params).fetchdf()
        return coded_frame(conn.sql(sql, params=params).to_arrow_table(), coded)

    def _connection(self):
        return closing(connect(self.path, read_only=True)) if self.read_only else transaction(self.path)

    def version(self) -> tuple | None:
        """What changes whenever the store file is written (its and its write-ahead log's size and
        time), so a reader may keep what it computed from it; None: no file yet."""
        try:
            main = os.stat(self.path)
        except FileNotFoundError:
            return None
        wal = Path(self.path + ".wal")
        after = wal.stat() if wal.exists() else None
        return (main.st_mtime_ns, main.st_size, after and after.st_mtime_ns, after and after.st_size)

    def beside(self) -> Path:
        """The folder where what is computed from this store may be kept in files (storage.kept_files)."""
        return Path(self.path + ".kept")

    @contextmanager
    def reading(self):
        """One connection for a block of reads: a reader asking many small questions (the live day's
        twenty) opens the file once, and lets go of it at the end, so writers are not kept out."""
        if self._held is not None or not Path(self.path).exists():
            yield self
            return
        with self._connection() as conn:
            self._held = conn
            try:
                yield self
            finally:
                self._held = None

    def dates_present(self, name: str, start: pd.Timestamp, end: pd.Timestamp) -> set[pd.Timestamp]:
        """Dates between start and end (inclusive) that table `name` holds rows for."""
        found = self.query(name, f"SELECT DISTINCT date FROM {SCHEMA}.{table(name)} WHERE date >= ? AND date <= ?",
                           [_ts(start), _ts(end)])
        return set() if found is None else {pd.Timestamp(d) for d in found["date"]}

    def read_span(self, name: str, start: pd.Timestamp, end: pd.Timestamp,
                  columns: list[str] | None = None, coded: tuple[str, ...] = (), ordered: bool = True) -> pd.DataFrame:
        """`columns` (default: every column, in date order unless not `ordered`: then, as with columns
        given, in the store's order, which a caller placing each row by its date and symbol does not
        need sorted) of the rows dated start..end; no rows if the table is not there yet: with those
        columns where given, else without any. A column the table gained later (ADDED_COLUMNS) reads as
        its meaning in rows from before it; `coded` as query's."""
        asked = columns
        if columns and set(ADDED_COLUMNS.get(name, {})) & set(columns):  # one more look, only then
            have = self.query(name, f"SELECT * FROM {SCHEMA}.{table(name)} LIMIT 0", [])
            asked = columns if have is None else stored_columns(name, columns, have.columns)
        names = ", ".join(quoted(c) for c in asked or []) or "*"
        order = " ORDER BY date" if ordered and not columns else ""
        found = self.query(name, f"SELECT {names} FROM {SCHEMA}.{table(name)} WHERE date >= ? AND date <= ?{order}",
                           [_ts(start), _ts(end)], coded=coded)
        if found is not None:
            return with_added_columns(name, found, columns)
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else float) for c in columns or []})

    def read_span_coded(self, name: str, start: pd.Timestamp, end: pd.Timestamp, columns: list[str]) -> pd.DataFrame:
        """read_span(name, start, end, columns, coded=("symbol",)), the symbols' codes found by DuckDB:
        the rows joined to the span's distinct symbols (bound as one list), so millions of symbols are
        neither copied out as text nor hashed again in one thread. Rows without a symbol are left out:
        nothing can place them. Rows in no particular order."""
        span = [_ts(start), _ts(end)]
        symbols = self.query(name, f"SELECT DISTINCT symbol FROM {SCHEMA}.{table(name)} WHERE date >= ? AND date <= ? "
                             "AND symbol IS NOT NULL", span)
        if symbols is None:
            return self.read_span(name, start, end, columns, coded=("symbol",))
        have = self.query(name, f"SELECT * FROM {SCHEMA}.{table(name)} LIMIT 0", [])
        names = ", ".join(quoted(c) for c in stored_columns(name, columns, have.columns) if c != "symbol")
        found = self.query(name, f"SELECT {names}, technic_code FROM {SCHEMA}.{table(name)} JOIN (SELECT "
                           "unnest(technic_list) AS technic_symbol, unnest(range(len(technic_list)))::INTEGER AS "
                           "technic_code FROM (SELECT ?::VARCHAR[] AS technic_list)) ON symbol = technic_symbol "
                           "WHERE date >= ? AND date <= ?", [list(symbols["symbol"]), *span], arrow=True)
        code = found.pop("technic_code").to_numpy()
        found.insert(min(columns.index("symbol"), len(found.columns)), "symbol",
                     pd.Categorical.from_codes(code, categories=pd.Index(symbols["symbol"])))
        return with_added_columns(name, found, columns)

    def read_dates(self, name: str, dates: list[pd.Timestamp]) -> pd.DataFrame:
        """Every row of table `name` dated on one of `dates` (empty, without columns, if no table)."""
        found = self.query(name, f"SELECT * FROM {SCHEMA}.{table(name)} WHERE date IN (SELECT unnest(?::TIMESTAMP[]))",
                           [[_ts(d) for d in dates]])
        return pd.DataFrame() if found is None else with_added_columns(name, found)

    def rows_per_date(self, name: str, dates: list[pd.Timestamp]) -> dict[pd.Timestamp, int]:
        """date -> rows table `name` holds for it, for those of `dates` it holds rows for."""
        found = self.query(name, f"SELECT date, count(*) AS n FROM {SCHEMA}.{table(name)} WHERE date IN "
                           "(SELECT unnest(?::TIMESTAMP[])) GROUP BY date", [[_ts(d) for d in dates]])
        return {} if found is None else {pd.Timestamp(d): int(n) for d, n in zip(found["date"], found["n"])}

    def day_rows(self, names: list[str], day: pd.Timestamp) -> dict[str, pd.DataFrame | None]:
        """Each table's rows of `day` (None where the table is not there): what `put_back` restores."""
        return {name: self.query(name, f"SELECT * FROM {SCHEMA}.{table(name)} WHERE date = ?", [_ts(day)])
                for name in names}

    def put_back(self, rows: dict[str, pd.DataFrame | None], day: pd.Timestamp) -> list[str]:
        """Each table's rows of `day` as `day_rows` found them: a run that failed part-way leaves no day
        half written (a table made by the run keeps no rows of the day). Returns the tables it rewrote."""
        rewritten = []
        for name, before in rows.items():
            if before is None:  # the table was not there: drop whatever the run put in it for the day
                now = self.query(name, f"SELECT * FROM {SCHEMA}.{table(name)} WHERE date = ?", [_ts(day)])
                if now is None or now.empty:
                    continue
                before = now.iloc[:0]
            self.replace_dates(name, before, [day])
            rewritten.append(name)
        return rewritten

    def replace_dates(self, name: str, frame: pd.DataFrame, dates: list[pd.Timestamp],
                      screens: list[str] | None = None) -> None:
        """Replace every row of `dates` (only those of `screens`, and rows from before screens, where
        given) with `frame`, atomically (the I/O manager's rule)."""
        name = table(name)
        with transaction(self.path) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}").fetchall()
            conn.register("frame", frame)
            if not table_exists(conn, name):
                conn.execute(f"CREATE TABLE {SCHEMA}.{name} AS SELECT * FROM frame").fetchall()
                return
            where, params = "date IN (SELECT unnest(?::TIMESTAMP[]))", [[_ts(d) for d in dates]]
            if screens is not None:
                where += " AND (screen IN (SELECT unnest(?::VARCHAR[])) OR screen IS NULL)"
                params.append(list(screens))
            conn.execute(f"DELETE FROM {SCHEMA}.{name} WHERE {where}", params).fetchall()
            # an older store gains the columns added since (any other unknown column is an error)
            add_missing_columns(conn, SCHEMA, name, "frame", only=ADDED_COLUMNS.get(name, {}))
            if len(frame):
                conn.execute(f"INSERT INTO {SCHEMA}.{name} BY NAME SELECT * FROM frame").fetchall()

    def sources(self) -> dict[pd.Timestamp, str]:
        """date -> the data source its universe was read from, as recorded with the rows (days stored
        before sources were recorded, and a store without a universe: none)."""
        columns = self.query("universe", f"SELECT * FROM {SCHEMA}.universe LIMIT 0", [])
        if columns is None or "source" not in columns.columns:
            return {}
        found = self.query("universe", f"SELECT date, any_value(source) AS source FROM {SCHEMA}.universe "
                           "WHERE source IS NOT NULL GROUP BY date", [])
        return {pd.Timestamp(d): s for d, s in zip(found["date"], found["source"])}

    def latest_sectors(self, before: pd.Timestamp) -> dict[str, str]:
        """symbol -> sector from the most recent universe partition up to `before` (empty if none)."""
        found = self.query("universe", f"SELECT symbol, sector FROM {SCHEMA}.universe WHERE date = "
                           f"(SELECT max(date) FROM {SCHEMA}.universe WHERE date <= ?) AND sector <> 'Unknown'",
                           [_ts(before)])
        return {} if found is None else dict(zip(found["symbol"], found["sector"]))

    def symbol_kinds(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """symbol, type, is_leveraged of every symbol in a stored universe partition start..end."""
        found = self.query("universe", f"SELECT symbol, any_value(type) AS type, bool_or(is_leveraged) AS "
                           f"is_leveraged FROM {SCHEMA}.universe WHERE date >= ? AND date <= ? GROUP BY symbol",
                           [_ts(start), _ts(end)])
        return found if found is not None else pd.DataFrame(columns=["symbol", "type", "is_leveraged"])

    # -- filings: the L2 cache of a source that serves filings (Polygon) --------------------------
    def filing_gaps(self, start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Calendar-day ranges within start..end whose filings the store has not fetched yet."""
        found = self.query("filings_coverage", f"SELECT first_day, last_day FROM {SCHEMA}.filings_coverage "
                           "WHERE last_day >= ? AND first_day <= ? ORDER BY first_day", [_ts(start), _ts(end)])
        covered = [] if found is None else [(pd.Timestamp(a), pd.Timestamp(b))
                                            for a, b in zip(found["first_day"], found["last_day"])]
        gaps, cursor = [], start
        for first, last in covered:
            if first > cursor:
                gaps.append((cursor, first - pd.Timedelta(days=1)))
            cursor = max(cursor, last + pd.Timedelta(days=1))
        if cursor <= end:
            gaps.append((cursor, end))
        return gaps

    def replace_filings(self, filings: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp,
                        covered_through: pd.Timestamp) -> None:
        """Store the filings published first..last (replacing any stored for those days) and record
        the days up to `covered_through` as fetched, atomically."""
        with transaction(self.path) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}").fetchall()
            conn.execute(FILINGS_DDL).fetchall()
            conn.execute(COVERAGE_DDL).fetchall()
            conn.execute(f"DELETE FROM {SCHEMA}.filings WHERE published >= ? AND published <= ?",
                         [_ts(first), _ts(last)]).fetchall()
            conn.register("new_filings", filings)
            conn.execute(f"INSERT INTO {SCHEMA}.filings SELECT symbol, period_end, published, eps_diluted, "
                         "eps_basic, revenues, net_income, equity, liabilities FROM new_filings").fetchall()
            if covered_through >= first:
                conn.execute(f"INSERT INTO {SCHEMA}.filings_coverage VALUES (?, ?)",
                             [_ts(first), _ts(min(last, covered_through))]).fetchall()

    def model_bytes(self, model_id: str) -> bytes:
        """A stored alpha model's serialized booster; an id the store lacks is an error naming it."""
        found = self.query("alpha_models", f"SELECT model FROM {SCHEMA}.alpha_models WHERE model_id = ?", [model_id])
        if found is None or found.empty:
            raise ValueError(f"alpha model {model_id!r} is not in the store {self.path}: "
                             "materialize alpha_model for the day first")
        return bytes(found["model"].iloc[0])

    def read_filings(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.query("filings", f"SELECT * FROM {SCHEMA}.filings WHERE published >= ? AND published <= ?",
                          [_ts(start), _ts(end)])


def screen_span(history, name: str, start: pd.Timestamp, end: pd.Timestamp, columns: list[str] | None,
                screen: str, coded: tuple[str, ...] = (), ordered: bool = True) -> pd.DataFrame:
    """`columns` (None: every one) of one screen's stored rows of `name` dated start..end (none, typed,
    without a table); the columns and the screen are chosen in the query, not after reading every row of
    every screen; `coded` as History.query's. In date order unless not `ordered` (sorting millions of
    rows costs a reader that places each row by its own date about half the read)."""
    head = history.query(name, f"SELECT * FROM {SCHEMA}.{table(name)} LIMIT 0", [])
    if head is None:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else float) for c in columns or []})
    names = ", ".join(quoted(c) for c in columns) if columns else "*"
    order = " ORDER BY date" if ordered else ""
    if "screen" not in head.columns:
        return history.query(name, f"SELECT {names} FROM {SCHEMA}.{table(name)} WHERE date >= ? AND date <= ?{order}",
                             [_ts(start), _ts(end)], coded=coded)
    return history.query(name, f"SELECT {names} FROM {SCHEMA}.{table(name)} WHERE date >= ? AND date <= ? AND "
                               f"coalesce(screen, 'default') = ?{order}", [_ts(start), _ts(end), screen],
                         coded=coded)


def screen_rows(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """One screen's rows of a screened table, without the column (rows stored before screens: "default")."""
    if "screen" not in frame.columns:
        return frame
    return frame[frame["screen"].fillna("default") == name].drop(columns="screen").reset_index(drop=True)
