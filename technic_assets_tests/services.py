"""Real servers for the distributed tests and benchmark: a fresh PostgreSQL database each, the Iceberg
store URL on it (catalog in that database, data files under a temporary directory), and the worker and
daemon processes started and stopped as process groups."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

PG = "postgresql://postgres@127.0.0.1:5432"


@contextmanager
def pg_database(prefix: str = "technic_test"):
    """A new, empty database on the local PostgreSQL (dropped afterwards): its psycopg2 SQLAlchemy URL."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(f"{PG}/postgres", connect_timeout=3)
    except psycopg2.OperationalError:
        from technic_assets_tests.conftest import needs_service  # a skip in a test (not imported by a benchmark)

        needs_service(f"this test needs PostgreSQL at {PG}")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG.replace('postgresql://', 'postgresql+psycopg2://')}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            cur.execute(f'DROP DATABASE "{name}"')
        admin.close()


def iceberg_url(database_url: str, warehouse) -> str:
    """TECHNIC_STORE for a catalog in `database_url` and data files under `warehouse`."""
    return f"iceberg+{database_url.replace('+psycopg2', '')}?warehouse={warehouse}"


def start_group(cmd: list[str], env: dict, log: Path, cwd=None) -> subprocess.Popen:
    """`cmd` leading a session of its own (its children stop with it), its output into `log`."""
    return subprocess.Popen(cmd, env=env, cwd=cwd or log.parent, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_group(proc: subprocess.Popen, wait: float = 20.0) -> None:
    """Stop a process started by start_group, and its children: SIGTERM, then SIGKILL after `wait` s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
