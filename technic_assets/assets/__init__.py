"""The Dagster assets: wiring only; the computing lives in technic_assets.core."""
