"""The pure computing core: plain functions over DataFrames and arrays, no Dagster, no I/O."""
