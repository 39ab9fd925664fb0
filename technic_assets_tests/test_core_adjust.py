import numpy as np
import pandas as pd
import pytest
import talib

from technic_assets.core.adjust import split_adjust
from technic_assets.core.indicators import compute_indicators
from technic_assets_tests.conftest import shared_file


def bars(rows):
    return pd.DataFrame(rows, columns=["date", "symbol", "open", "high", "low", "close", "volume", "split_ratio"]).assign(
        date=lambda d: pd.to_datetime(d["date"]))


def test_prices_before_a_split_are_divided_and_volume_multiplied():
    raw = bars([
        ("2025-01-02", "XYZ", 100, 101, 99, 100, 1000, 1.0),
        ("2025-01-03", "XYZ", 100, 103, 100, 102, 1000, 1.0),
        ("2025-01-06", "XYZ", 25.5, 26, 25, 25.5, 4000, 4.0),  # 4-for-1 on this ex-date
        ("2025-01-02", "ABC", 10, 11, 9, 10, 50, 1.0),
    ])
    adj = split_adjust(raw)
    xyz = adj[adj["symbol"] == "XYZ"]
    assert xyz["close"].tolist() == pytest.approx([25.0, 25.5, 25.5])
    assert xyz["high"].tolist() == pytest.approx([25.25, 25.75, 26.0])
    assert xyz["volume"].tolist() == pytest.approx([4000, 4000, 4000])
    assert adj[adj["symbol"] == "ABC"]["close"].tolist() == [10]


def test_a_window_ending_before_the_split_is_left_as_traded():
    raw = bars([
        ("2025-01-02", "XYZ", 100, 101, 99, 100, 1000, 1.0),
        ("2025-01-03", "XYZ", 100, 103, 100, 102, 1000, 1.0),
    ])
    assert split_adjust(raw)["close"].tolist() == [100, 102]


def test_aapl_split_in_real_data_is_not_a_crash():
    """AAPL split 4-for-1 on 2020-08-31 (499.23 -> 129.04 as traded)."""
    data = pd.read_parquet(shared_file("market", "us_equities_daily_2017_2020.parquet"),
                           filters=[("symbol", "==", "AAPL")])
    data["date"] = pd.to_datetime(data["date"])
    window = data[(data["date"] <= "2020-09-15")].tail(300)
    window = window.rename(columns={"split_coefficient": "split_ratio"})[
        ["date", "symbol", "open", "high", "low", "close", "volume", "split_ratio"]]
    ind = compute_indicators(split_adjust(window)).iloc[0]
    closes = window["close"].to_numpy()
    dates = window["date"].to_numpy()
    # by hand: 21 sessions back is before the split, so divide that raw close by 4
    back = closes[-22] / (4.0 if dates[-22] < np.datetime64("2020-08-31") else 1.0)
    expected = (closes[-1] / back - 1) * 100
    assert ind["roc_21"] == pytest.approx(expected)
    assert -20 < ind["roc_21"] < 20  # a raw series would show about -75%
    raw_roc = talib.ROC(closes.astype(float), 21)[-1]
    assert raw_roc < -60  # what an unadjusted scanner would have seen
