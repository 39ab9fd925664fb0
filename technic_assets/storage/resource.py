"""The store as a Dagster resource: one setting names the store for every reader and writer.

The DuckDB file (TECHNIC_DUCKDB_PATH) unless TECHNIC_STORE names an Iceberg catalog and warehouse
(storage/iceberg.py), which several machines read and write at once.
"""

from __future__ import annotations

from functools import lru_cache

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from technic_assets.storage.connection import db_path
from technic_assets.storage.history import History
from technic_assets.storage.iceberg import is_iceberg
from technic_assets.storage.models import ModelRegistry


@lru_cache(maxsize=8)
def _iceberg(url: str):
    from technic_assets.storage.iceberg import IcebergStore

    return IcebergStore(url)


def history_for(location: str, *, read_only: bool = False) -> History:
    """History of a store location: a DuckDB file's path or an Iceberg store's URL (whose readers
    never lock writers out, so `read_only` matters to the file alone)."""
    if is_iceberg(location):
        from technic_assets.storage.iceberg_history import IcebergHistory

        return IcebergHistory(_iceberg(location))
    return History(location, read_only=read_only)


def registry_for(location: str) -> ModelRegistry:
    """The model registry of a store location (a DuckDB file's path or an Iceberg store's URL)."""
    if is_iceberg(location):
        from technic_assets.storage.iceberg_history import IcebergModelRegistry

        return IcebergModelRegistry(_iceberg(location))
    return ModelRegistry(location)


class StoreResource(ConfigurableResource):
    """The store holding every table: the DuckDB file (TECHNIC_DUCKDB_PATH), or the Iceberg catalog
    and warehouse that `url` names (TECHNIC_STORE)."""

    database: str = Field(default="", description="The store's file; empty means ~/.technic/store.duckdb.")
    url: str = Field(default="", description="An Iceberg store, iceberg+postgresql://user@host/db?warehouse=DIR "
                                             "(TECHNIC_STORE); empty means the DuckDB file.")

    @property
    def _url(self) -> str:
        # an EnvVar (the variable's name) outside a run, where Dagster has not resolved the config
        return self.url.get_value() or "" if isinstance(self.url, EnvVar) else self.url

    @property
    def iceberg(self) -> bool:
        return bool(self._url)

    @property
    def location(self) -> str:
        """The Iceberg URL, or the DuckDB file's path."""
        return self._url or db_path(self.database)

    @property
    def path(self) -> str:
        """What messages name: the DuckDB file, or the Iceberg URL without its password."""
        return _iceberg(self._url).path if self._url else db_path(self.database)

    @property
    def history(self) -> History:
        return history_for(self.location)

    @property
    def models(self) -> ModelRegistry:
        return registry_for(self.location)
