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
