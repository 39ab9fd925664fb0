"""Technic beyond one machine, for real on this one: a PostgreSQL Dagster instance and Iceberg catalog,
a Redis broker, two `technic worker` processes and the Dagster daemon.

- A backfill of a month and a bit, cut by the multi-run policy into two runs that the workers execute
  side by side (and the readers of earlier days, changes and alpha_evaluation, over the whole range
  after them), equals the embedded single run table by table; both workers did work, as the runs' events say.
- A worker's step process killed in the middle of a step (as the OOM killer would) fails the run with
  a message naming the step and the lost worker ("[indicators]: WorkerLostError: Worker exited
  prematurely: signal 9 (SIGKILL)"); the worker carries on, and running the day again gives the same
  tables.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from technic_assets.core.calendar import sessions
from technic_assets.lineage import EARLIER_READS
from technic_assets_tests.conftest import fresh_redis
from technic_assets_tests.graph import ASSETS, resources
from technic_assets_tests.services import iceberg_url, pg_database, start_group, stop_group
from technic_assets_tests.snapshots import iceberg_snapshot, snapshot

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START, END = "2025-06-02", "2025-07-08"  # 25 sessions: runs of 21 and 4
KILLED_DAY = "2025-06-10"
REDIS = "redis://127.0.0.1:6379/11"
STOCKS = "60"
# `dagster-daemon` whose backfill loop ticks every 2 s instead of its fixed 30 s (a module constant with
# no setting): the backfill's four ticks would otherwise be most of this file's time.
FAST_DAEMON = ("import sys, dagster._daemon.controller as c; c.DEFAULT_DAEMON_INTERVAL_SECONDS = 2; "
               "from dagster._daemon.cli import main; sys.argv[0] = 'dagster-daemon'; sys.exit(main())")


def prefill() -> None:
    """Store the bars of the span and its 300-session window in the store the environment names, as
    the first run would; so the month runs, like the embedded run, start from the same stored bars and
    the test spends its time on the distribution, not on filling history twice."""
    from technic_assets.core.calendar import sessions_back
    from technic_assets.core.indicators import LOOKBACK

    first = sessions_back(START, LOOKBACK)[0]
    resources(int(STOCKS))["market"].provider().fill(list(sessions(first, END)))


@pytest.fixture(scope="module")
def celery_cluster(tmp_path_factory):
    """Everything a deployment runs, on loopback: its environment, instance home and worker processes."""
    fresh_redis(REDIS)
    base = tmp_path_factory.mktemp("cluster")
    home = base / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
    with pg_database("technic_instance") as instance_db, pg_database("technic_catalog") as catalog_db:
        env = {"DAGSTER_HOME": str(home), "TECHNIC_PG_URL": instance_db,
               "TECHNIC_STORE": iceberg_url(catalog_db, base / "warehouse"),
               "TECHNIC_EXECUTOR": "celery", "TECHNIC_BROKER_URL": REDIS,
               "TECHNIC_SYNTHETIC_STOCKS": STOCKS, "TECHNIC_ALPHA_WEIGHT": "0"}
        with pytest.MonkeyPatch.context() as mp:  # the bars up front, as in the embedded reference
            for name, value in env.items():
                mp.setenv(name, value)
            prefill()
        full = {**os.environ, **env, "PATH": f"{BIN}:{os.environ['PATH']}"}
        logs = base / "logs"
        logs.mkdir()
        workers = {name: start_group([str(BIN / "technic"), "worker", "--name", name], full, logs / f"{name}.log",
                                     cwd=base) for name in ("w1", "w2")}
        daemon = start_group([sys.executable, "-c", FAST_DAEMON, "run", "-m", "technic_assets"], full,
                             logs / "daemon.log", cwd=base)
        try:
            yield {"env": env, "full": full, "home": home, "workers": workers, "logs": logs, "base": base}
        finally:
            for proc in [daemon, *workers.values()]:
                stop_group(proc)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The embedded run: one run for the whole range in this process, on a DuckDB file."""
    path = tmp_path_factory.mktemp("embedded") / "store.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TECHNIC_DUCKDB_PATH", str(path))
        mp.setenv("TECHNIC_ALPHA_WEIGHT", "0")
        prefill()
        assert materialize(ASSETS, resources=resources(int(STOCKS)), instance=DagsterInstance.ephemeral(), tags={
            ASSET_PARTITION_RANGE_START_TAG: START, ASSET_PARTITION_RANGE_END_TAG: END}).success
    return snapshot(path)


def assert_same_tables(cluster, reference) -> None:
    stored = iceberg_snapshot(cluster["env"]["TECHNIC_STORE"])
    assert sorted(stored) == sorted(reference)
    for name, frame in reference.items():
        pd.testing.assert_frame_equal(stored[name], frame, obj=name)


def workers_of(instance, run_id: str) -> dict[str, str]:
    """step -> the Celery worker that ran it, from the run's own engine events."""
    found = {}
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        metadata = record.dagster_event.engine_event_data.metadata or {}
        if "Celery worker" in metadata:
            found[record.dagster_event.step_key] = metadata["Celery worker"].value
    return found


def test_a_backfill_split_across_two_workers_equals_the_embedded_run(celery_cluster, reference, monkeypatch):
    from technic_assets import backfill
    from technic_assets.definitions import build_definitions

    for name, value in celery_cluster["env"].items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.get() as instance:
        backfill_id = backfill.submit(instance, build_definitions(), START, END)
        assert backfill.wait(instance, backfill_id, timeout=400) == "COMPLETED_SUCCESS", \
            (celery_cluster["logs"] / "daemon.log").read_text()[-3000:]
        runs = instance.get_runs()
        def span(run):
            return run.tags.get(ASSET_PARTITION_RANGE_START_TAG), run.tags.get(ASSET_PARTITION_RANGE_END_TAG)
        readers = [r for r in runs if {k.path[-1] for k in r.asset_selection} <= set(EARLIER_READS)]
        months = [r for r in runs if r not in readers]
        assert sorted(map(span, months)) == [(START, "2025-07-01"), ("2025-07-02", END)]  # 21 + 4 sessions
        # the readers of earlier days in one run or more, as what they read is stored: every day once each
        for reader in EARLIER_READS:
            days = [d for r in readers if AssetKey(reader) in r.asset_selection for d in sessions(*span(r))]
            assert sorted(days) == list(sessions(START, END)), reader
        assert all(r.status == DagsterRunStatus.SUCCESS for r in runs)
        hosts = {host.split("@")[0] for r in runs for host in workers_of(instance, r.run_id).values()}
        assert hosts == {"w1", "w2"}
    assert_same_tables(celery_cluster, reference)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc (field 4 of stat, after the command's parentheses)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return found


def _materialize_day(cluster, day: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "dagster"), "asset", "materialize", "-m", "technic_assets", "--select", "*",
                             "--partition", day], env=cluster["full"], cwd=cluster["base"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_a_worker_killed_mid_step_fails_the_run_clearly_and_a_rerun_gives_the_same_tables(celery_cluster, reference,
                                                                                           monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(celery_cluster["home"]))
    monkeypatch.setenv("TECHNIC_PG_URL", celery_cluster["env"]["TECHNIC_PG_URL"])
    with DagsterInstance.get() as instance:
        before = {r.run_id for r in instance.get_runs()}
        proc = _materialize_day(celery_cluster, KILLED_DAY)
        victim, deadline = None, time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:
            new = [r for r in instance.get_runs() if r.run_id not in before]
            running = workers_of(instance, new[0].run_id) if new else {}
            victim = next(((step, host) for step, host in running.items() if step == "indicators"), None)
            time.sleep(0.1)
        assert victim is not None, "the indicators step never started on a worker"
        worker = celery_cluster["workers"][victim[1].split("@")[0]]
        children = children_of(worker.pid)
        assert len(children) == 1, children  # --concurrency 1: one step process
        os.kill(children[0], signal.SIGKILL)  # the process running the step, as the OOM killer would
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode != 0
        run = instance.get_run_by_id(new[0].run_id)
        assert run.status == DagsterRunStatus.FAILURE
        failed = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
        message = failed[0].dagster_event.event_specific_data.error.message
        assert "[indicators]" in message and "Worker exited prematurely: signal 9 (SIGKILL)" in message, message
        assert not instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_SUCCESS) or all(
            e.step_key != "indicators" for e in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_SUCCESS))
        again = _materialize_day(celery_cluster, KILLED_DAY)
        out, _ = again.communicate(timeout=240)
        assert again.returncode == 0, out[-3000:]
    assert_same_tables(celery_cluster, reference)


@pytest.mark.parametrize("env, expected", [
    ({"TECHNIC_EXECUTOR": "kubernetes"}, "TECHNIC_EXECUTOR='kubernetes' is not an executor"),
    ({"TECHNIC_EXECUTOR": "celery"}, "TECHNIC_EXECUTOR=celery needs TECHNIC_BROKER_URL"),
    ({"TECHNIC_STORE": "postgresql://u:hunter2@db/cat"}, "TECHNIC_STORE='postgresql://u:***@db/cat' is not an Iceberg"),
])
def test_the_distributed_settings_are_refused_by_name(env, expected):
    from technic_assets.environment import Environment

    with pytest.raises(ValueError) as err:
        Environment.read(env)
    assert expected in str(err.value) and "hunter2" not in str(err.value)


def test_distributed_definitions_cut_backfills_into_months_and_keep_the_readers_of_earlier_days_whole():
    """The policy and the edges as Dagster reads them: every asset in runs of at most 21 sessions but
    changes, alpha_evaluation and track_record (one run, after the months: they read the sessions before their day, and
    wait for a run still computing one); the embedded default keeps one run per range; every edge is
    same-day, so a backfill of a few days never stretches past them; the broker's URL is never in the config."""
    from dagster import AssetKey, BackfillPolicy

    from technic_assets.definitions import build_definitions
    from technic_assets.environment import Environment

    celery = build_definitions(Environment.read({"TECHNIC_EXECUTOR": "celery", "TECHNIC_BROKER_URL": "redis://:pw@b:6379/0"}))
    embedded = build_definitions(Environment.read({}))
    readers = {AssetKey("changes"), AssetKey("alpha_evaluation"), AssetKey("track_record")}
    for defs, others in [(celery, BackfillPolicy.multi_run(max_partitions_per_run=21)), (embedded, BackfillPolicy.single_run())]:
        graph = defs.resolve_asset_graph()
        assert {graph.get(k).backfill_policy for k in readers} == {BackfillPolicy.single_run()}
        assert {graph.get(k).backfill_policy for k in graph.materializable_asset_keys - readers} == {others}
        assert graph.get(AssetKey("changes")).parent_keys == {AssetKey("ranked_top_n"), AssetKey("merit")}
        for key in graph.materializable_asset_keys:
            assert not graph.get(key).partition_mappings, key
    assert celery.executor.name == "technic_celery" and "pw" not in repr(celery.executor.config_schema)
