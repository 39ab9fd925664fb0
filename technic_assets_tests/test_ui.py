"""The UI for real: `dagster dev` (webserver and daemon) on loopback, driven through its GraphQL API as
the browser does: a materialization, a backfill of two days of the daily_scan job (a run per day), and
an asset backfill of the whole graph for two more days (one run for the range), launched together,
awaited and read back from the store."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui(tmp_path_factory, warm_template):
    tmp = tmp_path_factory.mktemp("ui")
    shutil.copy(warm_template, tmp / "store.duckdb")  # the UI, not the history fill, is under test
    home = tmp / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "TECHNIC_DUCKDB_PATH": str(tmp / "store.duckdb"),
           "TECHNIC_SYNTHETIC_STOCKS": "200"}
    dagster = str(Path(sys.executable).with_name("dagster"))
    proc = subprocess.Popen([dagster, "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(1)
    else:
        os.killpg(proc.pid, 15)
        pytest.fail("dagster dev did not answer within 120 s")
    yield url, tmp / "store.duckdb"
    os.killpg(proc.pid, 15)
    proc.wait(timeout=60)


def gql(url, query, variables=None):
    body = requests.post(url, json={"query": query, "variables": variables or {}}, timeout=60).json()
    assert "errors" not in body, body
    return body["data"]


def wait_for(what, poll, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = poll()
        if state in ("SUCCESS", "COMPLETED", "COMPLETED_SUCCESS"):
            return
        assert state not in ("FAILURE", "CANCELED", "FAILED", "COMPLETED_FAILED"), f"{what}: {state}"
        time.sleep(2)
    pytest.fail(f"{what} did not finish within {timeout} s")


def ranked_days(store):
    conn = duckdb.connect(str(store), read_only=True)
    try:
        return dict(conn.execute("SELECT date::DATE::VARCHAR, count(*) FROM technic.ranked_top_n GROUP BY 1").fetchall())
    finally:
        conn.close()


def wait_for_backfill(url, backfill_id):
    wait_for("the backfill", lambda: gql(url, """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
        ... on PartitionBackfill { status } } }""", {"id": backfill_id})["partitionBackfillOrError"]["status"], 400)


def test_materialize_then_backfill_from_the_ui(ui):
    url, store = ui
    launched = gql(url, """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
                   {"p": {"selector": {"repositoryLocationName": "technic_assets", "repositoryName": "__repository__",
                                       "jobName": "daily_scan"},
                          "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2025-06-02"}]}}})
    run_id = launched["launchRun"]["run"]["runId"]

    # A backfill of the job: a run per day.
    by_job = gql(url, """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
        __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
                 {"p": {"selector": {"partitionSetName": "daily_scan_partition_set",
                                     "repositorySelector": {"repositoryLocationName": "technic_assets",
                                                            "repositoryName": "__repository__"}},
                        "partitionNames": ["2025-06-03", "2025-06-04"]}})["launchPartitionBackfill"]
    assert by_job["__typename"] == "LaunchBackfillSuccess", by_job

    # What the UI's "Materialize all" over a partition range sends: every asset, a list of days. Dagster
    # targets those days and whatever its partition mappings put downstream of them, then runs the
    # range as one run (the single-run backfill policy); it must be just these two days.
    assets = [node["assetKey"] for node in gql(url, "{ assetNodes { assetKey { path } } }")["assetNodes"]]
    by_assets = gql(url, """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
        __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
                    {"p": {"assetSelection": assets, "partitionNames": ["2025-06-05", "2025-06-06"]}})["launchPartitionBackfill"]
    assert by_assets["__typename"] == "LaunchBackfillSuccess", by_assets

    # All three at once, as people do (the daemon's 30 s ticks overlap instead of adding up); the
    # runs share the store, each connection waiting its turn for the lock.
    wait_for("the run", lambda: gql(url, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                                    {"id": run_id})["runOrError"]["status"], 300)
    wait_for_backfill(url, by_job["backfillId"])
    wait_for_backfill(url, by_assets["backfillId"])
    runs = gql(url, """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
        ... on PartitionBackfill { numPartitions runs(limit: 10) { status tags { key value } } } } }""",
               {"id": by_assets["backfillId"]})["partitionBackfillOrError"]
    assert runs["numPartitions"] == 2
    assert [{t["key"]: t["value"] for t in run["tags"]}["dagster/asset_partition_range_end"] for run in runs["runs"]] \
        == ["2025-06-06"]
    assert ranked_days(store) == {"2025-06-02": 25, "2025-06-03": 25, "2025-06-04": 25, "2025-06-05": 25, "2025-06-06": 25}
    # the runs went side by side, each day's changes reading the day before from another run: whatever
    # the order they ran in, every day's entries and exits are those of the two stored lists
    conn = duckdb.connect(str(store), read_only=True)
    try:
        tops = conn.execute("SELECT date::DATE::VARCHAR AS day, symbol FROM technic.ranked_top_n").fetchdf()
        moves = conn.execute("SELECT date::DATE::VARCHAR AS day, symbol, change FROM technic.changes").fetchdf()
    finally:
        conn.close()
    listed = {day: set(g["symbol"]) for day, g in tops.groupby("day")}
    days = sorted(listed)
    for before, day in zip(days, days[1:]):
        got = moves[moves["day"] == day]
        assert set(got[got["change"] == "entry"]["symbol"]) == listed[day] - listed[before], day
        assert set(got[got["change"] == "exit"]["symbol"]) == listed[before] - listed[day], day
        assert len(got) == len(listed[day] | listed[before]), day

