"""core.days' per-day statistics against pandas' groupby on the same rows, the independent computation:
a panel stacked day by day (the contiguous path) and the same rows shuffled (the general path), with
NaN values, a day of one value, a day with none, ties, and rows whose sector is missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from technic_assets.core.days import Days

pytestmark = pytest.mark.unit


def panel(shuffled: bool):
    rng = np.random.default_rng(3)
    dates = pd.DatetimeIndex(np.sort(rng.choice(pd.bdate_range("2024-01-01", periods=12).to_numpy(), 600)))
    x = rng.standard_normal(600).round(1)  # rounded: ties
    x[rng.random(600) < 0.15] = np.nan
    x[dates == dates[0]] = np.nan  # a day without any value
    one = np.flatnonzero(dates == dates[-1])
    x[one] = np.nan
    x[one[0]] = 2.5  # a day of one value
    sector = rng.choice(np.array(["a", "b", "c", None], dtype=object), 600)
    frame = pd.DataFrame({"date": dates, "x": x, "sector": sector})
    if shuffled:
        frame = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    return frame


@pytest.mark.parametrize("shuffled", [False, True])
def test_day_statistics_equal_pandas_groupby(shuffled):
    frame = panel(shuffled)
    days, x = Days(frame["date"]), frame["x"].to_numpy()
    assert (days.starts is None) == shuffled  # the contiguous path only for rows stacked day by day
    grouped = frame.groupby("date")["x"]
    np.testing.assert_array_equal(days.at(days.count(x)), grouped.transform("count").to_numpy())
    np.testing.assert_allclose(days.at(days.mean(x)), grouped.transform("mean").to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(days.at(days.std(x)), grouped.transform("std").to_numpy(), rtol=0, atol=1e-12)
    for q in (0.01, 0.3, 0.5, 0.99):
        expected = grouped.quantile(q).reindex(days.unique).to_numpy()
        np.testing.assert_allclose(days.quantile(x, q), expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(days.ranks(x), grouped.rank(method="average").to_numpy())
    by_date = pd.Series(np.arange(12.0), index=pd.bdate_range("2024-01-01", periods=12))
    np.testing.assert_array_equal(days.of(by_date), frame["date"].map(by_date).to_numpy())


@pytest.mark.parametrize("shuffled", [False, True])
def test_day_and_sector_groups_equal_pandas_groupby(shuffled):
    frame = panel(shuffled)
    groups, x = Days(frame["date"]).within(frame["sector"]), frame["x"].to_numpy()
    grouped = frame.groupby(["date", "sector"])["x"]  # rows without a sector are in no group: NaN
    np.testing.assert_allclose(groups.at(groups.mean(x)), grouped.transform("mean").to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(groups.at(groups.std(x)), grouped.transform("std").to_numpy(), rtol=0, atol=1e-12)
    assert np.isnan(groups.at(groups.count(x).astype(float))[frame["sector"].isna().to_numpy()]).all()


@pytest.mark.parametrize("shuffled", [False, True])
def test_lexsort_orders_each_day_by_its_keys(shuffled):
    frame = panel(shuffled).assign(y=lambda f: np.arange(len(f)) % 7)
    days = Days(frame["date"])
    order = days.lexsort((frame["y"].to_numpy(), frame["x"].fillna(99).to_numpy()))
    expected = np.lexsort((frame["y"].to_numpy(), frame["x"].fillna(99).to_numpy(), days.code))
    np.testing.assert_array_equal(order, expected)
