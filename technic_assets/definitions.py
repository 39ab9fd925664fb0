"""The Definitions: what binds assets, resources, jobs, schedules and sensors; nothing else.

Built by a function, from the environment read once when Dagster loads the code location (or from
arguments in tests and the CLI), never at import: the start date decides the partitions, so a test
builds definitions for any start date in process.
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster import Definitions, Enum, EnumValue, Field, definitions, multiprocess_executor

from technic_assets.alert_sensors import build_alert_sensors
from technic_assets.assets import alpha, features, market_data, record, scores
from technic_assets.distributed import build_executor, for_distributed
from technic_assets.environment import Environment
from technic_assets.jobs import build_daily_scan
from technic_assets.partitions import build_partitions
from technic_assets.resources import build_resources
from technic_assets.run_metrics import build_metrics_sensor
from technic_assets.schedules import build_schedule
from technic_assets.sensors import build_sensors

ASSETS = [
    market_data.universe, market_data.price_bars, market_data.fundamentals,
    features.indicators, features.filtered_universe, features.factors, features.market_regime,
    alpha.alpha_model, alpha.alpha_forecasts,
    scores.ics, scores.merit, scores.ranked_top_n, scores.changes,
    alpha.alpha_evaluation, record.track_record, record.rescreen_inputs,
]
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


def build_assets(start_date: str):
    """The assets on the trading-day partitions from `start_date` on."""
    partitions = build_partitions(start_date)
    return [a.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=partitions)) for a in ASSETS]


def build_definitions(env: Environment | None = None, *, resources: Mapping | None = None, loggers: Mapping | None = None,
                      **overrides) -> Definitions:
    """Everything, for the environment `env` (read from os.environ when None), with `overrides` of
    its fields (start_date=..., market=..., ...) and `resources` replacing any built ones."""
    env = env or Environment.read()
    if overrides:
        env = Environment(**{**env.__dict__, **overrides})
    partitions = build_partitions(env.start_date)
    job = build_daily_scan(partitions)
    run_executor = build_executor(env) if env.executor == "celery" else executor  # see distributed.py
    return Definitions(
        assets=for_distributed(build_assets(env.start_date), env), jobs=[job],
        schedules=[build_schedule(job, *env.schedule)],
        sensors=build_sensors(job) + (build_alert_sensors(job) if env.alerts.configured else [])
        + ([build_metrics_sensor(job, env.pushgateway_url)] if env.pushgateway_url else []),
        resources={**build_resources(env), **(resources or {})}, executor=run_executor, loggers=loggers)


@definitions
def defs() -> Definitions:
    return build_definitions()
