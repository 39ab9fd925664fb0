"""Intraday relative volume against the same minute's typical cumulative volume (issue 23): the standard
U curve's shares computed by hand, and the live engine's rel_volume on a rescan at 10:00 New York."""

import numpy as np
import pandas as pd
import pytest

from technic_assets.core.volume_profile import share_traded, u_weights
from technic_assets.live.engine import LiveEngine, session_share

# By hand, for a 390-minute session: w(t) = 1 + 2 ((t - 194.5) / 194.5)^2.
#   sum over t = 0..389 of (t - 194.5)^2 = n (n^2 - 1) / 12 = 390 * 152099 / 12 = 4943217.5
#   sum over t = 0..29 (the first half hour) = sum over j = 0..29 of (165.5 + j)^2
#     = 30 * 165.5^2 + 2 * 165.5 * 435 + 8555 = 821707.5 + 143985 + 8555 = 974247.5
C2 = 194.5**2  # 37830.25
DAY = 390 + 2 * 4943217.5 / C2  # the whole day's weight, 651.34
HALF_HOUR = (30 + 2 * 974247.5 / C2) / DAY  # 0.12514: an eighth of the day by 10:00


def test_the_standard_curve_by_hand():
    w = u_weights(390)
    assert w[0] == pytest.approx(3.0) and w[-1] == pytest.approx(3.0)  # three times midday at either end
    assert w[194] == pytest.approx(1 + 2 * (0.5 / 194.5) ** 2)
    assert share_traded(30, w) == pytest.approx(HALF_HOUR, rel=1e-12)
    assert HALF_HOUR == pytest.approx(0.12514, abs=1e-5)
    # half a minute more: half of minute 30's weight, 1 + 2 (164.5 / 194.5)^2
    assert share_traded(30.5, w) == pytest.approx(HALF_HOUR + 0.5 * (1 + 2 * 164.5**2 / C2) / DAY, rel=1e-12)
    assert share_traded(195, w) == pytest.approx(0.5, rel=1e-12)  # symmetric: half the day by 12:45
    assert share_traded(-15, w) == pytest.approx(3.0 / DAY) and share_traded(0, w) == pytest.approx(3.0 / DAY)
    assert share_traded(390, w) == 1.0 and share_traded(500, w) == 1.0


def test_the_session_share_follows_the_calendar():
    day = pd.Timestamp("2025-06-03")  # EDT: the open is 13:30 UTC
    assert session_share(day, pd.Timestamp("2025-06-03 14:00", tz="UTC")) == pytest.approx(HALF_HOUR, rel=1e-12)
    assert session_share(day, pd.Timestamp("2025-06-03 20:00", tz="UTC")) == 1.0
    # 2025-11-28 closes at 13:00: 210 minutes; its half hour is a larger share of the shorter day
    c2 = 104.5**2
    by_hand = (30 + 2 * sum((104.5 - t) ** 2 for t in range(30)) / c2) / (210 + 2 * 210 * (210**2 - 1) / 12 / c2)
    assert session_share(pd.Timestamp("2025-11-28"), pd.Timestamp("2025-11-28 15:00", tz="UTC")) == \
        pytest.approx(by_hand, rel=1e-12)


def test_the_engine_compares_volume_so_far_with_the_same_minute_of_an_average_day(warm_template):
    engine = LiveEngine.load(warm_template)
    live = engine.stored.indicators.assign(date=pd.Timestamp("2025-06-03"))
    live["volume"] = 1000.0 * np.arange(1, len(live) + 1)
    engine.rescan(live, as_of=pd.Timestamp("2025-06-03 14:00", tz="UTC"), source="replay")  # 10:00 New York
    rel = engine.snapshot.rel_volume
    # the 20-day average volume read from the window's bars here, not from the engine
    bars = engine.window_bars.sort_values(["symbol", "date"])
    average = bars.groupby("symbol")["volume"].apply(lambda v: v.tail(20).astype(float).mean())
    so_far = live.set_index("symbol")["volume"]
    for symbol in so_far.index[:25]:
        expected = so_far[symbol] / (average[symbol] * HALF_HOUR)
        assert rel[symbol] == pytest.approx(expected, rel=1e-9), symbol
    # a name that has traded an eighth of its average day by 10:00 is at its usual pace: about 1
    typical = live.assign(volume=live["symbol"].map(average) * HALF_HOUR)
    engine.rescan(typical, as_of=pd.Timestamp("2025-06-03 14:00", tz="UTC"), source="replay")
    assert np.allclose(engine.snapshot.rel_volume.dropna(), 1.0)


def test_a_replayed_day_keeps_its_pace_from_the_open_where_the_whole_day_comparison_says_quiet():
    """The replay's minutes follow the U with noise: at 10:00 each name's relative volume is, typically,
    what it is at the close (its day's volume over its average); compared with a whole day instead, every
    name would read about an eighth of that."""
    from technic_assets.live.replay import minute_bars
    from technic_assets.market.synthetic import SyntheticMarket

    day = pd.Timestamp("2025-06-03")
    bars = SyntheticMarket(seed=7, n_stocks=60).daily_bars(day.date(), day.date()).sort_values("symbol")
    mb = minute_bars(bars, day)
    by_ten = mb.volume[:, :30].sum(axis=1)  # the first half hour: minutes ending 13:31 .. 14:00 UTC
    whole = mb.volume.sum(axis=1)
    adjusted = by_ten / (whole * session_share(day, mb.ends[29]))  # rel at 10:00 over rel at the close
    assert mb.ends[29] == pd.Timestamp("2025-06-03 14:00", tz="UTC")
    assert 0.9 < np.median(adjusted) < 1.1
    assert np.median(by_ten / whole) < 0.2  # unadjusted: every name looks quiet
