"""The Dagster instance files under deploy/: SQLite out of the box, PostgreSQL for a deployment."""

import os
import shutil
import uuid
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, materialize

from technic_assets_tests.graph import ASSETS, resources

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PG = "postgresql://postgres@127.0.0.1:5432"
DAY = "2025-06-02"


def scan_with(instance, store_path, monkeypatch):
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(store_path))  # a copy of the warm store
    return materialize(ASSETS, partition_key=DAY, instance=instance,
                       resources=resources(200))


def test_the_sqlite_instance_keeps_runs_and_materializations(tmp_path, monkeypatch, warm_store):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    with DagsterInstance.from_config(str(home)) as instance:
        assert scan_with(instance, warm_store, monkeypatch).success
    with DagsterInstance.from_config(str(home)) as reopened:  # what a later process sees
        assert DAY in reopened.get_materialized_partitions(AssetKey("ranked_top_n"))
        assert len(reopened.get_runs()) == 1


@pytest.fixture
def pg_database():
    import psycopg2

    name = f"technic_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(f"{PG}/postgres", connect_timeout=3)
    except psycopg2.OperationalError:
        message = f"this test needs PostgreSQL at {PG}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI machines run one)")
        pytest.skip(message)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG.replace('postgresql://', 'postgresql+psycopg2://')}/{name}"
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
        cur.execute(f'DROP DATABASE "{name}"')
    admin.close()


def test_the_postgres_instance_file_works(tmp_path, monkeypatch, pg_database, warm_store):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster-postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("TECHNIC_PG_URL", pg_database)
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert scan_with(instance, warm_store, monkeypatch).success
    with DagsterInstance.from_config(str(home)) as reopened:
        assert DAY in reopened.get_materialized_partitions(AssetKey("ranked_top_n"))
        assert reopened.get_runs()[0].is_success


def test_the_instance_files_put_the_data_sources_retries_in_the_run_log(tmp_path):
    """A retry or a rate-limit wait is logged on `technic.market` (market/http.py); both instance files
    make Dagster capture that logger, so it shows in the run's log and in the CLI's progress lines."""
    import logging

    from dagster import asset

    @asset
    def asks_the_source():
        logging.getLogger("technic.market").warning("grouped daily bars for 2025-06-02: HTTP 429, retry 1 in 45.0 s")

    for name in ("dagster.yaml", "dagster-postgres.yaml"):
        text = (DEPLOY / name).read_text()
        assert "managed_python_loggers:\n    - technic.market" in text, name
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    with DagsterInstance.from_config(str(home)) as instance:
        result = materialize([asks_the_source], instance=instance)
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("HTTP 429, retry 1 in 45.0 s" in m for m in messages)


BARRIER_SECONDS = 10.0


def _first_use(home: str, start, inside_together, results) -> None:
    """One of two processes opening a new DAGSTER_HOME at once, as `technic scan` does. The run storage's
    creation is instrumented: a process that finds the other already inside it records an overlap, and
    each waits inside (up to BARRIER_SECONDS) for the other to come in too."""
    import threading

    os.environ["DAGSTER_HOME"] = home
    from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

    from technic_assets.instance import open_instance

    create = SqliteRunStorage.from_local.__func__
    marker = Path(home) / "creating"

    def from_local(cls, base_dir, inst_data=None):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            (Path(home) / f"overlap-{os.getpid()}").touch()
        try:
            inside_together.wait(BARRIER_SECONDS)  # the other comes in (no lock), or cannot (the lock)
        except threading.BrokenBarrierError:
            pass
        try:
            return create(cls, base_dir, inst_data)
        finally:
            marker.unlink(missing_ok=True)

    SqliteRunStorage.from_local = classmethod(from_local)
    start.wait()
    try:
        with open_instance() as instance:
            instance.get_runs(limit=1)
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}".splitlines()[0])


def test_two_first_uses_of_a_new_dagster_home_at_once_make_it_once(tmp_path):
    """Two first scans at once on a new DAGSTER_HOME: one failed with `UNIQUE constraint failed:
    alembic_version` (or `table ... already exists`) when both created the SQLite files. Deterministic:
    both processes start together, and each waits inside the run storage's creation for the other, so
    without the lock they are both inside it, every time; with it the second waits for the first to finish
    (its wait inside times out, then it goes on, and the second finds the barrier broken)."""
    import multiprocessing

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    ctx = multiprocessing.get_context("spawn")
    start, inside_together, results = ctx.Barrier(2), ctx.Barrier(2), ctx.Queue()
    processes = [ctx.Process(target=_first_use, args=(str(home), start, inside_together, results)) for _ in range(2)]
    for p in processes:
        p.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for p in processes:
        p.join(timeout=60)
    assert outcomes == ["ok", "ok"]
    assert not list(home.glob("overlap-*")), "both processes created the instance's storage at once"
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs() == []
