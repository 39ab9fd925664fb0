"""The store as a Dagster resource: one setting names the file for every reader and writer."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from technic_assets.storage.connection import db_path
from technic_assets.storage.history import History
from technic_assets.storage.models import ModelRegistry


class StoreResource(ConfigurableResource):
    """The DuckDB file holding every table (TECHNIC_DUCKDB_PATH)."""

    database: str = Field(default="", description="The store's file; empty means ~/.technic/store.duckdb.")

    @property
    def path(self) -> str:
        return db_path(self.database)

    @property
    def history(self) -> History:
        return History(self.path)

    @property
    def models(self) -> ModelRegistry:
        return ModelRegistry(self.path)
