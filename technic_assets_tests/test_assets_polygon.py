"""The whole graph on the Polygon source, served by the fake server: requests per layer, and no key leaks."""

import logging

import pytest
from dagster import DagsterInstance, materialize
from dagster._serdes import serialize_value

from technic_assets.config import DEFAULT_START_DATE
from technic_assets.core.calendar import sessions, sessions_back
from technic_assets.market.synthetic import SyntheticMarket
from technic_assets_tests.fake_polygon import FakePolygon
from technic_assets_tests.graph import ASSETS, resources

KEY = "pk-secret-7f3a9c"
DAY, NEXT = "2025-06-02", "2025-06-03"


@pytest.fixture(scope="module")
def polygon_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("poly") / "store.duckdb"
    with FakePolygon(SyntheticMarket(seed=5, n_stocks=400), api_key=KEY) as fake, pytest.MonkeyPatch.context() as mp:
        fake.preload(sessions_back(DAY, 300)[0], NEXT)
        mp.setenv("TECHNIC_DUCKDB_PATH", str(path))
        mp.setenv("TECHNIC_MARKET", "polygon")
        mp.setenv("POLYGON_API_KEY", KEY)
        mp.setenv("TECHNIC_POLYGON_BASE_URL", fake.base_url)
        mp.setenv("TECHNIC_REDIS_URL", "redis://127.0.0.1:1/0")  # configured but not running
        instance = DagsterInstance.ephemeral()
        runs = {}
        for name, day in (("cold", DAY), ("warm", DAY), ("evening", NEXT)):
            before = len(fake.requests)
            result = materialize(ASSETS, partition_key=day, resources=resources(), instance=instance)
            runs[name] = (result, fake.requests[before:])
        yield instance, runs


def grouped(requests):
    return [r for r in requests if "/grouped/" in r]


def bar_requests(requests):
    return [r for r in requests if "/grouped/" in r or r in ("/v3/reference/splits", "/v3/reference/dividends")]


def test_an_empty_store_fetches_the_window_a_request_per_session(polygon_run):
    _, runs = polygon_run
    result, requests = runs["cold"]
    assert result.success
    # price_bars fills its 300-session window and the alpha model's training history before it, back
    # to the first partition, in one fill: each session asked once, one splits and one dividends listing
    days = grouped(requests)
    assert len(days) == len(set(days)) == len(sessions(DEFAULT_START_DATE, DAY))
    assert requests.count("/v3/reference/splits") == 1
    dividend_pages = requests.count("/v3/reference/dividends")
    assert dividend_pages >= 1
    meta = {e.materialization.asset_key.path[0]: e.materialization.metadata
            for e in result.get_asset_materialization_events() if e.materialization.partition == DAY}
    assert meta["price_bars"]["cache_requests"].value == len(days) + 1 + dividend_pages
    assert meta["ranked_top_n"]["rows"].value == 25


def test_a_warm_rerun_fetches_no_bars_and_an_evening_at_most_four(polygon_run):
    _, runs = polygon_run
    assert runs["warm"][0].success and bar_requests(runs["warm"][1]) == []
    assert not [r for r in runs["warm"][1] if r.startswith("/v3/reference/tickers/")]  # sectors known
    assert runs["evening"][0].success and len(bar_requests(runs["evening"][1])) <= 4


def test_the_api_key_appears_in_no_event_log_or_metadata(polygon_run, caplog):
    instance, runs = polygon_run
    for result, _ in runs.values():
        for entry in instance.all_logs(result.run_id):
            assert KEY not in serialize_value(entry)
    assert KEY not in caplog.text


def test_a_missing_redis_is_said_in_the_run_and_changes_nothing_else(polygon_run):
    instance, runs = polygon_run
    result, _ = runs["cold"]
    warnings = [e.user_message for e in instance.all_logs(result.run_id)
                if e.level >= logging.WARNING and "Redis" in (e.user_message or "")]
    assert any("not answering" in w and "without L3" in w for w in warnings)
    assert result.success


def test_filings_are_fetched_once_and_give_fundamentals(polygon_run):
    _, runs = polygon_run

    def meta(name, day):
        result, _ = runs[name]
        return {e.materialization.asset_key.path[0]: e.materialization.metadata
                for e in result.get_asset_materialization_events() if e.materialization.partition == day}

    assert meta("cold", DAY)["fundamentals"]["filing_days_fetched"].value == 461
    assert meta("warm", DAY)["fundamentals"]["filing_days_fetched"].value == 3  # the unsettled days only
    assert meta("evening", NEXT)["fundamentals"]["filing_days_fetched"].value == 4
    assert meta("cold", DAY)["fundamentals"]["rows"].value > 300


def test_a_plan_without_financials_scans_with_neutral_fundamentals_and_says_so(tmp_path):
    path = tmp_path / "store.duckdb"
    with FakePolygon(SyntheticMarket(seed=5, n_stocks=200), api_key=KEY) as fake, pytest.MonkeyPatch.context() as mp:
        fake.preload(sessions_back(DAY, 300)[0], DAY)
        fake.financials = 403
        mp.setenv("TECHNIC_DUCKDB_PATH", str(path))
        mp.setenv("TECHNIC_MARKET", "polygon")
        mp.setenv("POLYGON_API_KEY", KEY)
        mp.setenv("TECHNIC_POLYGON_BASE_URL", fake.base_url)
        instance = DagsterInstance.ephemeral()
        result = materialize(ASSETS, partition_key=DAY, resources=resources(), instance=instance)
        assert result.success
        meta = {e.materialization.asset_key.path[0]: e.materialization.metadata
                for e in result.get_asset_materialization_events()}
        assert meta["fundamentals"]["rows"].value == 0 and meta["fundamentals"]["fundamentals_neutral"].value
        said = meta["fundamentals"]["cache_warnings"].value
        assert "HTTP 403" in said and "score neutral" in said and said.count("financials filed") == 1
        logged = [e.user_message for e in instance.all_logs(result.run_id)
                  if e.level >= logging.WARNING and "HTTP 403" in (e.user_message or "")]
        assert logged and KEY not in " ".join(logged)
        factors = result.asset_value("factors")
        assert len(factors) and (factors[["value", "quality", "growth"]] == 0.0).all().all()
        assert meta["ranked_top_n"]["rows"].value == 25


def test_the_free_tier_gets_to_a_first_scan_and_says_what_it_lacks(tmp_path, monkeypatch):
    """The fake behaves as Polygon's free tier: 429 beyond 5 requests a minute, no financials, no
    snapshot. With the rate set as the README's free-tier guide says, a first scan of a small market
    completes in virtual time: the plan said beforehand how many requests (at least) and how long, the
    sector lookups stayed within ten minutes' worth, and the run shows the warnings."""
    from technic_assets.market import http
    from technic_assets_tests.clock import FakeClock
    from technic_assets_tests.graph import run_cli

    clock = FakeClock()
    monkeypatch.setattr(http, "CLOCK", clock)
    with FakePolygon(SyntheticMarket(seed=5, n_stocks=120), api_key=KEY) as fake:
        fake.preload(sessions_back(DAY, 300)[0], DAY)
        fake.rate_limit = 5
        fake.not_entitled = {"/vX/reference/financials", "/v2/snapshot/"}
        env = {"TECHNIC_DUCKDB_PATH": str(tmp_path / "store.duckdb"), "TECHNIC_MARKET": "polygon",
               "POLYGON_API_KEY": KEY, "TECHNIC_POLYGON_BASE_URL": fake.base_url,
               "TECHNIC_POLYGON_RATE_PER_MINUTE": "5", "TECHNIC_ALPHA_WEIGHT": "0",
               "TECHNIC_START_DATE": DEFAULT_START_DATE}
        planned = run_cli(["plan", "--date", DAY], env)
        assert planned.returncode == 0, planned.stderr
        assert "300 of 300 sessions missing" in planned.stdout and "50 ticker-detail requests at most" in planned.stdout
        assert fake.requests == []  # planning asks nothing
        run = run_cli(["scan", "--date", DAY, "--top", "10"], env)
        assert run.returncode == 0, run.stderr
        assert "at 5 a minute" in run.stderr.splitlines()[1]  # the first progress line says how long
        asked = fake.requests
        details = [r for r in asked if r.startswith("/v3/reference/tickers/")]
        assert len([r for r in asked if "/grouped/" in r]) == 300 and len(details) == 50
        minimum = int(planned.stdout.split("at least ")[1].split(" requests")[0].replace(",", ""))
        assert minimum <= len(asked) <= minimum + 5  # the few pages past the first
        assert not any(r.startswith("/v2/snapshot") for r in asked)  # the batch never needs the snapshot
        assert clock.slept >= (len(asked) - 5) / 5 * 60 * 0.99  # the rate was kept (429s, if any, waited out)
        assert "score neutral" in run.stderr and "HTTP 403" in run.stderr  # financials: not in the plan
        assert "until a later run" in run.stderr  # sectors: the rest on later evenings
        assert KEY not in run.stderr + run.stdout
        assert "Technic top 10" in run.stdout
