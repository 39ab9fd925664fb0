"""The Dagster instance a CLI run records itself in: DAGSTER_HOME's, else an ephemeral one.

The first use of a new DAGSTER_HOME creates its SQLite files (runs, the event log's index, schedules)
and stamps their Alembic revision, each after looking whether another process already has; two
processes doing it at once (two first `technic scan`s) both find nothing and both create, and one
fails with `UNIQUE constraint failed: alembic_version` or `table ... already exists`. So opening the
instance holds an exclusive lock on DAGSTER_HOME/.technic-instance.lock until its storages exist: the
second process waits a moment, then finds them made. Processes that open the instance without Technic
(dagster dev, the daemon) do not take the lock; start those after a first scan, or before any.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance

LOCK_FILE = ".technic-instance.lock"


@contextmanager
def instance_lock(home: str):
    """Exclusive, across processes, while held (an advisory lock the system drops if the holder dies);
    nothing where the folder cannot hold the lock file (DagsterInstance.get then names the problem)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    try:
        file = open(Path(home) / LOCK_FILE, "a")  # noqa: SIM115 - closed below, after the lock is dropped
    except OSError:
        yield
        return
    try:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield
    finally:
        file.close()  # drops the lock


def open_instance() -> DagsterInstance:
    """DAGSTER_HOME's instance, its storages created (or migrated) under the lock; an ephemeral instance
    without DAGSTER_HOME."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return DagsterInstance.ephemeral()
    with instance_lock(home):
        instance = DagsterInstance.get()
        # touched under the lock in case a Dagster version makes them on first use
        instance.run_storage, instance.event_log_storage, instance.schedule_storage  # noqa: B018
    return instance
