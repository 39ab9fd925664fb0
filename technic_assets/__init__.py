"""Technic: the daily US stock scan as partitioned Dagster assets in DuckDB."""

from technic_assets.definitions import defs

__all__ = ["defs"]
