"""DuckDB's side of the I/O manager: a table slice as bound SQL, transactional connections, and the
pandas handler that replaces a partition (per screen) and widens a table by name.
"""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd
from dagster import TimeWindow
from dagster._core.storage.db_io_manager import DbClient
from dagster_duckdb_pandas import DuckDBPandasTypeHandler

from technic_assets.storage.connection import (
    add_missing_columns,
    column_exists,
    quoted,
    table,
    table_exists,
    transaction,
)


def slice_sql(table_slice) -> tuple[str, str, list]:
    """(schema.table, WHERE clause, bound values) of an I/O manager table slice."""
    name = f"{table(table_slice.schema)}.{table(table_slice.table)}"
    clauses, params = [], []
    for dim in table_slice.partition_dimensions or []:
        if not isinstance(dim.partitions, TimeWindow):
            raise ValueError(f"{name}: only time-window partitions are stored (got {type(dim.partitions).__name__})")
        expr = quoted(dim.partition_expr)
        clauses.append(f"{expr} >= ? AND {expr} < ?")
        params += [dim.partitions.start.replace(tzinfo=None), dim.partitions.end.replace(tzinfo=None)]
    return name, (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def select_statement(table_slice) -> str:
    """The SQL a slice is read with, as the UI shows it (values as placeholders: they are bound)."""
    name, where, _ = slice_sql(table_slice)
    return f"SELECT * FROM {name}{where}"


class TransactionalDuckDbClient(DbClient):
    """Connections to one store file, each a transaction."""

    def __init__(self, path: str):
        self.path = path

    @staticmethod
    def ensure_schema_exists(context, table_slice, connection) -> None:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {table(table_slice.schema)}").fetchall()

    @staticmethod
    def delete_table_slice(context, table_slice, connection) -> None:
        """Nothing here: the type handler deletes, in the same transaction, knowing the frame's screens."""

    get_select_statement = staticmethod(select_statement)

    @contextmanager
    def connect(self, context, _table_slice):
        with transaction(self.path) as conn:
            yield conn


def replace_slice(connection, table_slice, obj: pd.DataFrame) -> None:
    """Delete the rows `obj` replaces: the partition's, only of obj's screens when both have screens."""
    # Inside a transaction a failed DELETE on a missing table would abort it, so look first.
    if not table_exists(connection, table_slice.table, table_slice.schema):
        return
    name, where, params = slice_sql(table_slice)
    if "screen" in obj.columns and column_exists(connection, table_slice.schema, table_slice.table, "screen"):
        screens = sorted(obj["screen"].dropna().unique().tolist())
        if not screens:
            return
        where += (" AND " if where else " WHERE ") + "(screen IN (SELECT unnest(?::VARCHAR[])) OR screen IS NULL)"
        params = [*params, screens]
    connection.execute(f"DELETE FROM {name}{where}", params).fetchall()


class PandasTypeHandler(DuckDBPandasTypeHandler):
    def load_input(self, context, table_slice, connection) -> pd.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pd.DataFrame()
        name, where, params = slice_sql(table_slice)
        names = ", ".join(quoted(c) for c in table_slice.columns) if table_slice.columns else "*"
        return connection.execute(f"SELECT {names} FROM {name}{where}", params).fetchdf()

    def handle_output(self, context, table_slice, obj: pd.DataFrame, connection):
        name = f"{table(table_slice.schema)}.{table(table_slice.table)}"
        replace_slice(connection, table_slice, obj)
        connection.register("technic_frame", obj)  # the connection is closed after the write
        created = not table_exists(connection, table_slice.table, table_slice.schema)
        if created:
            connection.execute(f"CREATE TABLE {name} AS SELECT * FROM technic_frame").fetchall()
        else:
            add_missing_columns(connection, table_slice.schema, table_slice.table, "technic_frame")
        # a text column of a frame without rows has no type ("NULL"): a later day's text could not go in
        for (column,) in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "AND data_type IN ('NULL', '\"NULL\"')", [table_slice.schema, table_slice.table]).fetchall():
            connection.execute(f"ALTER TABLE {name} ALTER COLUMN {quoted(column)} TYPE VARCHAR").fetchall()
        if not obj.empty and not created:
            connection.execute(f"INSERT INTO {name} BY NAME SELECT * FROM technic_frame").fetchall()
        context.add_output_metadata({"dagster/partition_row_count": len(obj), "dagster/storage_kind": "duckdb"})
        return None
