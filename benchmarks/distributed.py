"""Beyond one machine, what it costs: the Celery executor and the Iceberg store against the embedded
default, on this one machine (two cores: two workers cannot run faster than one process here, so
these figures are the price of the distribution, not its gain).

1. One day of the whole graph on a warm store: embedded (forkserver executor, DuckDB file, SQLite
   instance) vs distributed (two `technic worker`s on Redis, Iceberg store in PostgreSQL, PostgreSQL
   instance). Target: distributed <= 1.5x embedded.
2. A backfill in one run (embedded executor, DuckDB file) on the SQLite instance vs the PostgreSQL one.
3. The same backfill as the daemon cuts it in distributed mode (runs of 21 sessions on the two workers,
   then alpha_evaluation) vs the embedded single run: what the split costs (target <= 15%), wall time
   and the sum of the runs' own durations (without the daemon's 30 s ticks).
4. A throughput model for N workers from the measured per-run and per-step costs.

    python -m benchmarks.distributed [--stocks 1000] [--day 2025-06-02] [--start 2025-06-02] [--end 2025-07-31] [--repeat 3]

Needs PostgreSQL (postgresql://postgres@127.0.0.1:5432) and Redis (redis://127.0.0.1:6379/12) running.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.dagster_daily import fmt, materialize
from technic_assets_tests.services import iceberg_url, pg_database, start_group, stop_group

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REDIS = "redis://127.0.0.1:6379/12"


def home(tmp: Path, name: str, instance_file: str) -> str:
    path = tmp / name
    path.mkdir()
    shutil.copy(ROOT / "deploy" / instance_file, path / "dagster.yaml")
    return str(path)


def run_seconds(env: dict) -> tuple[float, int, list[float], list[tuple[str, float]]]:
    """(summed run durations, run count, per-step durations, (range and assets, seconds) of each run) of
    every run in the instance of `env`."""
    from dagster import DagsterEventType, DagsterInstance

    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "TECHNIC_PG_URL")}
    os.environ.update({k: env[k] for k in saved if k in env})
    try:
        with DagsterInstance.get() as instance:
            records = instance.get_run_records()
            total = sum(r.end_time - r.start_time for r in records if r.end_time and r.start_time)
            steps = [e.dagster_event.event_specific_data.duration_ms / 1000 for r in records
                     for e in instance.all_logs(r.dagster_run.run_id, of_type=DagsterEventType.STEP_SUCCESS)]
            each = [(f"{r.dagster_run.tags.get('dagster/asset_partition_range_start', '')}.."
                     f"{r.dagster_run.tags.get('dagster/asset_partition_range_end', '')} "
                     f"{len(r.dagster_run.asset_selection or [])} assets", r.end_time - r.start_time)
                    for r in records if r.end_time and r.start_time]
            return total, len(records), steps, each
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stocks", default="1000")
    parser.add_argument("--day", default="2025-06-02")
    parser.add_argument("--start", default="2025-06-02")
    parser.add_argument("--end", default="2025-07-31")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from technic_assets.core.calendar import sessions

    n_days = len(sessions(args.start, args.end))
    span = f"{args.start}...{args.end}"
    procs: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="technic-distributed-"))
    databases = ExitStack()  # each a new PostgreSQL database, dropped at the end
    try:
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        base = {k: v for k, v in os.environ.items() if not k.startswith("TECHNIC_")}
        base.update({"PATH": f"{BIN}:{os.environ['PATH']}", "TECHNIC_SYNTHETIC_STOCKS": args.stocks,
                     "TECHNIC_ALPHA_WEIGHT": "0"})
        embedded = {**base, "TECHNIC_DUCKDB_PATH": str(tmp / "store.duckdb"),
                    "DAGSTER_HOME": home(tmp, "sqlite_home", "dagster.yaml")}
        pg_instance = databases.enter_context(pg_database("bench_instance"))
        catalog = databases.enter_context(pg_database("bench_catalog"))
        distributed = {**base, "DAGSTER_HOME": home(tmp, "pg_home", "dagster-postgres.yaml"),
                       "TECHNIC_PG_URL": pg_instance, "TECHNIC_STORE": iceberg_url(catalog, tmp / "warehouse"),
                       "TECHNIC_EXECUTOR": "celery", "TECHNIC_BROKER_URL": REDIS}
        for name in ("w1", "w2"):
            procs.append(start_group([str(BIN / "technic"), "worker", "--name", name], distributed,
                                     tmp / f"{name}.log"))

        # 1. one day, warm
        cold_e = materialize("technic_assets", args.day, None, embedded)
        cold_d = materialize("technic_assets", args.day, None, distributed)
        print(f"one day {args.day}, {args.stocks} stocks, cold: embedded {cold_e:.1f} s, distributed {cold_d:.1f} s",
              flush=True)
        warm_e, warm_d = [], []
        for _ in range(args.repeat):
            warm_e.append(materialize("technic_assets", args.day, None, embedded))
            warm_d.append(materialize("technic_assets", args.day, None, distributed))
        ratio = statistics.median(warm_d) / statistics.median(warm_e)
        print(f"  warm embedded    {fmt(warm_e)}\n  warm distributed {fmt(warm_d)}\n  ratio {ratio:.2f}x "
              f"(target <= 1.5x: {'met' if ratio <= 1.5 else 'not met'})", flush=True)
        _, _, day_steps, _ = run_seconds(distributed)

        # 2. a backfill in one run: SQLite vs PostgreSQL instance (embedded executor and DuckDB file)
        pg_embedded = {**embedded, "DAGSTER_HOME": home(tmp, "pg_home2", "dagster-postgres.yaml"),
                       "TECHNIC_PG_URL": databases.enter_context(pg_database("bench_instance2"))}
        materialize("technic_assets", span, None, embedded, flag="--partition-range")  # fill the span's bars
        sqlite_runs, pg_runs = [], []
        for _ in range(args.repeat):
            sqlite_runs.append(materialize("technic_assets", span, None, embedded, flag="--partition-range"))
            pg_runs.append(materialize("technic_assets", span, None, pg_embedded, flag="--partition-range"))
        print(f"backfill {span} ({n_days} sessions) in one run, warm DuckDB store:\n  SQLite instance     "
              f"{fmt(sqlite_runs)}\n  PostgreSQL instance {fmt(pg_runs)}  "
              f"({statistics.median(pg_runs) / statistics.median(sqlite_runs):.2f}x)", flush=True)

        # 3. the same backfill cut by the daemon onto the two workers (warm Iceberg store: run twice)
        procs.append(start_group([str(BIN / "dagster-daemon"), "run", "-m", "technic_assets"], distributed,
                                 tmp / "daemon.log"))
        technic = str(BIN / "technic")
        walls, sums = [], []
        for attempt in range(2):
            before, n_before, _, _ = run_seconds(distributed)
            t0 = time.perf_counter()
            out = subprocess.run([technic, "backfill", "--from", args.start, "--to", args.end, "--wait"],
                                 env=distributed, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"distributed backfill failed:\n{out.stderr[-3000:]}")
            wall = time.perf_counter() - t0
            after, count, steps, each = run_seconds(distributed)
            if attempt:  # the first fills the Iceberg store's bars
                walls.append(wall)
                sums.append(after - before)
                last_runs = each[:count - n_before]
            print(f"  distributed backfill {'warm' if attempt else 'cold'}: {wall:.1f} s wall, "
                  f"{after - before:.1f} s in runs: " +
                  ", ".join(f"{what} {secs:.1f} s" for what, secs in each[:count - n_before]), flush=True)
        single = statistics.median(sqlite_runs)
        print(f"backfill {span} cut into runs of 21 sessions on two workers (warm): {walls[0]:.1f} s wall "
              f"({walls[0] / single:.2f}x the embedded single run's {single:.1f} s; the daemon ticks every 30 s), "
              f"{sums[0]:.1f} s of runs ({sums[0] / single:.2f}x; target <= 1.15x)", flush=True)

        # 4. the model, from the warm backfill's runs
        months = [secs for what, secs in last_runs if not what.endswith(" 1 assets")]
        evaluation = [secs for what, secs in last_runs if what.endswith(" 1 assets")]
        month_run, eval_run = statistics.median(months), sum(evaluation)
        print(f"a day per step (wall / 13): embedded {statistics.median(warm_e) / 13:.2f} s, distributed "
              f"{statistics.median(warm_d) / 13:.2f} s; median step inside a worker {statistics.median(day_steps):.2f} s")
        print(f"model: month run R = {month_run:.1f} s (21 sessions; measured {', '.join(f'{x:.1f}' for x in months)}), "
              f"evaluation E = {eval_run:.1f} s, daemon tick t = 30 s, M = 4 runs at once; a 252-session year "
              f"(12 month runs) on N workers ~ 3t + ceil(12 / min(M, N)) x R + E:")
        for n in (1, 2, 4, 8):
            print(f"  N = {n}: {3 * 30 + -(-12 // min(4, n)) * month_run + eval_run:.0f} s")
    finally:
        for proc in procs:
            stop_group(proc, wait=30)
        databases.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
