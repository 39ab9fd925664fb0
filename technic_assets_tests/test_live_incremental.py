"""The intraday indicators: from D-1's window, any forming bar of D gives what the daily scan's
`indicators_for_days` computes for D from the full bars (TA-Lib over each window), and replaying D's
minute bars to the close gives D's daily indicators.

The market is the built-in one (200 stocks and its ETFs), with edits made as a real tape would show
them: a split on D (prices halved from D on, ratio 2 on D), a split inside the window, a split
declared on D that the prices do not show (unverified), short histories of every length around the
recurrences' seeds (1 bar: listed on D, up to 260), a halt inside the window and a symbol with no bar
on D (halted today: it keeps its prefix's values).
"""

import asyncio

import numpy as np
import pandas as pd
import pytest

from technic_assets.core.calendar import nyse
from technic_assets.core.indicators import INDICATOR_COLUMNS, indicators_for_days
from technic_assets.live.incremental import IntradayIndicators
from technic_assets.live.replay import ReplayFeed
from technic_assets.market.synthetic import SyntheticMarket

PREV, DAY = pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-03")
EMA_SEEDED = ["ema_12", "ema_26", "rsi_14", "macd", "macd_signal", "macd_hist", "atr_14", "adx_14"]
ROLLING = [c for c in INDICATOR_COLUMNS if c not in EMA_SEEDED]
SHORT = [1, 2, 11, 12, 13, 14, 15, 16, 20, 21, 22, 26, 27, 28, 33, 34, 35, 60, 64, 200, 210, 253, 260]  # bars to D


@pytest.fixture(scope="module")
def tape():
    """Raw bars of the sessions PREV's window and DAY span, with the edits above; and the names."""
    sessions = nyse().sessions
    start = sessions[sessions.get_loc(PREV) - 299]
    bars = SyntheticMarket(seed=7, n_stocks=200).daily_bars(start.date(), DAY.date())
    bars = bars.sort_values(["symbol", "date"]).reset_index(drop=True)
    full = [s for s, g in bars.groupby("symbol") if len(g) == 301 and (g["split_ratio"] == 1).all()]
    assert len(full) >= 5 + len(SHORT)
    names = dict(zip(["split_today", "split_inside", "unverified", "halted_today", "gap"], full[:5]))
    prices = ["open", "high", "low", "close"]

    def split(symbol, on, ratio):
        rows = (bars["symbol"] == symbol) & (bars["date"] >= on)
        bars.loc[rows, prices] /= ratio
        bars.loc[rows, "volume"] *= ratio
        bars.loc[(bars["symbol"] == symbol) & (bars["date"] == on), "split_ratio"] = ratio

    split(names["split_today"], DAY, 2.0)
    split(names["split_inside"], sessions[sessions.get_loc(DAY) - 40], 3.0)
    bars.loc[(bars["symbol"] == names["unverified"]) & (bars["date"] == DAY), "split_ratio"] = 2.0
    drop = (bars["symbol"] == names["halted_today"]) & (bars["date"] == DAY)
    gap = (bars["symbol"] == names["gap"]) & bars["date"].between(sessions[sessions.get_loc(DAY) - 90],
                                                                    sessions[sessions.get_loc(DAY) - 60])
    keep = ~(drop | gap)
    for k, symbol in zip(SHORT, full[5:5 + len(SHORT)]):
        rows = np.flatnonzero((bars["symbol"] == symbol).to_numpy())
        keep[rows[:-k]] = False
        names[f"short_{k}"] = symbol
    return bars[keep].reset_index(drop=True), names, sessions


def expected(bars, forming, sessions):
    """What the daily scan computes for DAY if `forming` were DAY's bars."""
    full = pd.concat([bars[bars["date"] < DAY], forming.assign(date=DAY)], ignore_index=True)
    return indicators_for_days(full, pd.DatetimeIndex([DAY]), sessions)


def assert_same(got, want):
    assert got["symbol"].tolist() == want["symbol"].tolist()
    for col in ("date", "last_date", "n_bars", "split_unverified"):
        assert (got[col].to_numpy() == want[col].to_numpy()).all(), col
    for cols, rtol in ((ROLLING, 1e-9), (EMA_SEEDED, 1e-6)):
        a, b = got[cols].to_numpy(float), want[cols].to_numpy(float)
        assert (np.isnan(a) == np.isnan(b)).all(), [c for c, x in zip(cols, (np.isnan(a) != np.isnan(b)).any(0)) if x]
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12, equal_nan=True)


@pytest.fixture(scope="module")
def intraday(tape):
    bars, _, sessions = tape
    return IntradayIndicators(bars[bars["date"] <= PREV], PREV, sessions)


def test_the_edits_are_there(tape, intraday):
    bars, names, _ = tape
    today = bars[bars["date"] == DAY].set_index("symbol")
    assert today.loc[names["split_today"], "split_ratio"] == 2.0
    assert names["halted_today"] not in today.index
    assert names["short_1"] in today.index and names["short_1"] not in set(intraday.symbols)
    assert intraday.forming_day == DAY


def test_the_official_bars_of_the_day_give_the_daily_indicators(tape, intraday):
    bars, names, sessions = tape
    forming = bars[bars["date"] == DAY].drop(columns="date")
    got = intraday.update(forming)
    want = indicators_for_days(bars, pd.DatetimeIndex([DAY]), sessions)
    assert_same(got, want)
    row = got.set_index("symbol")
    assert row.loc[names["unverified"], "split_unverified"] and not row.loc[names["split_today"], "split_unverified"]
    assert row.loc[names["halted_today"], "last_date"] == PREV  # no bar today: its prefix's values
    assert row.loc[names["short_1"], "n_bars"] == 1


def test_replaying_the_minutes_gives_each_minute_s_indicators_and_the_day_s_at_the_close(tape, intraday):
    bars, _, sessions = tape
    feed = ReplayFeed(bars[bars["date"] == DAY], DAY, speed=0)

    async def play():
        return [u async for u in feed.updates()]

    updates = asyncio.run(play())
    assert len(updates) == 390 and updates[-1].final
    for u in (updates[0], updates[200]):  # mid-session: the forming bar as if it were the day's
        assert_same(intraday.update(u.forming), expected(bars, u.forming, sessions))
    close = intraday.update(updates[-1].forming)
    assert_same(close, indicators_for_days(bars, pd.DatetimeIndex([DAY]), sessions))


def test_a_split_today_divides_the_carried_state_back_out(tape, intraday):
    """The split symbol's indicators are in today's shares: its SMA is near today's close, not twice it."""
    bars, names, sessions = tape
    forming = bars[bars["date"] == DAY].drop(columns="date")
    row = intraday.update(forming).set_index("symbol").loc[names["split_today"]]
    assert row["sma_20"] == pytest.approx(row["close"], rel=0.3)
    unsplit = forming.assign(split_ratio=1.0)
    unsplit.loc[unsplit["symbol"] == names["split_today"], ["open", "high", "low", "close"]] *= 2.0
    other = intraday.update(unsplit).set_index("symbol").loc[names["split_today"]]
    assert row["sma_200"] == pytest.approx(other["sma_200"] / 2.0, rel=1e-12)
    assert row["rsi_14"] == pytest.approx(other["rsi_14"], rel=1e-12)


def test_bad_forming_bars_are_refused_naming_the_input(intraday):
    ok = pd.DataFrame({"symbol": [intraday.symbols[0]], "open": [10.0], "high": [11.0], "low": [9.0],
                       "close": [10.5], "volume": [100.0]})
    with pytest.raises(ValueError, match="missing column.*volume"):
        intraday.update(ok.drop(columns="volume"))
    with pytest.raises(ValueError, match=f"close must be a positive number; not for {intraday.symbols[0]}"):
        intraday.update(ok.assign(close=0.0))
    with pytest.raises(ValueError, match="given twice"):
        intraday.update(pd.concat([ok, ok]))
    with pytest.raises(ValueError, match="day=2025-06-01 is not a session"):
        IntradayIndicators(pd.DataFrame(columns=["date", "symbol"]), "2025-06-01", nyse().sessions)
    with pytest.raises(ValueError, match="window_bars: no bars from"):
        IntradayIndicators(pd.DataFrame({"date": pd.DatetimeIndex([]), "symbol": []}), PREV, nyse().sessions)


def test_symbols_joining_during_the_day_and_the_same_ones_again(tape, intraday):
    """The forming rows' layout is kept while the set of symbols is the same: it must follow the set
    as it grows (symbols trading for the first time today) and come back to an earlier one."""
    bars, _, sessions = tape
    today = bars[bars["date"] == DAY].drop(columns="date").reset_index(drop=True)
    early = today.iloc[::3].reset_index(drop=True)  # a third have traded
    later = today.sample(frac=1.0, random_state=1).reset_index(drop=True)  # all, in another order
    for forming in (early, later, early.assign(close=early["close"] * 1.01), later):
        assert_same(intraday.update(forming), expected(bars, forming, sessions))
