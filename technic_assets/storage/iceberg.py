"""The Iceberg store: every table in an Apache Iceberg catalog that several machines write at once.

Chosen by TECHNIC_STORE=iceberg+<SQLAlchemy URL of the catalog>?warehouse=<shared directory>, e.g.
`iceberg+postgresql://technic@db:5432/technic?warehouse=/shared/technic`: pyiceberg's SQL catalog keeps
each table's current metadata pointer in PostgreSQL, the Parquet data files live in the warehouse.
- A write is one commit: the rows matching a filter deleted and the new rows appended in one snapshot
  (`overwrite`), so a reader sees a partition's old rows or its new ones, never neither or both.
- The catalog commits by compare-and-swap on the table's metadata pointer. A writer that loses the race
  reloads the table and applies its whole delete+append again, so two writers of one partition leave
  one copy of it, never two (a blind retry of only the append would duplicate).
- Frames go to Arrow through DuckDB, so a column has the type the DuckDB file would give it; timestamps
  in seconds or nanoseconds (pandas' datetime64[s] and [ns]) are stored as Iceberg's microseconds and
  read back in their own unit (the table property `technic.timestamp-units` keeps it), so both backends
  give equal frames.
- Reads are DuckDB SQL over the Arrow dataset of the current snapshot's data files (DuckDB pushes the
  filters and columns down into the Parquet scan), so History's SQL runs unchanged.
Tables with a `date` timestamp are partitioned by it (identity), so replacing a day rewrites that day's
files only.
"""

from __future__ import annotations

import random
import re
import time
import warnings
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import duckdb
import pandas as pd
import pyarrow as pa

from technic_assets.storage.connection import SCHEMA, quoted, table

PREFIX = "iceberg+"
UNITS = "technic.timestamp-units"  # col:unit,... of timestamps not in microseconds
DUCKDB_TIMESTAMP = {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "ns": "TIMESTAMP_NS"}
COMMIT_ATTEMPTS = 30
EXAMPLE = "iceberg+postgresql://user@host:5432/db?warehouse=/shared/technic"


def is_iceberg(location: str) -> bool:
    return location.startswith(PREFIX)


def redacted(url: str) -> str:
    """The URL with any password replaced by ***, for messages and reprs."""
    return re.sub(r"(//[^:/@]+:)[^@/]*@", r"\1***@", url)


def parse_store_url(url: str) -> tuple[str, str]:
    """(catalog SQLAlchemy URL, warehouse URI) of a TECHNIC_STORE value, or an error naming the variable
    (with the password hidden) and what is wrong."""
    if not is_iceberg(url):
        raise ValueError(f"TECHNIC_STORE={redacted(url)!r} is not an Iceberg store URL; want e.g. {EXAMPLE}")
    base, _, raw_query = url[len(PREFIX):].partition("?")
    query = dict(parse_qsl(raw_query))
    warehouse = query.pop("warehouse", "")
    scheme, sep, rest = base.partition("://")
    if not sep or not scheme or not warehouse:
        raise ValueError(f"TECHNIC_STORE={redacted(url)!r} needs a catalog database and ?warehouse=DIR "
                         f"(the shared data directory); want e.g. {EXAMPLE}")
    scheme = "postgresql+psycopg2" if scheme == "postgresql" else scheme
    catalog = f"{scheme}://{rest}" + (f"?{urlencode(query)}" if query else "")
    if "://" not in warehouse:
        warehouse = Path(warehouse).expanduser().absolute().as_uri()
    return catalog, warehouse


@lru_cache(maxsize=8)
def _catalog(url: str):
    """One catalog (its SQLAlchemy engine) per process and store."""
    from pyiceberg.catalog.sql import SqlCatalog

    uri, warehouse = parse_store_url(url)
    if warehouse.startswith("file://"):
        Path(urlsplit(warehouse).path).mkdir(parents=True, exist_ok=True)
    for attempt in range(5):  # the first processes may race to create the catalog's own tables
        try:
            catalog = SqlCatalog("technic", uri=uri, warehouse=warehouse)
            catalog.create_namespace_if_not_exists(SCHEMA)
            return catalog
        except Exception as exc:  # noqa: BLE001 - sqlalchemy's IntegrityError/ProgrammingError on the race
            if attempt == 4 or "already exists" not in str(exc) and "duplicate key" not in str(exc):
                reason = redacted(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                raise RuntimeError(f"the Iceberg catalog of TECHNIC_STORE={redacted(url)!r} cannot be opened: "
                                   f"{reason}") from exc
            time.sleep(0.1 * (attempt + 1))


def arrow_types(frame: pa.Table) -> tuple[pa.Table, dict[str, str]]:
    """The frame with types Iceberg takes (timestamps in microseconds, untyped nulls as strings, small
    and unsigned integers widened), and {column: unit} of the timestamps that were not in microseconds."""
    fields, units = [], {}
    for f in frame.schema:
        kind = f.type
        if pa.types.is_timestamp(kind):
            if kind.unit != "us":
                units[f.name] = kind.unit
            kind = pa.timestamp("us", tz=kind.tz)
        elif pa.types.is_null(kind):
            kind = pa.string()
        elif pa.types.is_integer(kind) and (kind.bit_width < 32 or pa.types.is_unsigned_integer(kind)):
            kind = pa.int64() if kind.bit_width >= 32 else pa.int32()
        fields.append(pa.field(f.name, kind))
    return frame.cast(pa.schema(fields)), units


def _units(found) -> dict[str, str]:
    raw = found.properties.get(UNITS, "")
    return dict(item.split(":") for item in raw.split(",") if item)


def _units_text(units: dict[str, str]) -> str:
    return ",".join(f"{c}:{u}" for c, u in units.items())


def to_arrow(frame: pd.DataFrame, ddl: str | None = None) -> pa.Table:
    """A pandas frame as the Arrow table DuckDB makes of it; with `ddl` (CREATE TABLE technic.NAME ...),
    typed as that table's columns."""
    conn = duckdb.connect()
    try:
        conn.register("technic_frame", frame)
        if ddl is None:
            return conn.sql("SELECT * FROM technic_frame").to_arrow_table()
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(ddl)
        name = table(re.search(rf"{SCHEMA}\.(\w+)", ddl).group(1))
        names = ", ".join(quoted(r[0]) for r in conn.execute(f"DESCRIBE {SCHEMA}.{name}").fetchall())
        conn.execute(f"INSERT INTO {SCHEMA}.{name} SELECT {names} FROM technic_frame")
        return conn.sql(f"SELECT * FROM {SCHEMA}.{name}").to_arrow_table()
    finally:
        conn.close()


class IcebergStore:
    """The tables of one catalog and warehouse (a TECHNIC_STORE URL)."""

    def __init__(self, url: str):
        parse_store_url(url)  # checked before any connection, with a clear message
        self.url = url
        self.path = redacted(url)  # what reprs and messages show

    def __repr__(self) -> str:
        return f"IcebergStore({self.path!r})"

    @property
    def catalog(self):
        return _catalog(self.url)

    def load(self, name: str):
        """The table, or None while it does not exist."""
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.catalog.load_table(f"{SCHEMA}.{table(name)}")
        except NoSuchTableError:
            return None

    # -- reads -----------------------------------------------------------------------------------
    def query(self, names: list[str], sql: str, params: list) -> pd.DataFrame | None:
        """DuckDB `sql` over tables `names` (as technic.NAME), or None while any of them does not exist."""
        conn = duckdb.connect()
        try:
            conn.execute(f"CREATE SCHEMA {SCHEMA}")
            for name in map(table, names):
                found = self.load(name)
                if found is None:
                    return None
                self._register(conn, name, found)
            return conn.execute(sql, params).fetchdf()
        finally:
            conn.close()

    @staticmethod
    def _register(conn, name: str, found) -> None:
        import pyarrow.dataset as ds
        from pyarrow import fs

        tasks = list(found.scan().plan_files())
        schema = found.schema().as_arrow()
        if any(task.delete_files for task in tasks):  # written by another engine: let pyiceberg merge
            data = found.scan().to_arrow()
        else:
            uris = [urlsplit(task.file.file_path) for task in tasks]
            # file names stay as written (pyiceberg escapes ':' as %3A in partition folders, literally)
            paths = [u.path if u.scheme in ("", "file") else u.netloc + u.path for u in uris]
            filesystem = (fs.LocalFileSystem() if not uris or uris[0].scheme in ("", "file")
                          else fs.FileSystem.from_uri(tasks[0].file.file_path)[0])
            data = ds.dataset(paths, schema=schema, format="parquet", filesystem=filesystem)
        conn.register(f"technic_iceberg_{name}", data)
        casts = ", ".join(f"{quoted(c)}::{DUCKDB_TIMESTAMP[u]} AS {quoted(c)}" for c, u in _units(found).items()
                          if c in schema.names)
        if casts:
            conn.execute(f"CREATE VIEW {SCHEMA}.{name} AS SELECT * REPLACE ({casts}) FROM technic_iceberg_{name}")
        else:
            conn.execute(f"CREATE VIEW {SCHEMA}.{name} AS SELECT * FROM technic_iceberg_{name}")

    # -- writes ----------------------------------------------------------------------------------
    def replace(self, name: str, frame: pd.DataFrame | pa.Table, delete=None, *, ddl: str | None = None) -> None:
        """Delete the rows matching `delete` (a pyiceberg expression; None deletes nothing) and append
        `frame`, in one commit, retried whole on a commit conflict. The table is created from the
        frame's columns (or `ddl`'s) when absent; columns the table lacks are added."""
        data = frame if isinstance(frame, pa.Table) else to_arrow(frame, ddl)
        data, units = arrow_types(data)
        from pyiceberg.exceptions import CommitFailedException, ValidationException

        for attempt in range(COMMIT_ATTEMPTS):
            try:
                found = self._table_for(name, data.schema, units)
                rows = self._conform(data, found.schema().as_arrow())
                with found.transaction() as tx, warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "Delete operation did not match any records")
                    if delete is not None:
                        tx.delete(delete)
                    if len(rows):
                        tx.append(rows)
                return
            # the pointer moved under us (CommitFailed), or pyiceberg's own check found files another
            # writer added where we delete (Validation): start again from the new head
            except (CommitFailedException, ValidationException):
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
                time.sleep(min(0.05 * 2 ** min(attempt, 5), 1.0) * (1 + random.random()))

    def _table_for(self, name: str, schema: pa.Schema, units: dict[str, str]):
        """The table, created (partitioned by `date` if it has one) or given the columns it lacks."""
        from pyiceberg.catalog import Catalog
        from pyiceberg.exceptions import TableAlreadyExistsError
        from pyiceberg.partitioning import PartitionField, PartitionSpec
        from pyiceberg.schema import assign_fresh_schema_ids
        from pyiceberg.transforms import IdentityTransform

        found = self.load(name)
        if found is None:
            fresh = assign_fresh_schema_ids(Catalog._convert_schema_if_needed(schema))
            spec = PartitionSpec()
            if "date" in schema.names and pa.types.is_timestamp(schema.field("date").type):
                spec = PartitionSpec(PartitionField(source_id=fresh.find_field("date").field_id, field_id=1000,
                                                    transform=IdentityTransform(), name="date_part"))
            try:
                return self.catalog.create_table(f"{SCHEMA}.{table(name)}", schema=fresh, partition_spec=spec,
                                                 properties={UNITS: _units_text(units)})
            except TableAlreadyExistsError:
                found = self.load(name)
        missing = [f for f in schema if f.name not in found.schema().as_arrow().names]
        known = _units(found)
        added = {c: u for c, u in units.items() if c in {f.name for f in missing}}
        if missing:
            with found.transaction() as tx:  # a commit of its own; a conflict is retried by the caller
                with tx.update_schema() as update:
                    update.union_by_name(pa.schema(missing))
                if added:
                    tx.set_properties({UNITS: _units_text({**known, **added})})
            found = self.load(name)
        return found

    @staticmethod
    def _conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
        """`data` in the table's column order and types, null where it lacks a column."""
        columns = [data.column(f.name).cast(f.type) if f.name in data.schema.names else pa.nulls(len(data), f.type)
                   for f in schema]
        return pa.Table.from_arrays(columns, schema=pa.schema([pa.field(f.name, f.type) for f in schema]))


def store_for(url: str) -> IcebergStore:
    return IcebergStore(url)
