"""The jobs: the whole scan for one trading day."""

from dagster import AssetSelection, define_asset_job

from technic_assets.partitions import trading_days

daily_scan = define_asset_job("daily_scan", selection=AssetSelection.all(), partitions_def=trading_days,
                              description="The whole scan for one trading day.")
