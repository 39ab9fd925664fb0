"""The jobs: the whole scan for one trading day."""

from dagster import AssetSelection, TimeWindowPartitionsDefinition, define_asset_job


def build_daily_scan(partitions: TimeWindowPartitionsDefinition):
    return define_asset_job("daily_scan", selection=AssetSelection.all(), partitions_def=partitions,
                            description="The whole scan for one trading day.")
