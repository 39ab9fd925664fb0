import numpy as np
import pandas as pd
import pytest
import talib

from technic_assets.core.adjust import split_adjust, unverified_split_rows, unverified_split_symbols
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


def test_a_split_ratio_the_price_gap_contradicts_is_unverified():
    """Each ex-date's ratio against the gap from the previous close to its open, by hand: 100 -> 50.5
    is a 2-for-1 (gap 1.98); declared 4 it is off by 2x; a 'split' with no gap at all (a merger booked
    as one) is off by 2x too; a 1-for-10 reverse split with a 20% drop (gap 0.125 against 0.1) is
    within 30%; a split on a symbol's first bar has nothing to check or adjust."""
    raw = bars([
        ("2025-01-02", "OK", 100, 101, 99, 100, 1000, 1.0),
        ("2025-01-03", "OK", 50.5, 51, 50, 50.5, 2000, 2.0),
        ("2025-01-02", "WRONG", 100, 101, 99, 100, 1000, 1.0),
        ("2025-01-03", "WRONG", 50.5, 51, 50, 50.5, 2000, 4.0),
        ("2025-01-02", "NOGAP", 100, 101, 99, 100, 1000, 1.0),
        ("2025-01-03", "NOGAP", 99, 100, 98, 99, 1000, 2.0),
        ("2025-01-02", "REV", 1.0, 1.1, 0.9, 1.0, 1000, 1.0),
        ("2025-01-03", "REV", 8.0, 8.5, 7.5, 8.0, 100, 0.1),
        ("2025-01-03", "FIRST", 10, 11, 9, 10, 100, 3.0),
    ]).sort_values(["symbol", "date"]).reset_index(drop=True)
    codes = pd.factorize(raw["symbol"])[0]
    flags = unverified_split_rows(codes, raw["open"].to_numpy(float), raw["close"].to_numpy(float),
                                  raw["split_ratio"].to_numpy(float))
    assert set(raw.loc[flags, "symbol"]) == {"WRONG", "NOGAP"}
    assert unverified_split_symbols(raw) == {"WRONG", "NOGAP"}


def test_the_real_files_splits_checked_against_their_gaps():
    """The shared data's 518 split rows: the flagged ones are exactly those whose previous close over
    the ex-date's open differs from the declared ratio by more than 30%, computed here with pandas;
    a 2:1 or 4:1 of a large stock (AAPL 2020-08-31) is never among them."""
    raw = pd.read_parquet(shared_file("market", "us_equities_daily_2017_2020.parquet"),
                          columns=["date", "symbol", "open", "close", "split_coefficient"])
    raw = raw.sort_values(["symbol", "date"]).reset_index(drop=True)
    prev = raw.groupby("symbol")["close"].shift()
    gap = prev / raw["open"] / raw["split_coefficient"]
    expected = (raw["split_coefficient"] != 1) & prev.notna() & ~((gap >= 1 / 1.3) & (gap <= 1.3))
    codes = pd.factorize(raw["symbol"])[0]
    flags = unverified_split_rows(codes, raw["open"].to_numpy(float), raw["close"].to_numpy(float),
                                  raw["split_coefficient"].to_numpy(float))
    assert (flags == expected.to_numpy()).all()
    assert 0 < flags.sum() < 0.05 * (raw["split_coefficient"] != 1).sum()
    assert not flags[(raw["symbol"] == "AAPL").to_numpy()].any()
