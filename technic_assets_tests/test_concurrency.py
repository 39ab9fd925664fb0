"""Four scans at once on one DuckDB store: DuckDB lets one process hold the file, so every connection
waits its turn (store.connect) and every write is one transaction; none may fail on the lock."""

import subprocess
import sys

import duckdb

SCRIPT = """
import sys
from dagster import materialize
from technic_assets.definitions import ASSETS, resources
from technic_assets.resources import MarketResource
result = materialize(ASSETS, partition_key=sys.argv[1], raise_on_error=False,
                     resources={**resources(), "market": MarketResource(n_stocks=200)})
sys.exit(0 if result.success else 1)
"""
DAYS = ["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05"]


def test_four_concurrent_runs_on_one_store(tmp_path):
    env_store = tmp_path / "store.duckdb"
    env = {"TECHNIC_DUCKDB_PATH": str(env_store), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, day], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for day in DAYS]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    failed = [(day, out[-2000:]) for day, p, out in zip(DAYS, procs, outputs) if p.returncode != 0]
    assert not failed, failed
    conn = duckdb.connect(str(env_store), read_only=True)
    ranked = conn.execute("SELECT date::DATE::VARCHAR d, count(*) FROM technic.ranked_top_n GROUP BY d ORDER BY d").fetchall()
    dup = conn.execute("SELECT count(*) FROM (SELECT date, symbol FROM technic.price_bars GROUP BY ALL HAVING count(*) > 1)").fetchall()
    assert ranked == [(d, 25) for d in DAYS]
    assert dup == [(0,)]
