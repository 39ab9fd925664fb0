"""The learned blend, the peer groups and MERIT's percentile and raw blend (issue 21), by hand."""

import numpy as np
import pandas as pd
import pytest

from technic_assets.core.blend import (BLEND_TERMS, centred_ranks, fit_weights, forward_returns, monthly_weights,
                                       training_days)
from technic_assets.core.factors import FACTORS
from technic_assets.core.peers import month_start, neutral_groups, peer_groups
from technic_assets.core.scoring import merit_score


def test_ridge_weights_by_hand():
    # two orthogonal terms: X'X/n = 0.5 I, X'y/n = (0.1, 0.05) -> w = (0.2, 0.1) -> unit |w| sum (2/3, 1/3)
    x = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    y = np.array([0.2, -0.2, 0.1, -0.1])
    assert fit_weights(x, y, ridge=1.0) == pytest.approx([2 / 3, 1 / 3])  # a ridge of 1 adds 1e-3 I: scaled away
    # a NaN label drops its row: only the first term's rows are left -> w = (1, 0)
    assert fit_weights(x, np.array([0.2, -0.2, np.nan, np.nan]), ridge=1.0) == pytest.approx([1.0, 0.0])


def test_centred_ranks_by_hand():
    got = centred_ranks(np.array([3.0, 1.0, 2.0, 5.0, np.nan]), np.array([1, 1, 1, 2, 2]))
    # day 1: ranks 3, 1, 2 of 3 -> (r - 0.5) / 3 - 0.5; day 2: one name, rank 1 of 1 -> 0; NaN stays
    assert got[:4] == pytest.approx([1 / 3, -1 / 3, 0.0, 0.0])
    assert np.isnan(got[4])


def test_training_days_are_purged_and_embargoed():
    sessions = pd.bdate_range("2020-01-01", periods=40)
    first = sessions[30]
    got = training_days(sessions[:30], first, sessions, horizon=5, embargo=5, window=20)
    # d + 1 + 5 + 5 <= 29 -> d <= 18; d >= 30 - 20 = 10
    assert list(got) == list(sessions[10:19])


def _market(seed=0, days=120, names=60):
    rng = np.random.default_rng(seed)
    sessions = pd.bdate_range("2021-01-04", periods=days)
    growth = np.cumprod(1 + rng.normal(0, 0.02, (days, names)), axis=0)
    symbols = pd.Index([f"S{i:02d}" for i in range(names)])
    return sessions, symbols, growth, rng


def _terms(sessions, symbols, growth, rng):
    rows = []
    for p, day in enumerate(sessions):
        t = pd.DataFrame(rng.normal(size=(len(symbols), len(BLEND_TERMS))), columns=list(BLEND_TERMS))
        rows.append(t.assign(date=day, symbol=symbols))
    return pd.concat(rows, ignore_index=True)


def test_forward_returns_buy_at_the_next_close():
    sessions, symbols, growth, _ = _market()
    frame = pd.DataFrame({"date": [sessions[3], sessions[-3]], "symbol": ["S07", "S07"]})
    got = forward_returns(growth, symbols, sessions, frame, horizon=5)
    assert got.iloc[0] == pytest.approx(growth[9, 7] / growth[4, 7] - 1)  # bought at d+1's close, sold 5 later
    assert np.isnan(got.iloc[1])  # the window runs past the data


def test_scrambling_later_prices_leaves_earlier_weights_and_scores_unchanged():
    sessions, symbols, growth, rng = _market()
    terms = _terms(sessions, symbols, growth, rng)
    months = sorted({month_start(d, sessions) for d in sessions})
    kwargs = dict(window=100, min_days=20, ridge=1.0)
    labels = forward_returns(growth, symbols, sessions, terms)
    weights = monthly_weights(terms, labels, months, sessions, **kwargs)
    cut = sessions.get_loc(months[-1])  # the last month's first session: prices from it on are scrambled
    scrambled = growth.copy()
    scrambled[cut:] = scrambled[cut:][rng.permutation(len(sessions) - cut)] * rng.uniform(0.5, 2.0, len(symbols))
    again = monthly_weights(terms, forward_returns(scrambled, symbols, sessions, terms), months, sessions, **kwargs)
    learned = [m for m in months if weights[m] is not None]
    assert len(learned) >= 2
    for m in months:
        assert (weights[m] is None) == (again[m] is None)
        if weights[m] is not None:
            assert again[m] == pytest.approx(weights[m], abs=0)
    # the scores of a day of the last month use only its (unchanged) weights
    day = terms[terms["date"] == months[-1]].set_index("symbol")
    score = [merit_score(day[list(FACTORS)], pd.Series(0.2, index=day.index), pd.Series(5e7, index=day.index),
                         "medium", "neutral", learned=w[months[-1]], terms=day)["merit_score"] for w in (weights, again)]
    pd.testing.assert_series_equal(score[0], score[1])
    # and the scramble does reach a month whose training window covers it (the test can fail)
    later = monthly_weights(terms, labels, [sessions[-1]], sessions, **kwargs)[sessions[-1]]
    moved = monthly_weights(terms, forward_returns(scrambled, symbols, sessions, terms), [sessions[-1]], sessions,
                            **kwargs)[sessions[-1]]
    assert later != pytest.approx(moved)


def test_learned_weights_find_the_planted_term():
    sessions, symbols, growth, rng = _market(1)
    terms = _terms(sessions, symbols, growth, rng)
    labels = terms["reversal"] * 0.02 + rng.normal(0, 0.01, len(terms))  # the label follows `reversal`
    w = monthly_weights(terms, labels, [sessions[-1]], sessions, window=100, min_days=20)[sessions[-1]]
    assert max(w, key=lambda k: abs(w[k])) == "reversal" and w["reversal"] > 0.5


def test_peer_groups_recover_planted_groups_point_in_time():
    rng = np.random.default_rng(3)
    days, per = 150, 12
    sessions = pd.bdate_range("2022-01-03", periods=days)
    drivers = rng.normal(0, 0.02, (days, 3))
    cols = {f"G{g}_{i}": drivers[:, g] + rng.normal(0, 0.01, days) for g in range(3) for i in range(per)}
    returns = pd.DataFrame(cols, index=sessions)
    as_of = sessions[130]
    groups = peer_groups(returns, as_of, window=126, groups=3, components=3)
    assert len(groups) == 3 * per
    for g in range(3):  # every planted group lands in one peer group, and the three are distinct
        assert groups[[f"G{g}_{i}" for i in range(per)]].nunique() == 1
    assert groups.nunique() == 3
    later = returns.copy()
    later.iloc[130:] = rng.normal(0, 0.05, later.iloc[130:].shape)  # on and after as_of: not read
    pd.testing.assert_series_equal(peer_groups(later, as_of, window=126, groups=3, components=3), groups)


def test_neutral_groups_use_the_sector_first():
    sector = pd.Series(["Energy", "Unknown", "Unknown", None])
    symbols = pd.Series(["A", "B", "C", "D"])
    got = neutral_groups(sector, symbols, pd.Series({"B": "peer_01", "D": "peer_02"}))
    assert list(got) == ["Energy", "peer_01", "Unknown", "peer_02"]


def test_merit_percentile_raw_blend_and_switches_by_hand():
    idx = pd.Index(["A", "B", "C", "D"], name="symbol")
    factors = pd.DataFrame(0.0, index=idx, columns=list(FACTORS))
    factors["momentum"] = [1.0, -1.0, 0.5, -0.5]
    vol = pd.Series([0.2, 0.2, 0.9, 0.2], index=idx)  # C: 20 * (0.9 - 0.4) = 10 points of penalty
    adv = pd.Series(5e7, index=idx)
    m = merit_score(factors, vol, adv, "medium", "neutral")
    # the blend is 0.25 * momentum: sd of (0.25, -0.25, 0.125, -0.125) = 0.25 * sd(1, -1, .5, -.5)
    sd = np.std([1, -1, 0.5, -0.5], ddof=1)
    assert m["merit_raw"].to_numpy() == pytest.approx(np.array([1, -1, 0.5, -0.5]) / sd)
    # MERIT: A ~ 100*Phi(1.26)=89.7, B 10.3, C 69.0 - 10 = 59.0, D 31.0 -> ranks 4, 1, 3, 2 of 4
    assert m["merit_pct"].to_numpy() == pytest.approx([100, 25, 75, 50])
    off = merit_score(factors, vol, adv, "medium", "neutral", penalties=False)
    assert off.loc["C", "merit_score"] == pytest.approx(m.loc["C", "merit_score"] + 10.0)
    # risk_off moves 0.20 out of momentum; without the tilt risk_off scores as neutral
    factors["quality"] = [0.0, 1.0, 0.0, 0.0]
    tilted = merit_score(factors, vol, adv, "medium", "risk_off")
    flat = merit_score(factors, vol, adv, "medium", "risk_off", tilt=False)
    neutral = merit_score(factors, vol, adv, "medium", "neutral")
    pd.testing.assert_series_equal(flat["merit_score"], neutral["merit_score"])
    assert not np.allclose(tilted["merit_score"], neutral["merit_score"])
