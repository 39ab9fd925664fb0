"""The Definitions: what binds assets, resources and jobs; nothing else."""

from __future__ import annotations

from dagster import Definitions, define_asset_job

from technic_assets.assets import features, market_data, scores
from technic_assets.partitions import trading_days
from technic_assets.resources import MarketResource, ScanSettings
from technic_assets.store import SCHEMA, StoreResource, TechnicIOManager

ASSETS = [
    market_data.universe, market_data.price_bars, market_data.fundamentals,
    features.indicators, features.filtered_universe, features.factors, features.market_regime,
    scores.ics, scores.merit, scores.ranked_top_n,
]

daily_scan = define_asset_job("daily_scan", selection=ASSETS, partitions_def=trading_days,
                              description="The whole scan for one trading day.")


def resources() -> dict:
    return {
        "io_manager": TechnicIOManager(database="", schema=SCHEMA),
        "store": StoreResource(),
        "market": MarketResource(),
        "scan": ScanSettings(),
    }


defs = Definitions(assets=ASSETS, jobs=[daily_scan], resources=resources())
