"""The Definitions: what binds assets, resources and jobs; nothing else."""

from __future__ import annotations

from dagster import Definitions, Enum, EnumValue, Field, multiprocess_executor

from technic_assets.assets import alpha, features, market_data, scores
from technic_assets.jobs import daily_scan
from technic_assets.schedules import daily_scan_after_close
from technic_assets.sensors import new_session_sensor, scan_failure_report
from technic_assets.resources import AlphaSettings, MarketResource, ScanSettings
from technic_assets.store import SCHEMA, StoreResource, TechnicIOManager

ASSETS = [
    market_data.universe, market_data.price_bars, market_data.fundamentals,
    features.indicators, features.filtered_universe, features.factors, features.market_regime,
    alpha.alpha_model, alpha.alpha_forecasts,
    scores.ics, scores.merit, scores.ranked_top_n,
    alpha.alpha_evaluation,
]

def resources() -> dict:
    return {
        "io_manager": TechnicIOManager(database="", schema=SCHEMA),
        "store": StoreResource(),
        "market": MarketResource(),
        "scan": ScanSettings(),
        "alpha": AlphaSettings(),
    }


START_METHODS = ("forkserver", "spawn")


def _executor_config(config: dict) -> dict:
    method = config["start_method"]
    options = {"preload_modules": ["technic_assets"]} if method == "forkserver" else {}
    return {"max_concurrent": config["max_concurrent"], "start_method": {method: options}}


# Each step forks from a server that has already imported the project, by default: measured faster
# than Dagster's default (spawn, which imports pandas, TA-Lib and Dagster again in every step); see
# benchmarks/dagster_daily.py. `execution: config: start_method: spawn` brings spawn back.
executor = multiprocess_executor.configured(
    _executor_config,
    name="technic_multiprocess",
    config_schema={
        "start_method": Field(Enum("start_method", [EnumValue(m) for m in START_METHODS]),
                              default_value="forkserver", description="How step processes start."),
        "max_concurrent": Field(int, default_value=0, description="Steps at once; 0 means one per CPU."),
    },
)

defs = Definitions(assets=ASSETS, jobs=[daily_scan], schedules=[daily_scan_after_close],
                   sensors=[new_session_sensor, scan_failure_report], resources=resources(), executor=executor)
