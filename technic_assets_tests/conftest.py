import os
import shutil
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=".*is currently in beta.*")

# The tests run on the built-in market with the documented defaults, whatever the shell has set
# (this runs before any test module imports technic_assets, whose partitions read TECHNIC_START_DATE).
for _name in [n for n in os.environ if n.startswith("TECHNIC_") or n == "DAGSTER_HOME"]:
    del os.environ[_name]
os.environ["TECHNIC_SCREENS"] = ""  # not the user's ~/.technic/screens.yaml: one screen, unless a test gives a file

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    """A fresh, empty store for one test."""
    path = tmp_path / "store.duckdb"
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(path))
    return path


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared test data missing: {path} (the repository expects ../shared beside it)")
    return path


def needs_service(message: str) -> None:
    """A test that needs a local server it cannot find: skipped on a developer's machine, saying which
    and how to get it, but failed in CI (`CI` set), whose machines run them: never a silent pass there."""
    if os.environ.get("CI"):
        pytest.fail(message + " (CI machines run one)")
    pytest.skip(message)


def fresh_redis(url: str):
    """A client of the real Redis server at `url`, its database emptied (needs_service if none answers)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError:
        needs_service(f"these tests need a Redis server at {url}; start one (redis-server) to run them")
    client.flushdb()
    return client


WARM_DAY = "2025-06-02"
WARM_THROUGH = "2025-06-13"


@pytest.fixture(scope="session")
def warm_template(tmp_path_factory):
    """A store of the 200-stock built-in market, built once per session: WARM_DAY scanned (its bars
    back to the first partition filled, June's models trained and stored) and the bars through
    WARM_THROUGH. Tests that are not about an empty store start from a copy (`warm_store`), so they
    pay neither the history fill nor the training."""
    from dagster import DagsterInstance, materialize

    from technic_assets.core.calendar import sessions
    from technic_assets_tests.graph import ASSETS, resources

    path = tmp_path_factory.mktemp("warm") / "store.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TECHNIC_DUCKDB_PATH", str(path))
        res = resources(200)
        assert materialize(ASSETS, partition_key=WARM_DAY, resources=res, instance=DagsterInstance.ephemeral()).success
        res["market"].provider().fill(list(sessions(WARM_DAY, WARM_THROUGH)))
    return path


WEEK_FIRST, WEEK_LAST = "2025-06-02", "2025-06-10"  # scanned_week: 7 sessions scanned; bars stored through 06-13


@pytest.fixture(scope="session")
def scanned_week(warm_template, tmp_path_factory):
    """The warm store with every evening from WEEK_FIRST to WEEK_LAST scanned (the alpha models off:
    TECHNIC_ALPHA_WEIGHT=0), built once per session: a stored screen's evenings for the track record."""
    from dagster import DagsterInstance, materialize
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from technic_assets_tests.graph import ASSETS, resources

    path = tmp_path_factory.mktemp("week") / "store.duckdb"
    shutil.copy(warm_template, path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TECHNIC_DUCKDB_PATH", str(path))
        mp.setenv("TECHNIC_ALPHA_WEIGHT", "0")
        assert materialize(ASSETS, resources=resources(200), instance=DagsterInstance.ephemeral(), tags={
            ASSET_PARTITION_RANGE_START_TAG: WEEK_FIRST, ASSET_PARTITION_RANGE_END_TAG: WEEK_LAST}).success
    return path


@pytest.fixture
def warm_store(warm_template, tmp_path, monkeypatch):
    """A copy of the warm template for one test, named by TECHNIC_DUCKDB_PATH (and 200 stocks)."""
    path = tmp_path / "store.duckdb"
    shutil.copy(warm_template, path)
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(path))
    monkeypatch.setenv("TECHNIC_SYNTHETIC_STOCKS", "200")
    return path


# Every test carries one kind: `unit` (the core, the sources, the store: no Dagster run), `graph`
# (the assets run through Dagster), `fault` (the fault suite: killed runs, outages, dirty and hostile
# input, secrets, concurrency); and `service` where it needs a real Redis or PostgreSQL (or starts
# redis-server). `./dev test` runs them all; `./dev test -m unit` is the quick loop while editing.
KINDS = {
    "graph": {"test_assets", "test_alpha_assets", "test_assets_polygon", "test_backfill", "test_cli", "test_instance",
              "test_operations", "test_real_data", "test_screens", "test_ui", "test_alerts", "test_live_scan",
              "test_live_runner", "test_iceberg_store", "test_distributed", "test_run_order", "test_backtest",
              "test_run_metrics", "test_ui_browser"},
    "fault": {"test_kill", "test_outage", "test_dirty_data", "test_hostile", "test_secrets", "test_concurrency",
              "test_live_feeds"},
}
SERVICE_FIXTURES = {"redis_db", "cache", "pg_database", "iceberg_store", "celery_cluster"}
SERVICE_TESTS = {"test_redis_killed_mid_run_gives_a_warning_and_the_same_results"}


# The slowest files first, so that with workers (`-n`, as `./dev test` runs) the long ones start
# together and the quick ones fill in around them; test_ui mostly waits on Dagster's daemon ticks.
SLOWEST_FIRST = ["test_ui", "test_distributed", "test_kill", "test_concurrency", "test_backfill", "test_assets_polygon",
                 "test_real_data", "test_dirty_data", "test_secrets", "test_hostile", "test_outage", "test_alpha_assets",
                 "test_iceberg_store", "test_instance", "test_assets", "test_cli", "test_screens"]


def pytest_collection_modifyitems(items):
    def rank(item):
        module = item.module.__name__.rsplit(".", 1)[-1]
        return SLOWEST_FIRST.index(module) if module in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: within a file, the written order
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        kind = next((k for k, modules in KINDS.items() if module in modules), "unit")
        item.add_marker(getattr(pytest.mark, kind))
        if SERVICE_FIXTURES & set(item.fixturenames) or item.originalname in SERVICE_TESTS:
            item.add_marker(pytest.mark.service)


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (as `./dev test` runs): a worker per core and one more, since several of the slow
    tests mostly wait (test_ui on the daemon's ticks, test_kill and test_concurrency on processes they
    start): measured on 2 cores, 3 workers took 4 min 10 s where 2 took 4 min 40 s."""
    return (os.cpu_count() or 1) + 1
