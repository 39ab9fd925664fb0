import numpy as np
import pandas as pd
import pytest

from technic_assets.core.factors import compute_factors, sector_zscore, splits_since, winsorize


def test_sector_zscore_standardizes_within_each_sector():
    rng = np.random.default_rng(0)
    x = pd.Series(np.r_[rng.normal(10, 2, 50), rng.normal(-5, 0.5, 50)])
    sectors = pd.Series(["A"] * 50 + ["B"] * 50)
    z = sector_zscore(x, sectors)
    for s in ("A", "B"):
        part = z[sectors == s]
        assert part.mean() == pytest.approx(0, abs=1e-12)
        assert part.std() == pytest.approx(1)


def test_small_sectors_use_the_whole_universe():
    x = pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    sectors = pd.Series(["A"] * 9 + ["TINY"] * 3)
    w = winsorize(x)
    z = sector_zscore(x, sectors)
    assert z.iloc[-1] == pytest.approx((w.iloc[-1] - w.mean()) / w.std())


def test_winsorize_clips_an_outlier_to_the_99th_percentile():
    x = pd.Series(list(range(100)) + [1e9], dtype=float)
    assert winsorize(x).max() == pytest.approx(np.percentile(x, 99))


def test_value_uses_per_share_figures_in_todays_shares():
    # a 2-for-1 split after the report: 4.00 of earnings per old share is 2.00 per share today
    splits = pd.DataFrame({"date": pd.to_datetime(["2025-03-01", "2025-05-01"]), "symbol": ["A", "A"],
                           "split_ratio": [3.0, 2.0]})
    published = pd.Series(pd.to_datetime(["2025-04-01", "2025-04-01"]), index=pd.Index(["A", "B"], name="symbol"))
    assert splits_since(splits, published).to_dict() == {"A": 2.0, "B": 1.0}


def test_factors_point_the_right_way():
    n = 40
    rng = np.random.default_rng(1)
    panel = pd.DataFrame({
        "symbol": [f"S{i}" for i in range(n)], "sector": ["Industrials"] * n,
        "close": 50.0, "sma_20": 50.0, "sma_50": 50.0, "sma_200": 50.0, "macd_hist": 0.0,
        "roc_21": rng.normal(0, 5, n), "roc_63": rng.normal(0, 5, n), "roc_126": rng.normal(0, 5, n),
        "ret_12_1": np.linspace(-0.5, 0.5, n), "eps_ttm": np.linspace(1, 5, n),
        "book_value_per_share": 20.0, "roe": 0.1, "debt_to_equity": 1.0, "revenue_growth": 0.05,
        "eps_growth": 0.05, "realized_vol_21": 0.3, "realized_vol_63": np.linspace(0.1, 0.9, n),
        "adv_20": np.linspace(1e6, 1e8, n),
    })
    z, missing = compute_factors(panel, "position")
    assert z["momentum"].iloc[-1] > z["momentum"].iloc[0]  # higher 12-1 return, higher momentum
    assert z["value"].iloc[-1] > z["value"].iloc[0]  # higher earnings yield, cheaper
    assert z["volatility"].iloc[0] > z["volatility"].iloc[-1]  # calmer scores higher
    assert z["liquidity"].iloc[-1] > z["liquidity"].iloc[0]
    assert (z["quality"] == 0).all() and missing["quality"] == n  # no dispersion: neutral, and counted
    assert z.abs().max().max() <= 3
