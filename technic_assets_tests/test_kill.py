"""A run killed hard (SIGKILL, the whole process group: no `finally`, no atexit) while it writes the store.

The `dagster asset materialize` of a whole day is started three times on one store (a copy of the warm
test store: history and models there, so each run writes its 13 tables) and killed each time as DuckDB's
write-ahead log appears (a write in flight), at a different write each time. After each kill every table
must hold, for every day it has, exactly the rows a clean run stores for that day: no partial,
duplicated or mixed partition. A last run then completes, and the store equals, table by table and row
by row, that of a clean run on another copy of the same store.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from technic_assets_tests.snapshots import assert_same_store, assert_whole_days, snapshot

ROOT = Path(__file__).resolve().parents[1]
DAY = "2025-06-02"
KILL_AT = [(2, 0.0), (7, 0.005), (12, 0.02)]  # (n-th write, seconds after it starts)


def command(tmp: Path, store: Path):
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "TECHNIC_DUCKDB_PATH": str(store), "TECHNIC_SYNTHETIC_STOCKS": "200"}
    dagster = str(Path(sys.executable).with_name("dagster"))
    return [dagster, "asset", "materialize", "-m", "technic_assets", "--select", "*", "--partition", DAY], env


def run_to_end(tmp, store):
    cmd, env = command(tmp, store)
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def run_and_kill(tmp, store, nth_write, delay) -> bool:
    """Start a run, SIGKILL its process group `delay` s after its n-th write begins; False if it ended first."""
    cmd, env = command(tmp, store)
    wal = Path(f"{store}.wal")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    writes, writing = 0, False
    try:
        while proc.poll() is None:
            now = wal.exists()
            if now and not writing:
                writes += 1
                if writes == nth_write:
                    time.sleep(delay)
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=60)
                    return True
            writing = now
            time.sleep(0.0002)
        return False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)


@pytest.fixture(scope="module")
def clean(tmp_path_factory, warm_template):
    tmp = tmp_path_factory.mktemp("clean")
    shutil.copy(warm_template, tmp / "store.duckdb")
    run_to_end(tmp, tmp / "store.duckdb")
    return snapshot(tmp / "store.duckdb")


def test_killed_runs_leave_whole_days_and_the_rerun_equals_a_clean_run(clean, tmp_path, warm_template):
    store = tmp_path / "store.duckdb"
    shutil.copy(warm_template, store)
    kills = 0
    for nth, delay in KILL_AT:
        kills += run_and_kill(tmp_path, store, nth, delay)
        if store.exists():  # opening it replays the WAL's committed writes and drops the rest
            assert_whole_days(store, clean, f"after a kill at write {nth}")
    assert kills == len(KILL_AT)  # each run was killed mid-way, none finished on its own
    run_to_end(tmp_path, store)
    assert_same_store(store, clean)
