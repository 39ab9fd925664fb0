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


def test_several_days_in_one_pass_score_each_day_as_its_own_cross_section():
    rng = np.random.default_rng(8)
    days = []
    for k, day in enumerate(pd.bdate_range("2025-06-02", periods=3)):
        n = 60 + 10 * k
        frame = pd.DataFrame({
            "symbol": [f"S{i}" for i in range(n)], "sector": rng.choice(["A", "B", "C", "D"], n),
            "close": rng.uniform(10, 100, n), "roc_21": rng.normal(0, 5, n), "roc_63": rng.normal(0, 9, n),
            "roc_126": rng.normal(0, 12, n), "ret_12_1": rng.normal(0, 0.3, n) * (k + 1),
            "eps_ttm": rng.normal(2, 1, n), "book_value_per_share": rng.uniform(5, 50, n),
            "roe": rng.normal(0.1, 0.05, n), "debt_to_equity": rng.uniform(0, 2, n),
            "revenue_growth": rng.normal(0.05, 0.1, n), "eps_growth": rng.normal(0.05, 0.2, n),
            "realized_vol_21": rng.uniform(0.1, 0.6, n), "realized_vol_63": rng.uniform(0.1, 0.6, n),
            "adv_20": rng.uniform(1e6, 1e8, n), "macd_hist": rng.normal(0, 1, n)})
        for c in ("sma_20", "sma_50", "sma_200"):
            frame[c] = frame["close"] * rng.uniform(0.8, 1.2, n)
        frame.loc[rng.choice(n, 5, replace=False), "roe"] = np.nan
        frame["sector"] = frame["sector"].astype(object)
        frame.loc[:2, "sector"] = "Tiny"  # a sector below MIN_SECTOR_SIZE: the day's moments
        frame.loc[3:4, "sector"] = None   # no sector: the day's moments too
        days.append(frame.assign(date=day))
    alone = pd.concat([compute_factors(d, "medium")[0] for d in days], ignore_index=True)
    together, _ = compute_factors(pd.concat(days, ignore_index=True), "medium", by_day=True)
    pd.testing.assert_frame_equal(together, alone, check_exact=False, rtol=1e-9, atol=1e-12)
    # the days' rows interleaved: the same scores, row for row
    order = rng.permutation(len(alone))
    mixed, _ = compute_factors(pd.concat(days, ignore_index=True).iloc[order].reset_index(drop=True), "medium",
                               by_day=True)
    pd.testing.assert_frame_equal(mixed, alone.iloc[order].reset_index(drop=True), check_exact=False, rtol=1e-9,
                                  atol=1e-12)


@pytest.mark.parametrize("threaded", [False, True])
def test_compiled_pass_over_many_days_equals_each_day_alone_on_awkward_days(threaded, monkeypatch):
    """core.kernels' one pass over a panel stacked day by day against pandas' one-day path, on days
    built to trip it: heavy ties (the quantiles' order statistics), a sector whose values are all equal
    (no deviation: its names miss that component), a component missing for a whole day, a day of one
    name, names without a sector; threaded: the days cut into slices run in threads."""
    from technic_assets.core import kernels
    from technic_assets.core.days import Days

    monkeypatch.setattr(kernels, "THREADED_ROWS", 0 if threaded else 10**12)
    rng = np.random.default_rng(21)
    days = []
    for k, (day, n) in enumerate(zip(pd.bdate_range("2025-03-03", periods=5), (90, 1, 120, 75, 200))):
        frame = pd.DataFrame({
            "symbol": [f"S{i}" for i in range(n)], "sector": rng.choice(np.array(["A", "B", "C", None]), n),
            "close": rng.uniform(10, 100, n).round(0), "roc_21": rng.normal(0, 5, n).round(0),
            "roc_63": rng.normal(0, 9, n).round(0), "roc_126": rng.normal(0, 12, n),
            "ret_12_1": rng.normal(0, 0.3, n).round(1), "eps_ttm": rng.normal(2, 1, n),
            "book_value_per_share": rng.uniform(5, 50, n), "roe": rng.normal(0.1, 0.05, n),
            "debt_to_equity": rng.uniform(0, 2, n).round(1), "revenue_growth": rng.normal(0.05, 0.1, n),
            "eps_growth": rng.normal(0.05, 0.2, n), "realized_vol_21": rng.uniform(0.1, 0.6, n),
            "realized_vol_63": rng.uniform(0.1, 0.6, n), "adv_20": rng.uniform(1e6, 1e8, n),
            "macd_hist": rng.normal(0, 1, n)})
        for c in ("sma_20", "sma_50", "sma_200"):
            frame[c] = frame["close"] * rng.uniform(0.8, 1.2, n)
        frame.loc[frame["sector"] == "A", "roe"] = 0.12          # no deviation within the sector
        if k == 2:
            frame["revenue_growth"] = np.nan                         # missing for the whole day
        frame.loc[rng.random(n) < 0.1, "eps_growth"] = np.nan
        days.append(frame.assign(date=day))
    panel = pd.concat(days, ignore_index=True)
    for style in ("swing", "medium", "position"):
        alone = [compute_factors(d, style) for d in days]
        together, missing = compute_factors(panel, style, days=Days(panel["date"]))
        pd.testing.assert_frame_equal(together, pd.concat([z for z, _ in alone], ignore_index=True),
                                      check_exact=False, rtol=1e-9, atol=1e-12)
        assert missing == {f: sum(m[f] for _, m in alone) for f in missing}
