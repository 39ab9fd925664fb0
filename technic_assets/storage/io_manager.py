"""The I/O manager: every asset is a table in schema `technic`, partitioned by `date`.

Dagster's DbIOManager with the DuckDB pandas handler does the partitioned reads and writes (its write
deletes the partition's window before inserting, so a re-run replaces and never duplicates). Our
departures, each for a reason:
- each write is one transaction (the delete-then-insert is all or nothing) and waits for the file's
  lock, through `connection.transaction`;
- partition bounds are bound parameters, not SQL text;
- an empty frame still creates its (empty) table, so a legitimately empty partition (a source without
  fundamentals, a day before any alpha model) does not break every reader;
- rows go into an existing table by column name, adding any column a newer Technic writes (a store
  from before the alpha models gains merit's alpha columns) instead of pairing columns by position;
- the file comes from the `store` resource, so one setting names it for every reader and writer;
  when that resource names an Iceberg store, the same DbIOManager runs with the Iceberg client and
  handler (storage/iceberg_history.py), whose write is one delete+append commit;
- a table with a `screen` column (the settings-dependent assets, one set of rows per saved screen) is
  replaced per screen: a run of some screens replaces their rows of the day and keeps the others'
  (rows from before screens, screen NULL, are replaced by any screen's run of their day), on both stores.
"""

from __future__ import annotations

import pandas as pd
from dagster import ConfigurableIOManagerFactory
from dagster._core.storage.db_io_manager import DbIOManager

from technic_assets.storage.connection import SCHEMA
from technic_assets.storage.duckdb_tables import PandasTypeHandler, TransactionalDuckDbClient
from technic_assets.storage.iceberg import IcebergStore
from technic_assets.storage.iceberg_history import IcebergDbClient, IcebergTypeHandler
from technic_assets.storage.resource import StoreResource


class StoreIOManager(ConfigurableIOManagerFactory):
    """Assets as partitioned tables of the store that the `store` resource names."""

    store: StoreResource

    def create_io_manager(self, context) -> DbIOManager:
        if self.store.iceberg:
            store = IcebergStore(self.store.location)
            return DbIOManager(db_client=IcebergDbClient(store), database=store.path, schema=SCHEMA,
                               type_handlers=[IcebergTypeHandler()], default_load_type=pd.DataFrame,
                               io_manager_name="StoreIOManager")
        path = self.store.path
        return DbIOManager(db_client=TransactionalDuckDbClient(path), database=path, schema=SCHEMA,
                           type_handlers=[PandasTypeHandler()], default_load_type=pd.DataFrame,
                           io_manager_name="StoreIOManager")
