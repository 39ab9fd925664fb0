"""Opening the store: one DuckDB file that one process holds at a time.

Every connection waits its turn for the file's lock (several runs may share one store), and every
write is one transaction, so a killed process leaves whole days behind, never half of one. Table
names are checked before they are put into SQL text; values are always bound.
"""

from __future__ import annotations

import random
import re
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

DEFAULT_DB_PATH = "~/.technic/store.duckdb"
SCHEMA = "technic"
LOCK_WAIT_SECONDS = 120.0
TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def db_path(raw: str) -> str:
    """The store's file from a configured path ('' means ~/.technic/store.duckdb), its folder created."""
    raw = raw or DEFAULT_DB_PATH
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


def table(name: str) -> str:
    """A table name, checked: names are interpolated into SQL (values never are; they are bound)."""
    if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
        raise ValueError(f"table name {name!r} is not a plain lower-case identifier")
    return name


def quoted(name: str) -> str:
    """A column name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def table_exists(conn, name: str, schema: str = SCHEMA) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return bool(row[0][0])


def column_exists(conn, schema: str, name: str, column: str) -> bool:
    row = conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                       "AND column_name = ?", [schema, name, column]).fetchall()
    return bool(row[0][0])


def add_missing_columns(conn, schema: str, name: str, frame: str, only=None) -> None:
    """Give table schema.name every column of the registered frame `frame` that it lacks (typed as
    DuckDB reads the frame; of those named in `only`, where given), so rows go in by name: a store
    written by an older Technic gains the columns a newer one writes (its older rows hold NULL there)."""
    have = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                                       "AND table_name = ?", [schema, name]).fetchall()}
    for column, kind, *_ in conn.execute(f"DESCRIBE SELECT * FROM {table(frame)}").fetchall():
        if column not in have and (only is None or column in only):
            conn.execute(f"ALTER TABLE {table(schema)}.{table(name)} ADD COLUMN {quoted(column)} {kind}").fetchall()
