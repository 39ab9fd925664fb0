"""History, the model registry and the I/O manager's client on the Iceberg store.

Each overrides only the few methods that touch storage: the reads keep History's SQL (run by DuckDB
over the Iceberg tables), and each write is one Iceberg commit (`IcebergStore.replace`). One
difference from the DuckDB file: the filings and their coverage are two tables, so two commits;
filings go first, so a crash between them leaves days not marked fetched, which are fetched and
replaced again next time, never marked fetched without their filings.
"""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd
from dagster import TimeWindow
from dagster._core.storage.db_io_manager import DbClient

from technic_assets.storage.connection import quoted, table
from technic_assets.storage.duckdb_tables import PandasTypeHandler, select_statement, slice_sql
from technic_assets.storage.history import COVERAGE_DDL, FILINGS_DDL, History
from technic_assets.storage.iceberg import IcebergStore
from technic_assets.storage.models import MODELS_DDL, ModelRegistry


def _iso(day) -> str:
    """A timestamp as pyiceberg's literal for a (zone-less) timestamp column."""
    stamp = pd.Timestamp(day)
    return (stamp.tz_localize(None) if stamp.tzinfo else stamp).isoformat()


def between(column: str, low, high, *, high_inclusive: bool = True):
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan, LessThanOrEqual

    upper = LessThanOrEqual if high_inclusive else LessThan
    return And(GreaterThanOrEqual(column, _iso(low)), upper(column, _iso(high)))


def one_of(column: str, values: list):
    from pyiceberg.expressions import In

    return In(column, [_iso(v) if isinstance(v, pd.Timestamp) else v for v in values])


class IcebergHistory(History):
    """History's reads and side-table writes on an Iceberg store."""

    def __init__(self, store: IcebergStore):
        self.store = store
        self.path = store.path

    def query(self, name: str, sql: str, params: list, *, coded: tuple[str, ...] = (),
              arrow: bool = False) -> pd.DataFrame | None:
        found = self.store.query([table(name)], sql, params)  # `arrow` has no say: the store reads its own way
        return found if found is None or not coded else found.astype({c: "category" for c in coded})

    @contextmanager
    def reading(self):
        """No connection to hold: each read scans the tables it names."""
        yield self

    def beside(self) -> None:
        """No files beside the store: its warehouse may be remote, or shared by workers on other machines."""
        return None

    def version(self) -> tuple:
        """Each scanned table's metadata file: a commit writes a new one."""
        return tuple(getattr(self.store.load(name), "metadata_location", None)
                     for name in ("price_bars", "merit", "filtered_universe", "ranked_top_n"))

    def replace_dates(self, name: str, frame: pd.DataFrame, dates: list[pd.Timestamp],
                      screens: list[str] | None = None) -> None:
        from pyiceberg.expressions import And, IsNull, Or

        delete = one_of("date", [pd.Timestamp(d) for d in dates])
        if screens is not None:
            delete = And(delete, Or(one_of("screen", list(screens)), IsNull("screen")))
        self.store.replace(name, frame, delete)

    def replace_filings(self, filings: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp,
                        covered_through: pd.Timestamp) -> None:
        self.store.replace("filings", filings, between("published", first, last), ddl=FILINGS_DDL)
        if covered_through >= first:
            coverage = pd.DataFrame({"first_day": [pd.Timestamp(first)], "last_day": [pd.Timestamp(min(last, covered_through))]})
            self.store.replace("filings_coverage", coverage, None, ddl=COVERAGE_DDL)


class IcebergModelRegistry(ModelRegistry):
    """The model registry on an Iceberg store: a model saved again under its id replaces its row
    (same id, same bytes), so two runs that train the same month leave one row."""

    def __init__(self, store: IcebergStore):
        self.store = store
        self.path = store.path
        self.history = IcebergHistory(store)

    def save(self, models: list[tuple[str, int, pd.Timestamp, str, str, bytes]]) -> None:
        if not models:
            return
        frame = pd.DataFrame(models, columns=["model_id", "horizon", "trained_for", "config", "meta", "model"])
        frame = frame.drop_duplicates("model_id")
        self.store.replace("alpha_models", frame, one_of("model_id", list(frame["model_id"])), ddl=MODELS_DDL)


def slice_filter(table_slice):
    """The pyiceberg expression of an I/O manager table slice (its time windows, end exclusive)."""
    from pyiceberg.expressions import AlwaysTrue, And

    expr = AlwaysTrue()
    for dim in table_slice.partition_dimensions or []:
        if not isinstance(dim.partitions, TimeWindow):
            raise ValueError(f"{table_slice.table}: only time-window partitions are stored "
                             f"(got {type(dim.partitions).__name__})")
        expr = And(expr, between(dim.partition_expr, dim.partitions.start.replace(tzinfo=None),
                                 dim.partitions.end.replace(tzinfo=None), high_inclusive=False))
    return expr


def replaced_rows(table_slice, obj: pd.DataFrame):
    """What a write replaces, as the DuckDB file's I/O manager does (io_manager.replace_slice): the slice,
    only of obj's screens where obj has screens (rows from before screens, NULL, count as any); None:
    nothing (a screened frame without rows). The replace adds a missing `screen` column before deleting."""
    if "screen" not in obj.columns:
        return slice_filter(table_slice)
    from pyiceberg.expressions import And, In, IsNull, Or

    screens = sorted(obj["screen"].dropna().unique().tolist())
    return And(slice_filter(table_slice), Or(In("screen", screens), IsNull("screen"))) if screens else None


class IcebergDbClient(DbClient):
    """The I/O manager's client on an Iceberg store: the 'connection' is the store itself, and the
    partition's delete happens in the write's own commit (see IcebergTypeHandler)."""

    def __init__(self, store: IcebergStore):
        self.store = store

    @staticmethod
    def ensure_schema_exists(context, table_slice, connection) -> None:
        pass  # the catalog creates the namespace when it opens

    @staticmethod
    def delete_table_slice(context, table_slice, connection) -> None:
        pass  # one commit with the append: IcebergTypeHandler.handle_output

    get_select_statement = staticmethod(select_statement)

    @contextmanager
    def connect(self, context, _table_slice):
        yield self.store


class IcebergTypeHandler(PandasTypeHandler):
    def load_input(self, context, table_slice, connection: IcebergStore) -> pd.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pd.DataFrame()
        name, where, params = slice_sql(table_slice)
        names = ", ".join(quoted(c) for c in table_slice.columns) if table_slice.columns else "*"
        found = connection.query([table(table_slice.table)], f"SELECT {names} FROM {name}{where}", params)
        if found is None:
            raise ValueError(f"table {name} is not in the store {connection.path}: materialize "
                             f"{table_slice.table} first")
        return found

    def handle_output(self, context, table_slice, obj: pd.DataFrame, connection: IcebergStore):
        connection.replace(table(table_slice.table), obj, replaced_rows(table_slice, obj))
        context.add_output_metadata({"dagster/partition_row_count": len(obj), "dagster/storage_kind": "iceberg"})
        return None
