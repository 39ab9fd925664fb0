"""Whole Polygon-backed runs through the faults of a bad evening, each against a clean run's store:

- the API answers 429 for a minute, then 500 for 15 s, then hangs for 20 s: the client retries
  (backoff with jitter, for up to TECHNIC_HTTP_RETRY_SECONDS) and the run ends with exactly the clean
  run's store;
- an outage longer than the retry window: the run fails naming the endpoint (never the key), leaves
  nothing but whole days behind, and the run after the outage gives the clean store;
- Redis (a real server, started for the test) killed with SIGKILL in the middle of a run: a warning
  in the run, the same results.

The outages run on a virtual clock (`clock`): the client's waits and deadlines and the server's
phases read it, and its sleeps take no real time. A hang is a real socket timeout, so it is kept short
in real time: a read timeout of HANG_TIMEOUT seconds against a server that hangs twice as long.
"""

import logging
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest
import redis
from dagster import DagsterInstance, materialize

from technic_assets.market import factory, http
from technic_assets.market.synthetic import SyntheticMarket
from technic_assets_tests.clock import FakeClock
from technic_assets_tests.conftest import needs_service
from technic_assets_tests.fake_polygon import serving
from technic_assets_tests.graph import ASSETS, resources
from technic_assets_tests.snapshots import assert_same_store, assert_whole_days, snapshot

KEY = "pk-outage-5e1d0b"
DAY = "2025-06-02"
HANG_TIMEOUT = 0.5  # real seconds


@pytest.fixture(scope="module")
def fake():
    with serving(SyntheticMarket(seed=9, n_stocks=100), KEY, DAY) as server:
        yield server


def use_polygon(monkeypatch, fake):
    monkeypatch.setenv("TECHNIC_MARKET", "polygon")
    monkeypatch.setenv("POLYGON_API_KEY", KEY)
    monkeypatch.setenv("TECHNIC_POLYGON_BASE_URL", fake.base_url)
    monkeypatch.setenv("TECHNIC_ALPHA_WEIGHT", "0")  # the client is under test, not the models


@pytest.fixture
def polygon_env(monkeypatch, fake):
    use_polygon(monkeypatch, fake)
    monkeypatch.setenv("TECHNIC_HTTP_TIMEOUT_SECONDS", "3")
    fake.outage()
    return monkeypatch


@pytest.fixture
def clock(monkeypatch):
    """Virtual time for the HTTP client and the fake server (which reads http.CLOCK too)."""
    virtual = FakeClock()
    monkeypatch.setattr(http, "CLOCK", virtual)
    return virtual


def run(monkeypatch, store):
    """One day of the whole graph on a new store, with a new client (no responses cached in memory)."""
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(store))
    factory._polygon.cache_clear()
    instance = DagsterInstance.ephemeral()
    result = materialize(ASSETS, partition_key=DAY, resources=resources(), instance=instance, raise_on_error=False)
    return result, instance


@pytest.fixture(scope="module")
def reference(tmp_path_factory, fake):
    with pytest.MonkeyPatch.context() as mp:
        use_polygon(mp, fake)
        store = tmp_path_factory.mktemp("reference") / "store.duckdb"
        result, _ = run(mp, store)
        assert result.success
        return snapshot(store)


def retries(result) -> int:
    return sum(e.materialization.metadata["cache_retries"].value for e in result.get_asset_materialization_events()
               if "cache_retries" in e.materialization.metadata)


def test_429s_then_500s_then_a_hang_are_ridden_out(polygon_env, clock, fake, reference, tmp_path):
    polygon_env.setenv("TECHNIC_HTTP_TIMEOUT_SECONDS", str(HANG_TIMEOUT))
    fake.outage((60, {"status": 429}), (15, {"status": 500}), (20, {"sleep": 2 * HANG_TIMEOUT}))
    started = clock.monotonic()
    result, _ = run(polygon_env, tmp_path / "store.duckdb")
    assert result.success
    assert clock.monotonic() - started > 95  # it waited the outage out rather than finishing around it
    assert retries(result) > 0
    assert_same_store(tmp_path / "store.duckdb", reference)


def test_an_outage_longer_than_the_retry_window_fails_clearly_and_leaves_whole_days(polygon_env, clock, fake,
                                                                                     reference, tmp_path):
    polygon_env.setenv("TECHNIC_HTTP_RETRY_SECONDS", "5")
    store = tmp_path / "store.duckdb"
    fake.outage((30, {"status": 503}))
    result, instance = run(polygon_env, store)
    assert not result.success
    failures = [e for e in instance.all_logs(result.run_id) if e.dagster_event and e.dagster_event.is_step_failure]
    message = failures[0].dagster_event.step_failure_data.error.to_string()  # with its cause and stack
    assert "HTTP 503 after" in message and fake.base_url in message, message  # what failed, and where
    assert KEY not in message
    if store.exists():
        assert_whole_days(store, reference, "after the failed run")
    clock.sleep(max(0.0, fake.timeline[-1][0] - clock.monotonic()))  # the outage is over
    result, _ = run(polygon_env, store)
    assert result.success
    assert_same_store(store, reference)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redis_killed_mid_run_gives_a_warning_and_the_same_results(polygon_env, fake, reference, tmp_path):
    server = shutil.which("redis-server")
    if not server:
        needs_service("this test starts its own Redis server to kill it: install redis-server (Debian: redis-server)")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        polygon_env.setenv("TECHNIC_REDIS_URL", f"redis://127.0.0.1:{port}/0")
        served = len(fake.requests)

        def kill_when_busy():
            while len(fake.requests) < served + 150 and proc.poll() is None:
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_when_busy, daemon=True)
        killer.start()
        result, instance = run(polygon_env, tmp_path / "store.duckdb")
        killer.join(timeout=60)
        assert proc.poll() is not None and len(fake.requests) > served + 150  # killed while the run was fetching
        assert result.success
        warnings = [e.user_message for e in instance.all_logs(result.run_id)
                    if e.level >= logging.WARNING and "Redis" in (e.user_message or "")]
        assert any("Redis failed mid-run" in w for w in warnings), warnings
        assert_same_store(tmp_path / "store.duckdb", reference)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
