"""Beyond one machine: the Celery executor, its workers, and backfills cut into runs of about a month.

TECHNIC_EXECUTOR=celery runs each step of a run as a task on a Celery worker (dagster-celery's
`celery_executor`), with TECHNIC_BROKER_URL naming the broker (Redis or RabbitMQ). The run's process
only hands steps out and waits; a worker rebuilds the run from the Dagster instance it was sent (so
the instance must be PostgreSQL, deploy/dagster-postgres.yaml) and runs the step's I/O manager, so
every worker needs the same TECHNIC_* settings and must reach the store (TECHNIC_STORE, an Iceberg
store; the DuckDB file serves one machine only).

`technic worker` starts a worker with the app and the broker the executor uses, built here from the
same settings, so the two sides cannot disagree.

Backfills: in distributed mode every asset takes a multi-run backfill policy of MONTH_SESSIONS
partitions per run, so the daemon launches runs of about a month that the workers execute side by side
(Dagster's policy counts partitions, not calendar months: 21 sessions is NYSE's typical month, so a run is
a month give or take two days). The assets that read earlier sessions (`changes`, `alpha_evaluation`:
technic_assets.lineage) keep the single-run policy: the backfill runs them once the month runs have
stored their days, in one run for all the days that are ready, and a day whose earlier days another
month run is still computing waits for that run. `rescreen_inputs` is left out: it keeps files beside
a DuckDB store, and the workers' Iceberg store keeps none.
"""

from __future__ import annotations

import os
import socket

from dagster import BackfillPolicy

from technic_assets.environment import Environment
from technic_assets.lineage import EARLIER_READS

MONTH_SESSIONS = 21
MULTI_RUN = BackfillPolicy.multi_run(max_partitions_per_run=MONTH_SESSIONS)
ONE_MACHINE = ("rescreen_inputs",)  # what only a store on this machine's disk has any use for


def for_distributed(assets: list, env: Environment) -> list:
    """The assets as given on one machine; in distributed mode, cut into runs of about a month, but for
    the readers of earlier sessions, and without those of ONE_MACHINE (see the module's docstring)."""
    if env.executor != "celery":
        return assets
    return [a if a.key.path[-1] in EARLIER_READS else a.with_attributes(backfill_policy=MULTI_RUN) for a in assets
            if a.key.path[-1] not in ONE_MACHINE]


def executor_config(env: Environment) -> dict:
    """celery_executor's config: URLs as environment variables (resolved where the run starts, never
    written into the run's config), Technic's package imported by the workers."""
    return {"broker": {"env": "TECHNIC_BROKER_URL"},
            "backend": {"env": env.backend_var} if env.backend_var else "rpc://", "include": ["technic_assets"]}


def build_executor(env: Environment):
    from dagster_celery import celery_executor

    return celery_executor.configured(executor_config(env), name="technic_celery")


def app(env: Environment):
    """The Celery app a worker serves: dagster-celery's, with the broker and backend the executor's
    config names (their values read from this process's environment, as the run's process reads them)."""
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    celery_app = make_app(CeleryExecutor.for_cli(
        broker=os.environ["TECHNIC_BROKER_URL"],
        backend=os.environ[env.backend_var] if env.backend_var else "rpc://",
        include=["technic_assets"]).app_args())
    create_task(celery_app)
    return celery_app


def worker_argv(name: str | None, concurrency: int, loglevel: str) -> list[str]:
    """`celery worker` arguments as `dagster-celery worker start` gives them: the dagster queue, one
    task fetched at a time (a step can run minutes), a name that says which machine and process."""
    name = name or f"technic-{os.getpid()}"
    return ["worker", "--queues", "dagster", "--prefetch-multiplier=1", f"--concurrency={concurrency}",
            f"--loglevel={loglevel}", "--hostname", f"{name}@{socket.gethostname()}", "--without-gossip",
            "--without-mingle"]


def start_worker(name: str | None = None, concurrency: int = 1, loglevel: str = "INFO") -> None:
    """Serve steps until stopped. Checks first what a step will need, so a worker that cannot work
    says why at once instead of failing the first step it takes."""
    env = Environment.read()  # the same checks as the definitions: a bad setting is named here
    if env.executor != "celery" or env.broker_var != "TECHNIC_BROKER_URL":
        raise SystemExit("error: a worker needs TECHNIC_EXECUTOR=celery and TECHNIC_BROKER_URL (the broker the "
                         "runs use), and the same TECHNIC_* settings as the runs")
    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit("error: a worker needs DAGSTER_HOME (an instance on PostgreSQL, deploy/dagster-postgres.yaml)")
    if not env.store_var:
        print("warning: TECHNIC_STORE is not set: this worker writes the DuckDB file "
              f"{env.duckdb_path or '~/.technic/store.duckdb'}, which only processes on this machine can share")
    app(env).worker_main(worker_argv(name, concurrency, loglevel))
