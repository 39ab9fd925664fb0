"""The intraday loop end to end: the engine loaded at D-1, D's official bars replayed minute by minute
through the incremental indicators into engine.rescan, compared at the close with the evening scan of
D that the daily graph stores (both computed, neither hard-coded). And TECHNIC_LIVE picks the feed."""

import asyncio
import dataclasses
import hashlib

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from technic_assets.core.indicators import INDICATOR_COLUMNS
from technic_assets.environment import Environment
from technic_assets.live.day import load_day
from technic_assets.live.engine import LIQUIDITY_COLUMNS, LiveEngine
from technic_assets.live.replay import ReplayFeed
from technic_assets.live.runner import feed_from_env, run_live, start
from technic_assets.storage.connection import SCHEMA, connect
from technic_assets_tests.conftest import WARM_DAY
from technic_assets_tests.graph import ASSETS, resources

NEXT_DAY = "2025-06-03"


def stored(path, table, day):
    conn = connect(str(path), read_only=True)
    try:
        return conn.execute(f"SELECT * FROM {SCHEMA}.{table} WHERE date = ?", [pd.Timestamp(day)]).fetchdf()
    finally:
        conn.close()


@pytest.fixture
def evening(warm_store):
    """The warm store with the evening scan of NEXT_DAY run by the daily graph."""
    assert materialize(ASSETS, partition_key=NEXT_DAY, resources=resources(200),
                       instance=DagsterInstance.ephemeral()).success
    return warm_store


def test_replaying_the_next_day_from_the_loaded_day_gives_the_evening_scan_s_indicators_and_ranking(evening):
    """At the close the forming bars are the official ones: the indicators are the evening's. The
    ranking then differs from the evening's only by the inputs the engine keeps at the loaded day's
    close during the day (by the issue's design: the 20-day liquidity figures, the alpha forecasts,
    the fundamentals); given the evening's own, it is the evening's ranked_top_n."""
    loaded, scanned = load_day(str(evening), WARM_DAY), load_day(str(evening), NEXT_DAY)
    liquidity = scanned.indicators.set_index("symbol")[LIQUIDITY_COLUMNS]
    indicators = loaded.indicators.copy()
    for col in LIQUIDITY_COLUMNS:
        indicators[col] = indicators["symbol"].map(liquidity[col]).fillna(indicators[col])
    engine = LiveEngine(dataclasses.replace(loaded, indicators=indicators, fundamentals=scanned.fundamentals,
                                            splits=scanned.splits, forecasts=scanned.forecasts))
    first = engine.screen(engine.day_settings).version
    bars = stored(evening, "price_bars", NEXT_DAY)
    feed = ReplayFeed(bars, NEXT_DAY, speed=0, start_minute=380)  # the last ten minutes of the session
    before = hashlib.sha256(evening.read_bytes()).hexdigest()
    asyncio.run(run_live(engine, feed))
    assert hashlib.sha256(evening.read_bytes()).hexdigest() == before  # intraday never writes the store
    result = engine.screen(engine.day_settings)
    assert first < result.version <= first + 10 and engine.feed["state"] == "finished"
    assert result.source == "replay" and result.as_of == pd.Timestamp(f"{NEXT_DAY} 20:00", tz="UTC")

    got = result.snapshot.indicators.set_index("symbol")
    want = stored(evening, "indicators", NEXT_DAY).set_index("symbol")
    columns = [c for c in INDICATOR_COLUMNS if c not in LIQUIDITY_COLUMNS]
    a, b = got.loc[want.index, columns].to_numpy(float), want[columns].to_numpy(float)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True)
    assert (got.loc[want.index, "n_bars"] == want["n_bars"]).all()

    top = stored(evening, "ranked_top_n", NEXT_DAY).sort_values("rank")
    assert result.top["symbol"].tolist() == top["symbol"].tolist()
    np.testing.assert_allclose(result.top["merit_score"], top["merit_score"], rtol=1e-9)
    np.testing.assert_allclose(result.top["ics_score"], top["ics_score"], rtol=1e-9)


def test_technic_live_picks_the_feed(warm_store, monkeypatch):
    engine = LiveEngine.load(warm_store, WARM_DAY)
    env = Environment.read({"TECHNIC_SYNTHETIC_STOCKS": "200"})
    assert feed_from_env(dataclasses.replace(env, live="off"), engine) is None
    replay = feed_from_env(dataclasses.replace(env, live="replay", replay_speed=120.0), engine)
    assert isinstance(replay, ReplayFeed) and replay.day == pd.Timestamp(NEXT_DAY) and replay.speed == 120.0
    with pytest.raises(ValueError, match="POLYGON_API_KEY"):
        feed_from_env(dataclasses.replace(env, live="polygon"), engine, environ={})
    from technic_assets.live.polygon_feed import AggregatesFeed, SnapshotFeed
    from technic_assets_tests.test_live_feeds import KEY, FakeSnapshot

    fake = FakeSnapshot()  # its splits endpoint answers 404: the forming bars are taken as unsplit
    try:
        environ = {"POLYGON_API_KEY": KEY, "TECHNIC_POLYGON_BASE_URL": fake.url}
        polygon = Environment.read({**environ, "TECHNIC_LIVE": "polygon"})
        idle = feed_from_env(polygon, engine, environ=environ)  # today is not 2025-06-03: nothing to continue
        assert idle.status.state == "stopped" and "the loaded day's next session is 2025-06-03" in idle.status.error
        assert asyncio.run(_all(idle)) == []
        during = pd.Timestamp(f"{NEXT_DAY} 15:00", tz="UTC")
        snapshot = feed_from_env(polygon, engine, environ=environ, now=during)
        assert isinstance(snapshot, SnapshotFeed) and snapshot.split_ratios == {}
        before_open = pd.Timestamp(f"{WARM_DAY} 22:00", tz="UTC")  # the evening before: the next day forms next
        ws = feed_from_env(dataclasses.replace(polygon, polygon_ws_url="ws://127.0.0.1:9/stocks"), engine,
                           environ=environ, now=before_open)
        assert isinstance(ws, AggregatesFeed)
        assert ws.session == (pd.Timestamp(f"{NEXT_DAY} 13:30", tz="UTC").timestamp(),
                              pd.Timestamp(f"{NEXT_DAY} 20:00", tz="UTC").timestamp())
    finally:
        fake.close()
    with pytest.raises(ValueError, match="TECHNIC_POLYGON_WS_URL='http://x' is not a ws:// or wss:// URL"):
        Environment.read({"TECHNIC_POLYGON_WS_URL": "http://x"})
    with pytest.raises(ValueError, match="TECHNIC_LIVE='sometimes' is not one of off, replay, polygon"):
        Environment.read({"TECHNIC_LIVE": "sometimes"})
    with pytest.raises(ValueError, match="TECHNIC_REPLAY_SPEED=-1.0 is outside"):
        Environment.read({"TECHNIC_REPLAY_SPEED": "-1"})

    async def started_and_stopped():
        monkeypatch.setenv("TECHNIC_REPLAY_SPEED", "1")  # one minute a second: still running when stopped
        handle = start(engine, "replay")
        await asyncio.sleep(0.5)
        await handle.stop()
        return handle

    handle = asyncio.run(started_and_stopped())
    assert handle.task.done() and handle.feed.status.updates <= 2


class SlowEngine:
    """What run_live needs of an engine, with a rescan that takes 50 ms and records what it was given."""

    def __init__(self, bars, day):
        from technic_assets.core.calendar import nyse

        self.window_bars, self.day, self.sessions = bars, pd.Timestamp(day), nyse().sessions
        self.seen, self.feed = [], None

    def rescan(self, indicators, *, as_of, source, ages=None):
        import time

        time.sleep(0.05)
        self.seen.append((as_of, indicators))

    def set_feed(self, state, **detail):
        self.feed = {"state": state, **detail}


def test_a_slow_rescan_takes_the_newest_update_and_the_last_one_is_never_dropped():
    from technic_assets.core.calendar import sessions_back
    from technic_assets.core.indicators import LOOKBACK
    from technic_assets.market.synthetic import SyntheticMarket

    window = sessions_back(WARM_DAY, LOOKBACK)
    market = SyntheticMarket(seed=7, n_stocks=60)
    engine = SlowEngine(market.daily_bars(window[0].date(), window[-1].date()), WARM_DAY)
    day_bars = market.daily_bars(pd.Timestamp(NEXT_DAY).date(), pd.Timestamp(NEXT_DAY).date())
    feed = ReplayFeed(day_bars, NEXT_DAY, speed=200.0, start_minute=330)  # 60 minutes in 0.3 s

    asyncio.run(run_live(engine, feed))
    as_of = [a for a, _ in engine.seen]
    assert as_of == sorted(as_of) and len(as_of) < 30  # intermediate minutes skipped, none twice
    assert as_of[-1] == pd.Timestamp(f"{NEXT_DAY} 20:00", tz="UTC")
    close = engine.seen[-1][1].set_index("symbol")
    official = day_bars.set_index("symbol")
    assert (close.loc[official.index, "close"] == official["close"]).all()
    assert (close.loc[official.index, "volume"] == official["volume"]).all()  # the day's volume, for rel. volume
    assert engine.feed["state"] == "finished"


def test_an_outage_of_the_snapshot_reaches_the_engine_as_stale_and_the_recovery_as_live(monkeypatch):
    """What /healthz shows: the feed's state passed to the engine while no update comes."""
    import time

    from technic_assets.core.calendar import sessions_back
    from technic_assets.core.indicators import LOOKBACK
    from technic_assets.live import runner
    from technic_assets.live.polygon_feed import SnapshotFeed
    from technic_assets.market.synthetic import SyntheticMarket
    from technic_assets_tests.test_live_feeds import FakeSnapshot, client, ticker

    monkeypatch.setattr(runner, "STATUS_SECONDS", 0.05)
    window = sessions_back(WARM_DAY, LOOKBACK)
    engine = SlowEngine(SyntheticMarket(seed=7, n_stocks=60).daily_bars(window[0].date(), window[-1].date()), WARM_DAY)
    symbol = engine.window_bars["symbol"].iloc[-1]
    t0 = pd.Timestamp(f"{NEXT_DAY} 15:00", tz="UTC").timestamp()
    fake = FakeSnapshot()
    fake.tickers = [ticker(symbol, 10.0, 10.5, 9.8, 10.2, 1_000, t0)]
    feed = SnapshotFeed(client(fake.url), interval=0.02)

    async def until(state):
        deadline = time.monotonic() + 10
        while (engine.feed or {}).get("state") != state:
            assert time.monotonic() < deadline, f"the engine never saw {state}: {engine.feed}"
            await asyncio.sleep(0.01)

    async def play():
        task = asyncio.create_task(run_live(engine, feed))
        await until("live")
        fake.mode = "down"
        await until("stale")
        assert "HTTP 503" in engine.feed["error"] and engine.feed["as_of"] == pd_iso(t0)
        fake.tickers = [ticker(symbol, 10.0, 10.9, 9.8, 10.8, 2_000, t0 + 60)]
        fake.mode = "ok"
        await until("live")
        task.cancel()

    try:
        asyncio.run(play())
    finally:
        fake.close()
    assert engine.seen[-1][0] == pd.Timestamp(t0 + 60, unit="s", tz="UTC")


def pd_iso(seconds):
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()


async def _all(feed):
    return [u async for u in feed.updates()]
