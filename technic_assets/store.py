"""The DuckDB store: every asset is a table in schema `technic` of one file, partitioned by `date`.

The official Dagster DuckDB pandas I/O manager does the partitioned reads and writes; ours only wraps
each write in a transaction, so the delete-then-insert that replaces a partition is all or nothing (a
killed run leaves the old partition, never half of a new one), and waits longer for the file's
single-writer lock when several processes want it.
"""

from __future__ import annotations

import os
import random
import re
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
from dagster import ConfigurableResource, TimeWindow
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasIOManager, DuckDBPandasTypeHandler

DEFAULT_DB_PATH = "~/.technic/store.duckdb"
SCHEMA = "technic"
LOCK_WAIT_SECONDS = 120.0


def db_path(configured: str = "") -> str:
    """The store's file: the configured path, else TECHNIC_DUCKDB_PATH, else ~/.technic/store.duckdb."""
    raw = configured or os.environ.get("TECHNIC_DUCKDB_PATH") or DEFAULT_DB_PATH
    path = Path(raw).expanduser()
    if path.stem == SCHEMA:  # DuckDB names the catalog after the file; it would shadow the schema
        raise ValueError(f"TECHNIC_DUCKDB_PATH={raw!r}: the file may not be named {SCHEMA}.*, "
                         f"which DuckDB would confuse with the schema {SCHEMA!r}; try store.duckdb")
    if path.is_dir():
        raise ValueError(f"TECHNIC_DUCKDB_PATH={raw!r} is a directory; name a file in it, e.g. {path / 'store.duckdb'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def connect(path: str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting (with jittered backoff) while another process holds its lock."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    delay = 0.05
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)


@contextmanager
def transaction(path: str):
    """A connection inside one transaction: committed on success, rolled back on any error."""
    conn = connect(path)
    try:
        conn.execute("BEGIN TRANSACTION").fetchall()
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _table(name: str) -> str:
    """A table name, checked: names are interpolated into SQL (values never are; they are bound)."""
    if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
        raise ValueError(f"table name {name!r} is not a plain lower-case identifier")
    return name


def _table_exists(conn, schema: str, table: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(row[0][0])


def _slice_sql(table_slice) -> tuple[str, str, list]:
    """(schema.table, WHERE clause, bound values) of an I/O manager table slice. The stock client
    formats the partition's bounds into the SQL text; here they are bound like every other value."""
    table = f"{_table(table_slice.schema)}.{_table(table_slice.table)}"
    clauses, params = [], []
    for dim in table_slice.partition_dimensions or []:
        if not isinstance(dim.partitions, TimeWindow):
            raise ValueError(f"{table}: only time-window partitions are stored (got {type(dim.partitions).__name__})")
        expr = _quoted(dim.partition_expr)
        clauses.append(f"{expr} >= ? AND {expr} < ?")
        params += [dim.partitions.start.replace(tzinfo=None), dim.partitions.end.replace(tzinfo=None)]
    return table, (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class TransactionalDuckDbClient(DuckDbClient):
    @staticmethod
    def ensure_schema_exists(context, table_slice, connection) -> None:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_table(table_slice.schema)}").fetchall()

    @staticmethod
    def delete_table_slice(context, table_slice, connection) -> None:
        # The stock client tries the DELETE and ignores a missing table; inside a transaction that
        # failure would abort the transaction, so look first.
        if _table_exists(connection, table_slice.schema, table_slice.table):
            table, where, params = _slice_sql(table_slice)
            connection.execute(f"DELETE FROM {table}{where}", params).fetchall()

    @staticmethod
    @contextmanager
    def connect(context, _table_slice):
        with transaction(db_path(context.resource_config["database"])) as conn:
            yield conn


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PandasTypeHandler(DuckDBPandasTypeHandler):
    """Three departures from the stock handler. Partition bounds are bound parameters, not SQL text.
    An empty frame creates its (empty) table, so a legitimately empty partition (a source without
    fundamentals, a day before any alpha model) does not break every reader. And rows go into an existing table by column name, adding any column a
    newer Technic writes (a store built before the alpha models gains merit's alpha columns, the
    older partitions reading NULL there) instead of failing, or pairing columns up by position."""

    def load_input(self, context, table_slice, connection) -> pd.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pd.DataFrame()
        table, where, params = _slice_sql(table_slice)
        names = ", ".join(_quoted(c) for c in table_slice.columns) if table_slice.columns else "*"
        return connection.execute(f"SELECT {names} FROM {table}{where}", params).fetchdf()

    def handle_output(self, context, table_slice, obj: pd.DataFrame, connection):
        table = f"{_table(table_slice.schema)}.{_table(table_slice.table)}"
        connection.register("technic_frame", obj)  # the connection is closed after the write
        if not _table_exists(connection, table_slice.schema, table_slice.table):
            connection.execute(f"CREATE TABLE {table} AS SELECT * FROM technic_frame").fetchall()
        else:
            have = {r[0] for r in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                [table_slice.schema, table_slice.table]).fetchall()}
            for name, kind, *_ in connection.execute("DESCRIBE SELECT * FROM technic_frame").fetchall():
                if name not in have:
                    connection.execute(f"ALTER TABLE {table} ADD COLUMN {_quoted(name)} {kind}").fetchall()
            if not obj.empty:
                connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM technic_frame").fetchall()
        context.add_output_metadata({"dagster/partition_row_count": len(obj), "dagster/storage_kind": "duckdb"})
        return None


class TechnicIOManager(DuckDBPandasIOManager):
    """DuckDBPandasIOManager whose partition writes are atomic; `database` empty means db_path()."""

    @staticmethod
    def type_handlers():
        return [PandasTypeHandler()]

    def create_io_manager(self, context):
        manager = super().create_io_manager(context)
        manager._db_client = TransactionalDuckDbClient()  # noqa: SLF001 - the one seam it offers
        return manager


class StoreResource(ConfigurableResource):
    """Direct access to the store for what the I/O manager cannot express (filling history)."""

    database: str = ""

    @property
    def path(self) -> str:
        return db_path(self.database)

    def table_exists(self, conn, table: str) -> bool:
        return _table_exists(conn, SCHEMA, table)

    def dates_present(self, table: str, start: pd.Timestamp, end: pd.Timestamp) -> set[pd.Timestamp]:
        """Dates between start and end (inclusive) that `table` already holds rows for."""
        table = _table(table)
        if not Path(self.path).exists():
            return set()
        with transaction(self.path) as conn:
            if not self.table_exists(conn, table):
                return set()
            rows = conn.execute(
                f"SELECT DISTINCT date FROM {SCHEMA}.{table} WHERE date >= ? AND date <= ?",
                [start.to_pydatetime(), end.to_pydatetime()],
            ).fetchall()
        return {pd.Timestamp(r[0]) for r in rows}

    def latest_sectors(self, before: pd.Timestamp) -> dict[str, str]:
        """symbol -> sector from the most recent universe partition up to `before` (empty if none)."""
        if not Path(self.path).exists():
            return {}
        with transaction(self.path) as conn:
            if not self.table_exists(conn, "universe"):
                return {}
            rows = conn.execute(
                f"SELECT symbol, sector FROM {SCHEMA}.universe WHERE date = "
                f"(SELECT max(date) FROM {SCHEMA}.universe WHERE date <= ?) AND sector <> 'Unknown'",
                [before.to_pydatetime()],
            ).fetchall()
        return dict(rows)

    def filing_gaps(self, start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Calendar-day ranges within start..end whose filings the store has not fetched yet."""
        covered: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        if Path(self.path).exists():
            with transaction(self.path) as conn:
                if self.table_exists(conn, "filings_coverage"):
                    covered = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in conn.execute(
                        f"SELECT first_day, last_day FROM {SCHEMA}.filings_coverage "
                        "WHERE last_day >= ? AND first_day <= ? ORDER BY first_day",
                        [start.to_pydatetime(), end.to_pydatetime()]).fetchall()]
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
            conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.filings (symbol VARCHAR, period_end TIMESTAMP, "
                         "published TIMESTAMP, eps_diluted DOUBLE, eps_basic DOUBLE, revenues DOUBLE, "
                         "net_income DOUBLE, equity DOUBLE, liabilities DOUBLE)").fetchall()
            conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.filings_coverage (first_day TIMESTAMP, "
                         "last_day TIMESTAMP)").fetchall()
            conn.execute(f"DELETE FROM {SCHEMA}.filings WHERE published >= ? AND published <= ?",
                         [first.to_pydatetime(), last.to_pydatetime()]).fetchall()
            conn.register("new_filings", filings)
            conn.execute(f"INSERT INTO {SCHEMA}.filings SELECT symbol, period_end, published, eps_diluted, "
                         "eps_basic, revenues, net_income, equity, liabilities FROM new_filings").fetchall()
            if covered_through >= first:
                conn.execute(f"INSERT INTO {SCHEMA}.filings_coverage VALUES (?, ?)",
                             [first.to_pydatetime(), min(last, covered_through).to_pydatetime()]).fetchall()

    def read_filings(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        with transaction(self.path) as conn:
            return conn.execute(f"SELECT * FROM {SCHEMA}.filings WHERE published >= ? AND published <= ?",
                                [start.to_pydatetime(), end.to_pydatetime()]).fetchdf()

    def _frame_if_present(self, table: str, sql: str, params: list) -> pd.DataFrame | None:
        """The query's rows, or None while the store file or `table` does not exist yet."""
        if not Path(self.path).exists():
            return None
        with transaction(self.path) as conn:
            if not self.table_exists(conn, table):
                return None
            return conn.execute(sql, params).fetchdf()

    def read_span(self, table: str, start: pd.Timestamp, end: pd.Timestamp, columns: list[str]) -> pd.DataFrame:
        """`columns` of the rows dated start..end; no rows (with those columns) if the table is not there yet."""
        table = _table(table)
        names = ", ".join(_quoted(c) for c in columns)
        found = self._frame_if_present(table, f"SELECT {names} FROM {SCHEMA}.{table} WHERE date >= ? AND date <= ?",
                                       [start.to_pydatetime(), end.to_pydatetime()])
        if found is not None:
            return found
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else float) for c in columns})

    def read_dates(self, table: str, dates: list[pd.Timestamp]) -> pd.DataFrame:
        table = _table(table)
        with transaction(self.path) as conn:
            return conn.execute(
                f"SELECT * FROM {SCHEMA}.{table} WHERE date IN (SELECT unnest(?::TIMESTAMP[]))",
                [[d.to_pydatetime() for d in dates]],
            ).fetchdf()

    def replace_dates(self, table: str, frame: pd.DataFrame, dates: list[pd.Timestamp]) -> None:
        """Replace every row of `dates` with `frame`, atomically (the same rule as the I/O manager)."""
        table = _table(table)
        with transaction(self.path) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}").fetchall()
            if not self.table_exists(conn, table):
                conn.register("frame", frame)
                conn.execute(f"CREATE TABLE {SCHEMA}.{table} AS SELECT * FROM frame").fetchall()
                return
            conn.execute(
                f"DELETE FROM {SCHEMA}.{table} WHERE date IN (SELECT unnest(?::TIMESTAMP[]))",
                [[d.to_pydatetime() for d in dates]],
            ).fetchall()
            conn.register("frame", frame)
            conn.execute(f"INSERT INTO {SCHEMA}.{table} SELECT * FROM frame").fetchall()

    # -- alpha models: content-addressed, one row per model ------------------------------------
    def find_models(self, trained_for: pd.Timestamp, config: str) -> pd.DataFrame:
        """Stored models trained for `trained_for` under training config `config` (without blobs)."""
        found = self._frame_if_present(
            "alpha_models", f"SELECT model_id, horizon, meta FROM {SCHEMA}.alpha_models "
            "WHERE trained_for = ? AND config = ? ORDER BY horizon", [trained_for.to_pydatetime(), config])
        return found if found is not None else pd.DataFrame(columns=["model_id", "horizon", "meta"])

    def save_models(self, models: list[tuple[str, int, pd.Timestamp, str, str, bytes]]) -> None:
        """Store (model_id, horizon, trained_for, config, meta json, serialized booster) rows
        atomically; a model already stored under its id is kept (same id, same bytes)."""
        with transaction(self.path) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}").fetchall()
            conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.alpha_models (model_id VARCHAR PRIMARY KEY, "
                         "horizon INTEGER, trained_for TIMESTAMP, config VARCHAR, meta VARCHAR, "
                         "model BLOB)").fetchall()
            for model_id, horizon, trained_for, config, meta, raw in models:
                conn.execute(f"INSERT OR IGNORE INTO {SCHEMA}.alpha_models VALUES (?, ?, ?, ?, ?, ?)",
                             [model_id, horizon, trained_for.to_pydatetime(), config, meta, raw]).fetchall()

    def model_bytes(self, model_id: str) -> bytes:
        with transaction(self.path) as conn:
            rows = conn.execute(f"SELECT model FROM {SCHEMA}.alpha_models WHERE model_id = ?",
                                [model_id]).fetchall()
        if not rows:
            raise ValueError(f"alpha model {model_id!r} is not in the store {self.path}: "
                             "materialize alpha_model for the day first")
        return bytes(rows[0][0])

    def symbol_kinds(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """symbol, type, is_leveraged of every symbol in a stored universe partition start..end."""
        found = self._frame_if_present(
            "universe", f"SELECT symbol, any_value(type) AS type, bool_or(is_leveraged) AS is_leveraged "
            f"FROM {SCHEMA}.universe WHERE date >= ? AND date <= ? GROUP BY symbol",
            [start.to_pydatetime(), end.to_pydatetime()])
        return found if found is not None else pd.DataFrame(columns=["symbol", "type", "is_leveraged"])
