"""The alpha models' pure core: labels, train/score parity, purge, determinism, and the quality measures."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, spearmanr

from technic_assets.core.adjust import split_adjust
from technic_assets.core.alpha_features import FEATURES, features_for_day, indicator_panel, training_rows
from technic_assets.core.alpha_model import TrainConfig, last_signal_day, predict, train_model
from technic_assets.core.calendar import nyse, sessions_back
from technic_assets.core.indicators import LOOKBACK, compute_indicators
from technic_assets.core.signal_quality import signal_quality
from technic_assets.core.universe_filter import FilterSettings
from technic_assets.market.synthetic import SyntheticMarket

OPEN = FilterSettings(min_price=0.0, min_dollar_volume=0.0, max_price_cv=100.0, min_history=1)
NO_KINDS = pd.DataFrame({"symbol": pd.Series(dtype=object), "type": pd.Series(dtype=object),
                         "is_leveraged": pd.Series(dtype=bool)})
NO_REPORTS = pd.DataFrame({"symbol": pd.Series(dtype=object), "known_from": pd.Series(dtype="datetime64[ns]"),
                           **{c: pd.Series(dtype="datetime64[ns]" if c == "published" else float)
                              for c in ("published", "earnings_surprise", "eps_growth", "revenue_growth", "roe",
                                        "debt_to_equity")}})


def hand_bars(days):
    """Three symbols with known closes; BBB has a 2-for-1 split on its 68th session."""
    rows = []
    closes = {"AAA": 10 + np.arange(len(days)), "BBB": 100.0 + 2 * np.arange(len(days)),
              "CCC": 50 - 0.5 * np.arange(len(days))}
    closes["BBB"][67:] = closes["BBB"][67:] / 2  # as traded: halved from the ex-date on
    for sym, c in closes.items():
        for i, d in enumerate(days):
            rows.append({"date": d, "symbol": sym, "open": c[i], "high": c[i] * 1.01, "low": c[i] * 0.99,
                         "close": c[i], "volume": 1e6, "split_ratio": 2.0 if (sym == "BBB" and i == 67) else 1.0})
    return pd.DataFrame(rows), closes


def test_labels_are_forward_returns_through_splits_in_excess_of_the_day_median():
    days = sessions_back("2025-06-30", 80)
    bars, raw = hand_bars(days)
    rows = training_rows(indicator_panel(bars, days), NO_REPORTS, NO_KINDS, OPEN).set_index(["date", "symbol"])
    t = 63  # the first day with a 63-session price CV (the filter's), and BBB splits 4 sessions later
    returns = {"AAA": raw["AAA"][t + 5] / raw["AAA"][t] - 1,
               "BBB": raw["BBB"][t + 5] * 2 / raw["BBB"][t] - 1,  # the split is not a 50% crash
               "CCC": raw["CCC"][t + 5] / raw["CCC"][t] - 1}
    median = np.median(list(returns.values()))
    for sym, r in returns.items():
        assert rows.loc[(days[t], sym), "label_5"] == pytest.approx(r - median, rel=1e-5)
    # the last five days have no 5-day label: their closes are not in the data
    assert rows.loc[days[-5]:, "label_5"].isna().all()
    assert rows.loc[(days[-6], "AAA"), "label_5"] == pytest.approx(
        raw["AAA"][-1] / raw["AAA"][-6] - 1 - np.median([raw[s][-1] / raw[s][-6] - 1 for s in raw]), rel=1e-5)


@pytest.fixture(scope="module")
def small_market():
    market = SyntheticMarket(seed=3, n_stocks=200)
    day = pd.Timestamp("2025-09-15")
    window = sessions_back(day, LOOKBACK + 250)
    bars = market.daily_bars(window[0], day)
    kinds = market.listings(day)[["symbol", "type", "is_leveraged"]]
    rows = training_rows(indicator_panel(bars, window), market.report_history(window[0], day), kinds)
    return market, day, window, bars, rows


def test_a_day_is_scored_with_exactly_the_features_it_was_trained_on(small_market):
    """The panel (whole history, adjusted as of its end) and the daily scan (300-session window,
    adjusted as of the day) give the same features for the same day."""
    market, day, _, bars, rows = small_market
    today = rows[rows["date"] == day]
    window = bars[bars["date"].isin(sessions_back(day, LOOKBACK))]
    indicators = compute_indicators(split_adjust(window))
    scored = features_for_day(day, indicators, market.fundamentals(day), today["symbol"])
    assert len(today) > 100
    assert scored["earnings_surprise"].notna().mean() > 0.9
    np.testing.assert_allclose(scored[list(FEATURES)].to_numpy(), today[list(FEATURES)].to_numpy(),
                               rtol=2e-5, atol=1e-6)


def test_training_ignores_everything_after_its_last_known_label_and_is_reproducible(small_market):
    _, day, _, _, rows = small_market
    sessions = nyse().sessions
    config = TrainConfig(rounds=30)
    first = train_model(rows, 5, config, day, sessions)
    again = train_model(rows, 5, config, day, sessions)
    assert first.model_id == again.model_id and first.raw == again.raw

    last = last_signal_day(day, sessions, 5, config.embargo)
    assert last == sessions[sessions < day][-11]  # 5-session label + 5-session embargo before the day
    assert pd.Timestamp(first.meta["validation_end"]) <= last
    scrambled = rows.copy()
    late = scrambled["date"] > last
    rng = np.random.default_rng(0)
    scrambled.loc[late, "label_5"] = rng.normal(0, 1, late.sum()).astype(np.float32)
    scrambled.loc[late, list(FEATURES)] = rng.normal(0, 1, (late.sum(), len(FEATURES))).astype(np.float32)
    assert train_model(scrambled, 5, config, day, sessions).model_id == first.model_id

    earlier = scrambled[scrambled["date"] <= last - pd.Timedelta(days=40)]
    assert train_model(earlier, 5, config, day, sessions).model_id != first.model_id  # data matters


def test_predictions_are_one_batch_in_row_order(small_market):
    _, day, _, _, rows = small_market
    model = train_model(rows, 10, TrainConfig(rounds=20), day, nyse().sessions)
    today = rows[rows["date"] == rows["date"].max()]
    batch = predict(model.booster, today)
    one_by_one = [predict(model.booster, today.iloc[[i]])[0] for i in range(0, len(today), 25)]
    np.testing.assert_allclose(batch[::25], one_by_one, rtol=1e-6)
    assert model.meta["importances"].keys() == set(FEATURES)


def test_signal_quality_against_scipy_and_by_hand():
    score = np.array([5.0, 4, 3, 2, 1, 0, -1, -2, -3, -4])
    outcome = np.array([0.05, 0.01, 0.03, -0.02, 0.00, 0.01, -0.01, 0.02, -0.04, -0.03])
    q = signal_quality(score, outcome)
    assert q["ic"] == pytest.approx(pearsonr(score, outcome)[0])
    assert q["rank_ic"] == pytest.approx(spearmanr(score, outcome)[0])
    # top fifth by score: 5, 4 -> (0.05 + 0.01) / 2; bottom: -3, -4 -> (-0.04 - 0.03) / 2
    assert q["quintile_spread"] == pytest.approx(0.03 - (-0.035))
    # median score 0.5, median outcome 0.005: the right side for scores 5, 4, 3, -1, -3, -4
    assert q["hit_rate"] == pytest.approx(0.6)
    assert np.isnan(signal_quality(score[:5], outcome[:5])["ic"])  # too few names to say anything
