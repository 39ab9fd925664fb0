"""core.day_move: the day's % change, volume and relative volume, split-adjusted, checked by hand."""

import numpy as np
import pandas as pd

from technic_assets.core.day_move import day_move


def bars(symbol, closes, volumes, splits=None):
    days = pd.bdate_range("2025-06-02", periods=len(closes))
    return pd.DataFrame({"date": days, "symbol": symbol, "open": closes, "high": closes, "low": closes,
                         "close": closes, "volume": volumes, "split_ratio": splits or [1.0] * len(closes),
                         "dividend": 0.0})


def test_change_and_relative_volume_by_hand_and_a_split_is_not_a_crash():
    plain = bars("AAA", [10.0, 11.0, 12.0, 9.0], [100.0, 300.0, 200.0, 400.0])
    # a 2-for-1 split on the last day: 40 -> 21 as traded is +5% adjusted; earlier volume doubles
    split = bars("BBB", [40.0, 40.0, 42.0, 21.0], [100.0, 100.0, 100.0, 500.0], [1.0, 1.0, 1.0, 2.0])
    day = pd.Timestamp(plain["date"].iloc[-1])
    got = day_move(pd.concat([split, plain]), day, n=20).set_index("symbol")
    assert np.isclose(got.loc["AAA", "change_pct"], -25.0)                 # 9 / 12 - 1
    assert got.loc["AAA", "volume"] == 400.0
    assert np.isclose(got.loc["AAA", "rel_volume"], 400.0 / 200.0)         # mean(100, 300, 200) = 200
    assert np.isclose(got.loc["BBB", "change_pct"], 0.0)                   # 21 / (42 / 2) - 1
    assert np.isclose(got.loc["BBB", "rel_volume"], 500.0 / 200.0)         # earlier 100s are 200 as of the day


def test_the_base_is_the_n_bars_before_the_day_and_a_name_without_a_bar_that_day_is_left_out():
    one = bars("AAA", [10.0, 10.0, 10.0, 10.0], [100.0, 200.0, 600.0, 300.0])
    gone = bars("ZZZ", [5.0, 5.0, 5.0], [1.0, 1.0, 1.0])  # no bar on the last day
    day = pd.Timestamp(one["date"].iloc[-1])
    got = day_move(pd.concat([one, gone]), day, n=2).set_index("symbol")
    assert list(got.index) == ["AAA"]
    assert np.isclose(got.loc["AAA", "rel_volume"], 300.0 / 400.0)        # mean(200, 600): the 2 bars before
    first = day_move(one.iloc[:1], pd.Timestamp(one["date"].iloc[0])).set_index("symbol")
    assert np.isnan(first.loc["AAA", "change_pct"]) and np.isnan(first.loc["AAA", "rel_volume"])
