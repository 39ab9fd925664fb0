"""Technic: the daily US stock scan as partitioned Dagster assets in DuckDB."""

import warnings

# The single-run backfill policy is a Dagster beta parameter, chosen on purpose (see assets/common.py);
# its warning would repeat once per asset on every command.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset` is currently in beta")

from technic_assets.definitions import defs  # noqa: E402

__all__ = ["defs"]
