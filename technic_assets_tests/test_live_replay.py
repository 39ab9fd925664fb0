"""The replay source: a day's official bars cut into minute bars that add up to them exactly, 390 a
regular session and 210 on a 13:00 early close, played at a speed kept by the wall clock."""

import asyncio

import numpy as np
import pandas as pd
import pytest

from technic_assets.live.feed import FormingBars
from technic_assets.live.replay import ReplayFeed, minute_bars
from technic_assets.market.synthetic import SyntheticMarket


@pytest.fixture(scope="module")
def market():
    return SyntheticMarket(seed=7, n_stocks=60)


@pytest.mark.parametrize("day, minutes, close_utc", [("2025-06-03", 390, "20:00"), ("2025-07-03", 210, "17:00")])
def test_minute_bars_add_up_to_the_day_s_bar(market, day, minutes, close_utc):
    bars = market.daily_bars(pd.Timestamp(day).date(), pd.Timestamp(day).date()).sort_values("symbol")
    mb = minute_bars(bars, day)
    assert mb.close.shape == (len(bars), minutes)
    assert mb.ends[0] == pd.Timestamp(f"{day} 13:31", tz="UTC") and mb.ends[-1] == pd.Timestamp(f"{day} {close_utc}", tz="UTC")
    assert (mb.open[:, 0] == bars["open"].to_numpy()).all()
    assert (mb.high.max(axis=1) == bars["high"].to_numpy()).all()
    assert (mb.low.min(axis=1) == bars["low"].to_numpy()).all()
    assert (mb.close[:, -1] == bars["close"].to_numpy()).all()
    assert (mb.volume.sum(axis=1) == bars["volume"].to_numpy()).all() and (mb.volume >= 0).all()
    assert (mb.volume == np.floor(mb.volume)).all()  # whole shares
    # every minute a sane bar that opens where the previous one closed
    assert (mb.low <= np.minimum(mb.open, mb.close)).all() and (np.maximum(mb.open, mb.close) <= mb.high).all()
    assert (mb.open[:, 1:] == mb.close[:, :-1]).all()
    again = minute_bars(bars, day)
    assert (again.close == mb.close).all()  # seeded by the day: repeatable


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.now += seconds


def test_a_slow_consumer_gets_the_minutes_due_aggregated_and_the_replay_keeps_its_speed(market):
    day = "2025-06-03"
    bars = market.daily_bars(pd.Timestamp(day).date(), pd.Timestamp(day).date())
    clock = FakeClock()
    feed = ReplayFeed(bars, day, speed=10.0, sleep=clock.sleep, clock=clock)

    async def consume():
        seen = []
        async for update in feed.updates():
            seen.append((clock.now, update))
            clock.now += 0.35  # each rescan takes 3.5 market minutes at this speed
        return seen

    seen = asyncio.run(consume())
    ends = [u.as_of for _, u in seen]
    assert ends == sorted(ends) and len(seen) < 390 / 3
    for wall, update in seen:  # never ahead of the clock, never more than a rescan behind it
        minute = (update.as_of - ends[0]) / pd.Timedelta(minutes=1)
        assert minute <= wall * 10.0 + 1e-9 and minute >= wall * 10.0 - 5
    final = seen[-1][1].forming.set_index("symbol").sort_index()
    official = bars.set_index("symbol").sort_index()
    for col in ("open", "high", "low", "close", "volume"):
        assert (final[col] == official[col]).all(), col
    assert seen[-1][1].final and feed.status.state == "finished"


def test_forming_bars_from_minutes_and_from_a_day_snapshot():
    bars = FormingBars(["AAA"])
    bars.add_minutes(["AAA", "BBB"], [10, 20], [11, 21], [9, 19], [10.5, 20.5], [100, 10], updated=60.0)
    bars.add_minutes(["AAA"], [10.5], [12], [10], [11.5], [50], updated=120.0)
    f = bars.frame().set_index("symbol")
    assert f.loc["AAA", ["open", "high", "low", "close", "volume"]].tolist() == [10, 12, 9, 11.5, 150]
    assert bars.ages(120.0).to_dict() == {"AAA": 0.0, "BBB": 60.0}  # BBB silent since the first minute
    bars.set_day(["BBB"], [20.0], [22.0], [18.0], [21.0], [900.0], [150.0])
    assert bars.frame().set_index("symbol").loc["BBB", "volume"] == 900.0
    assert bars.update().as_of == pd.Timestamp(150.0, unit="s", tz="UTC")


def test_a_day_of_a_parquet_source_replays_to_its_official_bars():
    """TECHNIC_MARKET=parquet:... : the shared real file's 2020-09-15 (AAPL 4:1 ex-date two weeks before)."""
    import dataclasses

    from technic_assets.environment import Environment
    from technic_assets.live.runner import replay_bars
    from technic_assets_tests.conftest import shared_file

    path = shared_file("market", "us_equities_daily_2017_2020.parquet")
    env = dataclasses.replace(Environment.read({}), market=f"parquet:{path}")
    day = pd.Timestamp("2020-09-15")
    bars = replay_bars(env, day)
    assert len(bars) > 400 and (bars["date"] == day).all()
    mb = minute_bars(bars, day)
    official = bars.sort_values("symbol")
    assert (mb.high.max(axis=1) == official["high"].to_numpy()).all()
    assert (mb.low.min(axis=1) == official["low"].to_numpy()).all()
    assert (mb.close[:, -1] == official["close"].to_numpy()).all()
    assert (mb.volume.sum(axis=1) == official["volume"].to_numpy()).all()
    with pytest.raises(ValueError, match="has no bars for 2021-03-01"):
        replay_bars(env, pd.Timestamp("2021-03-01"))


def test_the_default_pace_is_one_a_person_can_watch_and_says_how_long_it_takes():
    """390 minutes (210 on the 13:00 close after Thanksgiving) at the default 2 a second, by hand: 195 s
    and 105 s; at the old default of 60 the session was over in 6.5 s."""
    from technic_assets.environment import Environment
    from technic_assets.live.replay import replay_length

    assert Environment.read({}).replay_speed == 2.0
    assert replay_length("2025-06-03", 2.0) == "390 market minutes at 2 a second: 3 min 15 s"
    assert replay_length("2025-11-28", 2.0) == "210 market minutes at 2 a second: 1 min 45 s"
    assert replay_length("2025-06-03", 60.0) == "390 market minutes at 60 a second: 6.5 s"
