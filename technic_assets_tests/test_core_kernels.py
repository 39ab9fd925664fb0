"""core.kernels' compiled passes against independent computations: numpy's own quantile and lexsort,
and core.scoring's one-day pandas MERIT run on each day alone. The many-day chain's agreement with the
one-day screen is test_screen_days'; here each pass is pinned down on inputs built to trip it (ties,
NaN, a day of one row, days with and without alpha, MERIT clipped at 0 and 100)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from technic_assets.core import kernels
from technic_assets.core.days import Days
from technic_assets.core.factors import FACTORS
from technic_assets.core.scoring import merit_score

pytestmark = pytest.mark.unit


def test_quantiles_equal_numpys_with_ties_and_tiny_samples():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 7, 50, 101, 400):
        for ties in (False, True):
            x = rng.standard_normal(n)
            x = x.round(0) if ties else x  # a handful of distinct values: every order statistic tied
            for q in (0.0, 0.01, 0.3, 0.5, 0.7, 0.99, 1.0):
                got = kernels._quantile(x.copy(), n, q)
                assert got == pytest.approx(np.quantile(x, q), rel=0, abs=1e-12), (n, ties, q)


@pytest.mark.parametrize("threaded", [False, True])
def test_each_days_order_is_lexsorts_by_merit_ics_then_symbol(threaded, monkeypatch):
    monkeypatch.setattr(kernels, "THREADED_ROWS", 0 if threaded else 10**12)
    rng = np.random.default_rng(9)
    sizes = [1, 40, 300, 2, 120]
    starts = np.r_[0, np.cumsum(sizes)]
    n = starts[-1]
    merit = np.clip(rng.normal(50, 40, n).round(0), 0, 100)  # many ties, and clipped at 0 and 100
    ics = rng.choice([40.0, 50.0, 60.0], n)                  # ties within MERIT's ties
    rank = np.concatenate([rng.permutation(k) for k in sizes])  # each day's symbols' sorted places
    got = kernels.order_days(merit, ics, rank, starts)
    for a, b in zip(starts[:-1], starts[1:]):
        expected = a + np.lexsort((rank[a:b], -ics[a:b], -merit[a:b]))
        np.testing.assert_array_equal(got[a:b], expected)


def test_merit_of_many_days_equals_each_day_scored_alone():
    """Hand weights under each day's regime with alpha (a day without any alpha value blends none),
    a learned blend, penalties on and off: the compiled pass against merit_score's one-day path."""
    rng = np.random.default_rng(13)
    dates = pd.bdate_range("2025-04-01", periods=4)
    sizes = [60, 1, 90, 45]
    date = np.repeat(dates, sizes)
    n = len(date)
    f = pd.DataFrame(rng.normal(0, 1, (n, len(FACTORS))).clip(-3, 3), columns=list(FACTORS))
    f.iloc[:5] = 4.0  # a few names far ahead: MERIT 100 (before penalties)
    vol = pd.Series(rng.uniform(0.1, 1.2, n))
    adv = pd.Series(rng.choice([np.nan, 0.0, 5e5, 3e6, 5e7], n))
    alpha = pd.Series(rng.normal(0, 1, n))
    alpha[date == dates[2]] = np.nan      # a day without alpha
    alpha[rng.random(n) < 0.2] = np.nan   # names without a forecast
    risk = pd.Series(np.array(["risk_on", "neutral", "risk_off", "risk_on"])[np.repeat(np.arange(4), sizes)])
    terms = f.assign(alpha=alpha.fillna(0.0), reversal=rng.normal(0, 1, n), overbought=rng.normal(0, 1, n))
    learned = {t: w for t, w in zip(terms.columns, rng.uniform(-0.2, 0.3, len(terms.columns)))}
    days = Days(pd.Series(date))
    for penalties in (True, False):
        for style in ("swing", "position"):
            hand = merit_score(f, vol, adv, style, risk, alpha=alpha, alpha_weight=0.35, penalties=penalties,
                               days=days, detail=False)["merit_score"].to_numpy()
            given = pd.DataFrame({t: np.full(n, w) for t, w in learned.items()})
            fit = merit_score(f, vol, adv, style, risk, learned=given,
                              terms=terms, penalties=penalties, days=days, detail=False)["merit_score"].to_numpy()
            for day in dates:
                rows = np.flatnonzero(date == day)
                one = rows[0]
                z = alpha.iloc[rows]
                alone = merit_score(f.iloc[rows], vol.iloc[rows], adv.iloc[rows], style, risk.iloc[one],
                                    alpha=None if z.isna().all() else z, alpha_weight=0.35, penalties=penalties)
                np.testing.assert_allclose(hand[rows], alone["merit_score"], rtol=0, atol=1e-9)
                alone = merit_score(f.iloc[rows], vol.iloc[rows], adv.iloc[rows], style, risk.iloc[one],
                                    learned=learned, terms=terms.iloc[rows], penalties=penalties)
                np.testing.assert_allclose(fit[rows], alone["merit_score"], rtol=0, atol=1e-9)


def test_ics_standardizing_and_the_blends_sums_of_many_days_equal_each_day_alone():
    from technic_assets.core.factors import standardize
    from technic_assets.core.scoring import ics_score

    rng = np.random.default_rng(17)
    sizes = [30, 1, 80, 2, 55]
    date = np.repeat(pd.bdate_range("2025-05-01", periods=len(sizes)), sizes)
    n = len(date)
    f = pd.DataFrame(rng.normal(0, 1, (n, len(FACTORS))).round(1), columns=list(FACTORS))
    f.loc[rng.random(n) < 0.1, "value"] = np.nan
    x = pd.Series(rng.normal(3, 2, n))
    x[rng.random(n) < 0.2] = np.nan
    x[date == date[-1]] = 7.0  # a day of equal values: no deviation, 0
    days = Days(pd.Series(date))
    ics = ics_score(f, "medium", days=days, detail=False)["ics_score"].to_numpy()
    z = standardize(x, days).to_numpy()
    y = rng.normal(0, 1, n)
    y[rng.random(n) < 0.1] = np.nan
    columns = [f[c].to_numpy() for c in FACTORS]
    xx, xy, count = kernels.day_gram(columns, y, np.r_[days.starts, n])
    for k, day in enumerate(days.unique):
        rows = np.flatnonzero(date == day)
        np.testing.assert_allclose(ics[rows], ics_score(f.iloc[rows], "medium")["ics_score"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(z[rows], standardize(x.iloc[rows]), rtol=0, atol=1e-12)
        m = np.column_stack(columns)[rows]
        ok = ~np.isnan(y[rows]) & np.isfinite(m).all(axis=1)
        assert count[k] == ok.sum()
        np.testing.assert_allclose(xx[k], m[ok].T @ m[ok], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(xy[k], m[ok].T @ y[rows][ok], rtol=1e-12, atol=1e-12)
