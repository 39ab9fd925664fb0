"""The Polygon client and source against a fake server on loopback, and Redis as L3."""

import json
import logging
from urllib.parse import unquote

import pandas as pd
import pytest
import redis

from technic_assets.market.base import ProviderError
from technic_assets.market.http import HttpClient, RateLimiter, ResponseCache, Stats
from technic_assets.market.polygon import PolygonMarket
from technic_assets.market.sic import sector_for_sic
from technic_assets.market.synthetic import SyntheticMarket
from technic_assets_tests.clock import FakeClock
from technic_assets_tests.conftest import fresh_redis, shared_file
from technic_assets_tests.fake_polygon import FakePolygon, filings_filed

KEY = "test-key-123"
MARKET = SyntheticMarket(seed=3, n_stocks=150)
REDIS_URL = "redis://127.0.0.1:6379/15"
DAYS = [pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-03")]


@pytest.fixture
def fake():
    with FakePolygon(MARKET, api_key=KEY) as server:
        yield server


def client(fake, **kw):
    stats = Stats()
    cache = kw.pop("cache", None) or ResponseCache(stats, redis_url=kw.pop("redis_url", None))
    kw.setdefault("backoff", 0.01)
    return HttpClient(fake.base_url, kw.pop("key", KEY), stats=stats, cache=cache, **kw)


@pytest.fixture
def redis_db():
    r = fresh_redis(REDIS_URL)
    yield r
    r.flushdb()


def test_bars_match_the_source_and_carry_split_ratios_and_dividends(fake):
    source = PolygonMarket(client(fake))
    got = source.bars_for_sessions(DAYS).sort_values(["date", "symbol"]).reset_index(drop=True)
    want = MARKET.daily_bars(DAYS[0], DAYS[-1]).sort_values(["date", "symbol"]).reset_index(drop=True)
    assert (want["dividend"] > 0).any()  # the source pays some on these days
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert fake.requests.count("/v3/reference/splits") == 1
    assert fake.requests.count("/v3/reference/dividends") == 1
    assert len([p for p in fake.requests if "/grouped/" in p]) == 2


def test_splits_become_ratios_on_the_ex_date(fake):
    with_split = MARKET.daily_bars(pd.Timestamp("2025-01-02"), pd.Timestamp("2025-12-31"))
    event = with_split[with_split["split_ratio"] != 1.0].iloc[0]
    source = PolygonMarket(client(fake))
    bars = source.bars_for_sessions([event["date"]])
    assert bars.set_index("symbol").loc[event["symbol"], "split_ratio"] == pytest.approx(event["split_ratio"])


def test_listings_follow_pagination_and_map_sectors(fake):
    fake.page_size = 40
    source = PolygonMarket(client(fake), workers=4)
    listings = source.listings(DAYS[0])
    want = MARKET.listings(DAYS[0])
    assert sorted(listings["symbol"]) == sorted(want["symbol"])
    assert fake.requests.count("/v3/reference/tickers") >= len(want) // 40
    merged = listings.merge(want, on="symbol", suffixes=("", "_true"))
    stocks = merged[merged["type"] == "stock"]
    assert (stocks["sector"] == stocks["sector_true"]).all()
    assert set(merged.loc[merged["type"] == "ETF", "sector"]) == {"ETF"}


def test_a_cursor_that_never_ends_is_refused(fake):
    fake.endless_cursor = True
    c = client(fake)
    with pytest.raises(ProviderError, match="pagination"):
        list(c.paginate("/v3/reference/tickers", {"date": "2025-06-02", "limit": 10}, what="tickers", max_pages=20))


def test_429_with_retry_after_then_500_then_success(fake):
    fake.faults.extend([{"status": 429, "retry_after": "0.2"}, {"status": 500}, {"status": 503}])
    c = client(fake)
    body = c.get("/v2/aggs/grouped/locale/us/market/stocks/2025-06-02", {"adjusted": "false"}, what="grouped daily")
    assert body["resultsCount"] > 100
    assert c.stats.retries == 3 and c.stats.requests == 4


def test_persistent_errors_end_in_a_clear_failure_without_the_key(fake):
    fake.faults.extend([{"status": 500}] * 10)
    c = client(fake, max_retries=3)
    with pytest.raises(ProviderError) as err:
        c.get("/v2/aggs/grouped/locale/us/market/stocks/2025-06-02", {}, what="grouped daily bars for 2025-06-02")
    assert "2025-06-02" in str(err.value) and "HTTP 500 after 4 tries" in str(err.value)
    assert KEY not in str(err.value)


def test_a_hanging_server_times_out_and_is_retried(fake):
    # the read timeout is well above a loaded machine's answer time, so only the hung answer times out
    fake.faults.append({"sleep": 4.0})
    c = client(fake, timeout=(1.0, 3.0))
    body = c.get("/v3/reference/splits", {"execution_date.gte": "2025-06-02", "execution_date.lte": "2025-06-03"},
                 what="splits")
    assert "results" in body and c.stats.retries == 1


def test_malformed_json_and_refused_keys_are_named(fake):
    fake.faults.append({"malformed": True})
    with pytest.raises(ProviderError, match="not valid JSON"):
        client(fake).get("/v2/aggs/grouped/locale/us/market/stocks/2025-06-02", {}, what="grouped daily 2025-06-02")
    with pytest.raises(ProviderError, match="HTTP 401") as err:
        client(fake, key="wrong-key-456").get("/v3/reference/splits", {}, what="splits")
    assert "wrong-key-456" not in str(err.value)


def test_a_day_without_data_says_so(fake):
    source = PolygonMarket(client(fake))
    with pytest.raises(ProviderError, match="grouped daily bars for 2030-01-02: no data"):
        source.grouped_daily(pd.Timestamp("2030-01-02"))


def test_the_rate_limit_holds_requests_back():
    limiter = RateLimiter(3)
    for _ in range(3):
        assert limiter._try_local() == 0
    assert limiter._try_local() > 50  # the fourth must wait for the minute to pass


def test_retry_after_is_honoured_in_virtual_time(fake):
    clock = FakeClock()
    fake.faults.extend([{"status": 429, "retry_after": "7"}, {"status": 503, "retry_after": "12"}])
    c = client(fake, clock=clock)  # its own backoff is 0.01 s: the waits are the server's
    body = c.get("/v2/aggs/grouped/locale/us/market/stocks/2025-06-02", {"adjusted": "false"}, what="grouped daily")
    assert body["resultsCount"] > 100
    assert clock.sleeps == [7.0, 12.0] and clock.slept == 19.0
    assert c.stats.retries == 2 and c.stats.requests == 3


def test_the_retry_deadline_holds_in_virtual_time(fake):
    clock = FakeClock()
    fake.clock = clock
    fake.outage((1000, {"status": 503, "retry_after": "25"}))  # a long outage, timed by the same clock
    c = client(fake, clock=clock, retry_seconds=60)
    splits = {"execution_date.gte": "2025-06-02", "execution_date.lte": "2025-06-03"}
    with pytest.raises(ProviderError, match=r"HTTP 503 after 3 tries; the server asks to wait 25 s \(Retry-After\), "
                                            r"past the 60 s retry window \(10 s left\)"):
        c.get("/v3/reference/splits", splits, what="splits")
    assert clock.sleeps == [25.0, 25.0]  # a third 25 s would end past the deadline: it fails at once
    clock.sleep(1000 - clock.slept)  # the outage is over
    assert "results" in c.get("/v3/reference/splits", splits, what="splits")


def test_a_backoff_is_cut_to_try_once_more_at_the_deadline(fake):
    clock = FakeClock()
    fake.clock = clock
    fake.outage((1000, {"status": 503}))
    c = client(fake, clock=clock, retry_seconds=60, backoff=20, max_backoff=25)
    with pytest.raises(ProviderError, match="HTTP 503 after .* tries over 60 s"):
        c.get("/v3/reference/splits", {"execution_date.gte": "2025-06-02"}, what="splits")
    assert clock.slept == pytest.approx(60.0) and max(clock.sleeps) <= 25.0


def test_a_retry_after_beyond_the_backoff_cap_is_waited_in_full_and_logged(fake, caplog):
    clock = FakeClock()
    fake.faults.append({"status": 429, "retry_after": "45"})
    c = client(fake, clock=clock, max_backoff=30)
    with caplog.at_level(logging.INFO, logger="technic.market"):
        c.get("/v2/aggs/grouped/locale/us/market/stocks/2025-06-02", {}, what="grouped daily bars for 2025-06-02")
    assert clock.sleeps == [45.0]  # a capped 30 s would only hit the limit again
    line = next(r for r in caplog.records if r.name == "technic.market" and r.levelno == logging.WARNING)
    message = line.getMessage()
    assert "grouped daily bars for 2025-06-02" in message and "/v2/aggs/grouped/" in message
    assert "HTTP 429" in message and "in 45.0 s (Retry-After)" in message
    assert KEY not in caplog.text


def test_a_retry_after_past_the_deadline_fails_at_once(fake, caplog):
    clock = FakeClock()
    fake.faults.append({"status": 429, "retry_after": "300"})
    c = client(fake, clock=clock, retry_seconds=120)
    with pytest.raises(ProviderError) as err, caplog.at_level(logging.INFO, logger="technic.market"):
        c.get("/v2/aggs/grouped/locale/us/market/stocks/2025-06-02", {}, what="grouped daily bars for 2025-06-02")
    message = str(err.value)
    assert "grouped daily bars for 2025-06-02" in message and "HTTP 429 after 1 tries" in message
    assert "asks to wait 300 s (Retry-After), past the 120 s retry window" in message
    assert clock.slept == 0 and KEY not in message and KEY not in caplog.text


def test_the_rate_limit_waits_out_its_minute_in_virtual_time():
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock)
    for _ in range(3):
        limiter.acquire()
    assert clock.slept == 0
    limiter.acquire()  # the fourth waits for the first to leave the 60 s window
    assert clock.slept == pytest.approx(60.01)


def test_a_long_rate_limit_wait_is_logged(caplog):
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock)
    with caplog.at_level(logging.INFO, logger="technic.market"):
        limiter.acquire("grouped daily bars for 2025-06-02 (https://api.polygon.io/v2/aggs)")
        limiter.acquire("grouped daily bars for 2025-06-03 (https://api.polygon.io/v2/aggs)")
    assert [r.getMessage() for r in caplog.records] == [
        "rate limit: 1 requests a minute reached; grouped daily bars for 2025-06-03 "
        "(https://api.polygon.io/v2/aggs) waits 60.0 s"]


def _send_times(limiters, clock, count, pause):
    """`count` requests taken in turn by the limiters, `pause` virtual seconds apart; their epoch times."""
    times = []
    for i in range(count):
        limiters[i % len(limiters)].acquire()
        times.append(clock.time())
        clock.sleep(pause)
    return times


def test_the_redis_rate_limit_is_a_sliding_window_across_processes(redis_db):
    clock = FakeClock()
    clock.sleep((55 - clock.time() % 60) % 60)  # to 5 s before a minute boundary, wherever the clock starts
    shared = [RateLimiter(4, redis.Redis.from_url(REDIS_URL), key="technic:test:rate", clock=clock) for _ in range(2)]
    times = _send_times(shared, clock, 14, pause=1.0)  # straddles three minute boundaries
    busiest = max(sum(1 for u in times if t <= u < t + 60) for t in times)
    assert busiest == 4  # a fixed minute's counter lets 8 through around the first boundary
    assert times[4] - times[0] == pytest.approx(60.01, abs=0.02)  # the fifth waits for the first to leave
    assert redis_db.zcard("technic:test:rate") <= 4 and 0 < redis_db.pttl("technic:test:rate") <= 61000


def test_redis_is_l3_across_clients(fake, redis_db):
    first = client(fake, redis_url=REDIS_URL)
    PolygonMarket(first).bars_for_sessions(DAYS)
    served = len(fake.requests)
    second = client(fake, redis_url=REDIS_URL)  # another process would build its own client like this
    again = PolygonMarket(second).bars_for_sessions(DAYS)
    assert len(fake.requests) == served  # nothing new reached the provider
    assert second.stats.l3_hits == 4 and second.stats.requests == 0  # two sessions, the splits, the dividends
    assert len(again) > 0


def test_redis_dying_mid_run_changes_nothing_but_a_warning(fake, redis_db, caplog):
    stats = Stats()
    cache = ResponseCache(stats, redis_url=REDIS_URL)
    c = HttpClient(fake.base_url, KEY, stats=stats, cache=cache, backoff=0.01)
    source = PolygonMarket(c)
    first = source.bars_for_sessions(DAYS[:1])
    cache.redis = redis.Redis(port=1, socket_connect_timeout=0.5)  # the server has died
    with caplog.at_level(logging.WARNING, logger="technic.market"):
        second = source.bars_for_sessions(DAYS)
    assert any("Redis failed mid-run" in m for m in cache.warnings)
    pd.testing.assert_frame_equal(second[second["date"] == DAYS[0]].reset_index(drop=True), first.reset_index(drop=True))


def test_redis_absent_at_start_is_a_warning_not_an_error(fake):
    cache = ResponseCache(Stats(), redis_url="redis://127.0.0.1:1/0")
    assert cache.redis is None and "not answering" in cache.warnings[0]


def test_sic_codes_to_sectors():
    assert sector_for_sic("3571") == "Information Technology"  # Apple
    assert sector_for_sic(6021) == "Financials"  # national banks
    assert sector_for_sic("2911") == "Energy"  # petroleum refining
    assert sector_for_sic("2834") == "Health Care"  # pharmaceuticals
    assert sector_for_sic("6798") == "Real Estate"  # REITs
    assert sector_for_sic("4911") == "Utilities"
    assert sector_for_sic("4813") == "Communication Services"
    assert sector_for_sic(None) == "Unknown" and sector_for_sic("9999") == "Unknown"


def test_financials_become_point_in_time_fundamentals(fake):
    from technic_assets.core.fundamentals import point_in_time

    source = PolygonMarket(client(fake))
    day = DAYS[0]
    got = source.fundamentals(day).sort_values("symbol").reset_index(drop=True)
    served = filings_filed(MARKET, day - pd.Timedelta(days=460), day)
    want = point_in_time(served, day).sort_values("symbol").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert (got["published"] <= day).all() and got["eps_ttm"].notna().mean() > 0.9
    assert fake.requests.count("/vX/reference/financials") == -(-len(served) // 100)  # pages of 100


# -- a plan without a dataset degrades, never crashes ----------------------------------------------
@pytest.mark.parametrize("answer, why", [("empty", "no filings published"), ("null", "no filings published"),
                                         (403, "HTTP 403"), (404, "HTTP 404")])
def test_a_plan_without_financials_gives_no_fundamentals_and_one_warning(fake, tmp_path, answer, why):
    from technic_assets.market.stored import StoredMarket
    from technic_assets.storage.history import History

    fake.financials = answer
    stored = StoredMarket(PolygonMarket(client(fake)), History(str(tmp_path / "store.duckdb")))
    reports = stored.fundamentals_for_days(DAYS)
    assert reports.empty and {"date", "symbol", "eps_ttm", "roe"} <= set(reports.columns)
    assert str(reports["published"].dtype).startswith("datetime64")
    assert stored.report_history(DAYS[0], DAYS[-1]).empty  # the alpha model's path too
    warnings = stored.new_warnings()
    assert len(warnings) == 1 and why in warnings[0] and "financials" in warnings[0]
    assert "value, quality and growth score neutral" in warnings[0] and KEY not in warnings[0]
    assert stored.new_warnings() == []  # said once
    # a refusal is not a fetched span: once the plan includes financials, the days are filled
    assert (stored.filing_days_fetched == 0) == (answer in (403, 404))
    if answer in (403, 404):
        fake.financials = None
        again = StoredMarket(PolygonMarket(client(fake)), History(str(tmp_path / "store.duckdb")))
        assert len(again.fundamentals_for_days(DAYS)) > 100 and again.new_warnings() == []


def test_a_plan_without_financials_gives_the_source_alone_no_fundamentals(fake):
    fake.financials = 403
    source = PolygonMarket(client(fake))
    assert source.fundamentals(DAYS[0]).empty
    assert any("HTTP 403" in w for w in source.new_warnings())


def test_a_refused_key_on_financials_still_fails(fake, tmp_path):
    from technic_assets.market.stored import StoredMarket
    from technic_assets.storage.history import History

    stored = StoredMarket(PolygonMarket(client(fake, key="wrong-key")), History(str(tmp_path / "store.duckdb")))
    with pytest.raises(ProviderError, match="HTTP 401"):
        stored.fundamentals_for_days(DAYS)


def test_ticker_details_404_leaves_that_symbol_unknown(fake):
    want = MARKET.listings(DAYS[0])
    stock = want.loc[want["type"] == "stock", "symbol"].iloc[0]
    fake.missing_details = {stock}
    listings = PolygonMarket(client(fake), workers=4).listings(DAYS[0]).set_index("symbol")
    assert listings.loc[stock, "sector"] == "Unknown"
    others = listings[(listings["type"] == "stock") & (listings.index != stock)]
    assert (others["sector"] != "Unknown").mean() > 0.9


def details_asked(fake) -> list[str]:
    return [unquote(r.rsplit("/", 1)[-1]) for r in fake.requests if r.startswith("/v3/reference/tickers/")]


def test_a_plan_without_ticker_details_stops_asking_and_says_so_once(fake):
    fake.not_entitled = {"/v3/reference/tickers/"}
    source = PolygonMarket(client(fake), workers=4)
    listings = source.listings(DAYS[0])
    stocks = listings[listings["type"] == "stock"]
    assert (stocks["sector"] == "Unknown").all() and len(stocks) > 100
    assert len(details_asked(fake)) <= 4  # what was in flight when the first 403 came back
    warnings = source.new_warnings()
    assert len(warnings) == 1 and "ticker details" in warnings[0] and "403" in warnings[0] and KEY not in warnings[0]


def test_sector_lookups_are_rationed_most_liquid_first(fake, tmp_path):
    """A capped run asks only for the most liquid stocks' details, in the order of their 20-session
    dollar volume (computed here from the raw bars), and later runs ask for the rest."""
    from technic_assets.market.stored import StoredMarket
    from technic_assets.storage.history import History

    history = History(str(tmp_path / "store.duckdb"))
    day = pd.Timestamp("2025-06-02")
    window = MARKET.daily_bars(day - pd.Timedelta(days=40), day)
    history.replace_dates("price_bars", window, sorted(window["date"].unique()))
    last20 = window[window["date"].isin(sorted(window["date"].unique())[-20:])]
    dollars = (last20["close"] * last20["volume"]).groupby(last20["symbol"]).mean()
    close = window.sort_values("date").groupby("symbol")["close"].last()
    passing = dollars[(close.reindex(dollars.index) >= 5.0) & (dollars >= 500_000)].sort_values(ascending=False)
    kinds = MARKET.listings(day).set_index("symbol")["type"]
    liquid_stocks = [s for s in passing.index if kinds.get(s) == "stock"]

    stored = StoredMarket(PolygonMarket(client(fake), workers=1, sector_lookups=10), history)
    listings = stored.listings(day).set_index("symbol")
    assert details_asked(fake) == liquid_stocks[:10]
    assert (listings.loc[liquid_stocks[:10], "sector"] != "Unknown").all()
    unknown = listings[(listings["type"] == "stock") & (listings["sector"] == "Unknown")]
    assert len(unknown) == (kinds == "stock").sum() - 10
    warnings = stored.new_warnings()
    assert len(warnings) == 1 and "until a later run" in warnings[0]
    # the next run (sectors now stored with the universe) asks for the next ten
    history.replace_dates("universe", listings.reset_index().assign(date=day), [day])
    fake.requests.clear()
    StoredMarket(PolygonMarket(client(fake), workers=1, sector_lookups=10), history).listings(day)
    assert details_asked(fake) == liquid_stocks[10:20]


def test_a_plan_without_splits_fails_the_run_saying_why(fake):
    fake.not_entitled = {"/v3/reference/splits"}
    with pytest.raises(ProviderError, match="HTTP 403.*without split ex-dates") as caught:
        PolygonMarket(client(fake)).bars_for_sessions(DAYS)
    assert KEY not in str(caught.value)


def mock_dividends() -> list[dict]:
    return json.loads(shared_file("polygon", "mocks", "v3", "reference", "dividends.json").read_text())["results"]


def test_dividends_are_the_regular_usd_cash_ones_of_the_range_over_pages(fake):
    """The mock's records (polygon-io/client-python's, all CD), a special and a Canadian-dollar one
    beside them, served three a page: the ten regular USD ones come back, by ex-date and ticker."""
    fake.page_size = 3
    fake.dividend_records = mock_dividends() + [
        {"cash_amount": 5.0, "currency": "USD", "dividend_type": "SC", "ex_dividend_date": "2024-06-13", "ticker": "SPCL"},
        {"cash_amount": 0.4, "currency": "CAD", "dividend_type": "CD", "ex_dividend_date": "2024-06-13", "ticker": "CADX"},
    ]
    got = PolygonMarket(client(fake)).dividends(pd.Timestamp("2023-01-01"), pd.Timestamp("2025-12-31"))
    want = [("2023-08-11", "AIRTP", 0.5), ("2023-09-14", "CSSEN", 0.59375), ("2023-11-13", "AIRTP", 0.5),
            ("2023-12-14", "CSSEN", 0.59375), ("2024-03-14", "CSSEN", 0.59375), ("2024-06-13", "CSSEN", 0.59375),
            ("2024-09-12", "CSSEN", 0.59375), ("2024-12-12", "CSSEN", 0.59375), ("2025-03-13", "CSSEN", 0.59375),
            ("2025-06-12", "CSSEN", 0.59375)]
    assert [(f"{d:%Y-%m-%d}", s, a) for d, s, a in got.sort_values(["date", "symbol"]).itertuples(index=False)] == want
    assert fake.requests.count("/v3/reference/dividends") == 4  # 12 records, 3 a page
    some = PolygonMarket(client(fake)).dividends(pd.Timestamp("2024-06-01"), pd.Timestamp("2024-09-30"))
    assert list(zip(some["symbol"], some["amount"])) == [("CSSEN", 0.59375), ("CSSEN", 0.59375)]


def test_a_dividend_lands_on_its_ex_dates_bar(fake):
    fake.dividend_records = [{"cash_amount": 0.25, "currency": "USD", "dividend_type": "CD",
                              "ex_dividend_date": "2025-06-03", "ticker": "SPY"}]
    bars = PolygonMarket(client(fake)).bars_for_sessions(DAYS).set_index(["date", "symbol"])["dividend"]
    assert bars[(DAYS[1], "SPY")] == 0.25 and bars[(DAYS[0], "SPY")] == 0.0 and bars.sum() == 0.25


def test_a_plan_without_dividends_stores_bars_paying_none_and_says_so(fake):
    fake.not_entitled = {"/v3/reference/dividends"}
    source = PolygonMarket(client(fake))
    bars = source.bars_for_sessions(DAYS)
    assert len(bars) and (bars["dividend"] == 0.0).all()
    warnings = source.new_warnings()
    assert len(warnings) == 1 and "HTTP 403" in warnings[0] and "price returns" in warnings[0]
    assert KEY not in warnings[0]


def test_the_free_tiers_429s_are_waited_out_as_the_server_asks(fake, monkeypatch):
    """A client without the rate set meets the free tier's limit: every 429 carries the seconds until a
    place frees up, and waiting them (virtual time) gets every session through."""
    from technic_assets.market import http

    clock = FakeClock()
    monkeypatch.setattr(http, "CLOCK", clock)
    fake.rate_limit = 5
    days = list(pd.bdate_range("2025-06-02", "2025-06-13"))  # ten sessions, the splits, the dividends: 12 requests
    bars = PolygonMarket(client(fake, retry_seconds=600), workers=2).bars_for_sessions(days)
    assert sorted(bars["date"].unique()) == days
    assert fake.rejected > 0
    assert clock.slept >= 60.0  # 12 requests at 5 a minute span more than one minute


# -- the CLI's default date is the source's latest complete session ---------------------------------
class _OneBehind(SyntheticMarket):
    """A source whose latest complete session is the one before the latest closed one (a provider
    that has not published the day yet)."""

    def latest_session(self, now):
        from technic_assets.core.calendar import latest_closed_session, nyse

        return nyse().previous_session(pd.Timestamp(latest_closed_session(now))).strftime("%Y-%m-%d")


def test_the_cli_default_date_is_the_sources_latest_session():
    from technic_assets.cli.dates import resolve_date
    from technic_assets.environment import Environment

    now = pd.Timestamp("2025-06-10 17:00", tz="America/New_York")  # a Tuesday after the close
    assert resolve_date(None, Environment(), source=_OneBehind(seed=1, n_stocks=10), now=now) == "2025-06-09"
    assert resolve_date(None, Environment(), now=now) == "2025-06-10"  # synthetic: the calendar's



class WithFunds(SyntheticMarket):
    """The simulation plus three listings as Polygon types them (hand-labelled, names from NASDAQ
    Trader's 2020 directory): KYN, a closed-end fund Polygon types FUND; ADX, a closed-end fund typed CS
    here, whose name says Fund; ABR, a REIT named Trust, CS."""

    EXTRA = pd.DataFrame({"symbol": ["KYN", "ADX", "ABR"], "polygon_type": ["FUND", "CS", "CS"],
                          "name": ["Kayne Anderson Energy Infrastructure Fund, Inc.",
                                   "Adams Diversified Equity Fund Inc.", "Arbor Realty Trust Common Stock"]})

    def listings(self, day, known_sectors=None, priority=None):
        out = super().listings(day)
        extra = self.EXTRA.assign(type="stock", sector="Financials", exchange="XNYS", is_leveraged=False,
                                  listed=pd.NaT, delisted=pd.NaT)
        return pd.concat([out, extra[[*out.columns, "polygon_type"]]], ignore_index=True)


def test_closed_end_funds_are_etfs_and_a_reit_named_trust_a_stock():
    with FakePolygon(WithFunds(seed=3, n_stocks=20), api_key=KEY) as server:
        listings = PolygonMarket(client(server)).listings(DAYS[0]).set_index("symbol")
    assert list(listings.loc[["KYN", "ADX", "ABR"], "type"]) == ["ETF", "ETF", "stock"]
    assert not listings.loc[["KYN", "ADX"], "is_leveraged"].any()
