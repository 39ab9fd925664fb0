"""Real servers for the distributed tests: a fresh PostgreSQL database per test, and the Iceberg store
URL on it (catalog in that database, data files under a temporary directory)."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

from technic_assets_tests.conftest import needs_service

PG = "postgresql://postgres@127.0.0.1:5432"


@contextmanager
def pg_database(prefix: str = "technic_test"):
    """A new, empty database on the local PostgreSQL (dropped afterwards): its psycopg2 SQLAlchemy URL."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(f"{PG}/postgres", connect_timeout=3)
    except psycopg2.OperationalError:
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
