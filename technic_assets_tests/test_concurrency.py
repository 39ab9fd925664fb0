"""Four scans and a backfill at once on one DuckDB store: DuckDB lets one process hold the file, so
every connection waits its turn (store.connect) and every write is one transaction; none may fail on
the lock, and no table may end with a day twice or a day short."""

import shutil
import subprocess
import sys

import duckdb

SCRIPT = """
import sys
from dagster import materialize
from technic_assets_tests.graph import ASSETS, resources
first, _, last = sys.argv[1].partition("...")
tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last} if last else {}
result = materialize(ASSETS, partition_key=None if last else first, tags=tags, raise_on_error=False,
                     resources=resources(200))
sys.exit(0 if result.success else 1)
"""
DAYS = ["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05"]
BACKFILL = ["2025-06-09", "2025-06-10", "2025-06-11", "2025-06-12", "2025-06-13"]


def test_four_concurrent_runs_and_a_backfill_on_one_store(tmp_path, warm_template):
    env_store = tmp_path / "store.duckdb"
    shutil.copy(warm_template, env_store)  # history and models there: the runs contend for the lock, not the CPU
    env = {"TECHNIC_DUCKDB_PATH": str(env_store), "PATH": "/usr/bin:/bin"}
    jobs = DAYS + [f"{BACKFILL[0]}...{BACKFILL[-1]}"]
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, job], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for job in jobs]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    failed = [(job, out[-2000:]) for job, p, out in zip(jobs, procs, outputs) if p.returncode != 0]
    assert not failed, failed
    conn = duckdb.connect(str(env_store), read_only=True)
    ranked = conn.execute("SELECT date::DATE::VARCHAR d, count(*) FROM technic.ranked_top_n GROUP BY d ORDER BY d").fetchall()
    assert ranked == [(d, 25) for d in DAYS + BACKFILL]
    for table in ("universe", "price_bars", "indicators", "filtered_universe", "factors", "merit", "alpha_forecasts"):
        dup = conn.execute(f"SELECT count(*) FROM (SELECT date, symbol FROM technic.{table} GROUP BY ALL HAVING count(*) > 1)").fetchall()
        assert dup == [(0,)], table
    universe = dict(conn.execute("SELECT date::DATE::VARCHAR, count(*) FROM technic.universe GROUP BY 1").fetchall())
    indicators = dict(conn.execute("SELECT date::DATE::VARCHAR, count(*) FROM technic.indicators GROUP BY 1").fetchall())
    assert set(universe) == set(indicators) == set(DAYS + BACKFILL)
    assert all(indicators[d] <= universe[d] for d in universe)  # every listing with bars, no more
