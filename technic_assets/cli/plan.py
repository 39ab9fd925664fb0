"""`technic plan`: the requests a scan of a day will make of its source, and how long they take."""

from __future__ import annotations

import pandas as pd

from technic_assets.cli.dates import resolve_date
from technic_assets.environment import Environment
from technic_assets.errors import settings_error
from technic_assets.partitions import build_partitions
from technic_assets.plan import plan_scan
from technic_assets.resources import build_resources


def add_parser(sub) -> None:
    plan = sub.add_parser("plan", help="say how many requests a scan will make and how long they take")
    plan.add_argument("--date", help="NYSE trading day (default: the latest closed session)")
    plan.set_defaults(run=run)


def request_plan(day: str, env: Environment, resources: dict):
    """The requests a scan of `day` makes of its source (technic_assets.plan), read from the store."""
    first = pd.Timestamp(build_partitions(env.start_date).get_first_partition_key())
    with resources["market"].process_config_and_initialize_cm() as market:
        return plan_scan(pd.Timestamp(day), market, resources["alpha"], first)


def run(args, env: Environment, now: pd.Timestamp) -> int:
    try:
        resources = build_resources(env)
    except ValueError as exc:
        raise SystemExit(f"error: {settings_error(exc)}") from None
    day = resolve_date(args.date, env, resources["market"], now)
    print("\n".join(request_plan(day, env, resources).lines()))
    return 0
