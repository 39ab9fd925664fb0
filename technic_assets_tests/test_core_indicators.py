import numpy as np
import pandas as pd
import pytest
import talib

from technic_assets.core.indicators import compute_indicators
from technic_assets_tests.conftest import shared_file


def random_bars(symbol, n, seed):
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, n))
    volume = rng.integers(10_000, 1_000_000, n).astype(float)
    dates = pd.bdate_range("2024-01-01", periods=n)
    return pd.DataFrame({"date": dates, "symbol": symbol, "open": open_, "high": high, "low": low,
                         "close": close, "volume": volume, "split_ratio": 1.0})


def test_values_match_talib_and_hand_computation():
    frame = random_bars("AAA", 300, 1)
    ind = compute_indicators(frame).iloc[0]
    c, h, l, v = (frame[k].to_numpy() for k in ("close", "high", "low", "volume"))
    assert ind["sma_20"] == pytest.approx(c[-20:].mean())
    assert ind["sma_200"] == pytest.approx(c[-200:].mean())
    assert ind["roc_21"] == pytest.approx((c[-1] / c[-22] - 1) * 100)
    assert ind["roc_252"] == pytest.approx((c[-1] / c[-253] - 1) * 100)
    assert ind["ret_12_1"] == pytest.approx(c[-22] / c[-253] - 1)
    assert ind["adv_20"] == pytest.approx((c[-20:] * v[-20:]).mean())
    assert ind["realized_vol_21"] == pytest.approx(np.std(np.diff(np.log(c))[-21:], ddof=1) * np.sqrt(252))
    assert ind["realized_vol_63"] == pytest.approx(np.std(np.diff(np.log(c))[-63:], ddof=1) * np.sqrt(252))
    assert ind["price_cv_63"] == pytest.approx(c[-63:].std(ddof=1) / c[-63:].mean())
    assert ind["bb_upper"] == pytest.approx(c[-20:].mean() + 2 * c[-20:].std(ddof=0))
    assert ind["rsi_14"] == pytest.approx(talib.RSI(c, 14)[-1])
    assert ind["adx_14"] == pytest.approx(talib.ADX(h, l, c, 14)[-1])
    assert ind["atr_14"] == pytest.approx(talib.ATR(h, l, c, 14)[-1])
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    assert (ind["macd"], ind["macd_signal"], ind["macd_hist"]) == pytest.approx((macd[-1], signal[-1], hist[-1]))
    assert ind["obv"] == pytest.approx(talib.OBV(c, v)[-1])
    assert ind["n_bars"] == 300


def test_each_symbol_uses_only_its_own_bars_and_short_histories_are_nan():
    frame = pd.concat([random_bars("AAA", 300, 1), random_bars("NEW", 30, 2)])
    ind = compute_indicators(frame.sort_values(["symbol", "date"])).set_index("symbol")
    alone = compute_indicators(random_bars("AAA", 300, 1)).set_index("symbol")
    pd.testing.assert_series_equal(ind.loc["AAA"], alone.loc["AAA"])
    assert ind.loc["NEW", "n_bars"] == 30
    assert np.isnan(ind.loc["NEW", "sma_200"]) and np.isnan(ind.loc["NEW", "roc_252"])
    assert np.isfinite(ind.loc["NEW", "sma_20"])


def test_a_range_of_days_in_one_pass_equals_each_days_own_window():
    """What a backfill computes at once is what each day's scan computes alone: same symbols, same
    n_bars and last bar, prices in that day's shares across splits, OBV from the window's first bar,
    NaN where the window is short; EMA-type values within 1e-7 of the price (RSI and ADX within
    1e-5 points)."""
    from technic_assets.core.adjust import split_adjust
    from technic_assets.core.calendar import nyse, sessions, sessions_back
    from technic_assets.core.indicators import INDICATOR_COLUMNS, indicators_for_days
    from technic_assets.market.synthetic import SyntheticMarket

    market = SyntheticMarket(seed=5, n_stocks=300)
    days = sessions("2025-03-03", "2025-08-29")
    bars = market.daily_bars(sessions_back(days[0], 300)[0], days[-1])
    assert (bars["split_ratio"] != 1.0).any()  # splits inside the span, so the re-expression matters
    ranged = indicators_for_days(bars, days, nyse().sessions)
    ema_type = ["ema_12", "ema_26", "rsi_14", "macd", "macd_signal", "macd_hist", "atr_14", "adx_14"]
    for day in days[::9]:
        alone = compute_indicators(split_adjust(bars[bars["date"].isin(sessions_back(day, 300))]))
        got = ranged[ranged["date"] == day].drop(columns="date").reset_index(drop=True)
        assert got["symbol"].tolist() == alone["symbol"].tolist()
        assert got["n_bars"].tolist() == alone["n_bars"].tolist()
        assert (pd.to_datetime(got["last_date"]) == pd.to_datetime(alone["last_date"])).all()
        exact = [c for c in INDICATOR_COLUMNS if c not in ema_type]
        np.testing.assert_allclose(got[exact].to_numpy(), alone[exact].to_numpy(), rtol=1e-9, equal_nan=True)
        priced = [c for c in ema_type if c not in ("rsi_14", "adx_14")]
        scale = alone[["close"]].to_numpy()
        np.testing.assert_allclose(got[priced].to_numpy() / scale, alone[priced].to_numpy() / scale,
                                   rtol=0, atol=1e-7, equal_nan=True)
        np.testing.assert_allclose(got[["rsi_14", "adx_14"]].to_numpy(), alone[["rsi_14", "adx_14"]].to_numpy(),
                                   rtol=0, atol=1e-5, equal_nan=True)
        assert (got[ema_type].isna() == alone[ema_type].isna()).all().all()


def test_a_wrong_split_ratio_flags_the_days_whose_window_holds_it():
    """The built-in market's splits agree with their price gaps (none flagged); doubling one declared
    ratio flags that symbol, and only it, on exactly the days whose 300-session window holds the
    ex-date after its first bar; the scan of one window (the core pipeline's path) agrees."""
    from technic_assets.core.adjust import unverified_split_symbols
    from technic_assets.core.calendar import nyse, sessions, sessions_back
    from technic_assets.core.indicators import indicators_for_days
    from technic_assets.market.synthetic import SyntheticMarket

    market = SyntheticMarket(seed=5, n_stocks=300)
    days = sessions("2025-03-03", "2025-08-29")
    bars = market.daily_bars(sessions_back(days[0], 300)[0], days[-1])
    assert not indicators_for_days(bars, days, nyse().sessions)["split_unverified"].any()

    splits = bars[bars["split_ratio"] != 1.0]
    victim = splits[(splits["date"] > days[0]) & (splits["date"] < days[-1])].iloc[0]
    wrong = bars.copy()
    wrong.loc[(wrong["symbol"] == victim["symbol"]) & (wrong["date"] == victim["date"]), "split_ratio"] *= 2
    flagged = indicators_for_days(wrong, days, nyse().sessions)
    flagged = flagged[flagged["split_unverified"]]
    assert set(flagged["symbol"]) == {victim["symbol"]}
    assert pd.DatetimeIndex(flagged["date"]).equals(pd.DatetimeIndex([d for d in days if d >= victim["date"]]))
    before, after = days[days < victim["date"]][-1], days[days >= victim["date"]][0]
    assert unverified_split_symbols(wrong[wrong["date"].isin(sessions_back(after, 300))]) == {victim["symbol"]}
    assert unverified_split_symbols(wrong[wrong["date"].isin(sessions_back(before, 300))]) == set()


def test_one_day_is_value_for_value_the_range_pass_over_its_window():
    """A daily run (and the core pipeline) takes the one-day path; it must give exactly what the range
    pass gives for that day over the same window: on real bars with splits (AAPL's 4:1 inside the
    window, and the file's unverified ratios), given in any row order."""
    from technic_assets.core.calendar import nyse, sessions_back
    from technic_assets.core.indicators import _one_day, _range_pass

    raw = pd.read_parquet(shared_file("market", "us_equities_daily_2017_2020.parquet"),
                          columns=["symbol", "date", "open", "high", "low", "close", "volume", "split_coefficient"])
    raw = raw.rename(columns={"split_coefficient": "split_ratio"})
    raw["date"] = pd.to_datetime(raw["date"])
    day = pd.Timestamp("2020-09-15")
    window = raw[(raw["date"] >= sessions_back(day, 300)[0]) & (raw["date"] <= day)]
    assert ((window["symbol"] == "AAPL") & (window["split_ratio"] == 4.0)).any()
    want = _range_pass(window, pd.DatetimeIndex([day]), nyse().sessions)
    assert want["split_unverified"].any()
    for bars in (window, window.sample(frac=1.0, random_state=3), raw[raw["date"] <= day]):
        pd.testing.assert_frame_equal(_one_day(bars, day, nyse().sessions), want, check_exact=True)
