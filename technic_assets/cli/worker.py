"""`technic worker`: a Celery worker serving steps of runs (TECHNIC_EXECUTOR=celery)."""

from __future__ import annotations

import pandas as pd

from technic_assets.distributed import start_worker
from technic_assets.environment import Environment


def add_parser(sub) -> None:
    worker = sub.add_parser("worker", help="serve steps of runs on the Celery executor (TECHNIC_EXECUTOR=celery)")
    worker.add_argument("--name", help="the worker's name (default technic-PID), shown in each step's events")
    worker.add_argument("--concurrency", type=int, default=1, help="steps at once (default 1)")
    worker.add_argument("--loglevel", default="INFO", help="Celery's log level (default INFO)")
    worker.set_defaults(run=run)


def run(args, env: Environment, now: pd.Timestamp) -> int:
    start_worker(args.name, args.concurrency, args.loglevel)
    return 0
