import numpy as np
import pandas as pd
import pytest
import talib

from technic_assets.core.indicators import compute_indicators


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
