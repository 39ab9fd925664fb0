"""The alpha assets in the graph: no look-ahead, the day before any model exists, and the evaluation."""

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from technic_assets.config import DEFAULT_START_DATE, AlphaSettings
from technic_assets.core.alpha_evaluation import bar_matrices, evaluate_day
from technic_assets.core.alpha_model import retrain_day
from technic_assets.core.calendar import nyse, sessions, sessions_back
from technic_assets.market import factory
from technic_assets.market.base import MarketDataProvider
from technic_assets.market.synthetic import SyntheticMarket
from technic_assets_tests.graph import ASSETS, resources

DAY = pd.Timestamp("2025-06-02")
COMPARED = {"indicators": "symbol", "factors": "symbol", "alpha_model": "horizon",
            "alpha_forecasts": "symbol", "merit": "symbol", "ranked_top_n": "rank"}


class FutureScrambled(MarketDataProvider):
    """The built-in market with every bar and report dated after `day` replaced by noise."""

    name = "scrambled"

    def __init__(self, inner: SyntheticMarket, day: pd.Timestamp):
        self.inner, self.day = inner, day
        self.rng = np.random.default_rng(1)

    def listings(self, day, known_sectors=None):
        return self.inner.listings(day, known_sectors)

    def daily_bars(self, start, end):
        bars = self.inner.daily_bars(start, end)
        late = bars["date"] > self.day
        scale = self.rng.uniform(0.5, 2.0, late.sum())
        for col in ("open", "high", "low", "close"):
            bars.loc[late, col] *= scale
        bars.loc[late, "volume"] *= self.rng.uniform(0.1, 10, late.sum())
        return bars

    def fundamentals(self, as_of):
        return self.scramble(self.inner.fundamentals(as_of), "published")

    def report_history(self, start, end):
        return self.scramble(self.inner.report_history(start, end), "known_from")

    def scramble(self, reports, column):
        late = reports[column] > self.day
        for col in ("earnings_surprise", "eps_growth", "roe"):
            reports.loc[late, col] = self.rng.normal(0, 3, late.sum())
        return reports


def scan(path, monkeypatch, provider=None):
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(path))
    if provider is not None:
        monkeypatch.setattr(factory, "_synthetic", lambda seed, n: provider)
    result = materialize(ASSETS, partition_key=str(DAY.date()), instance=DagsterInstance.ephemeral(),
                         resources=resources(200))
    assert result.success
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return {t: conn.execute(f"SELECT * FROM technic.{t} WHERE date = ? ORDER BY {key}",
                                [DAY.to_pydatetime()]).fetchdf() for t, key in COMPARED.items()}
    finally:
        conn.close()


def test_nothing_dated_after_the_scan_date_changes_its_features_forecasts_or_ranking(tmp_path, monkeypatch):
    clean = scan(tmp_path / "clean.duckdb", monkeypatch)
    factory._synthetic.cache_clear()
    inner = SyntheticMarket(seed=7, n_stocks=200)
    scrambled = FutureScrambled(inner, DAY)
    later = pd.Timestamp("2025-07-15")  # the scrambled source really does differ after DAY
    assert not scrambled.daily_bars(later, later)["close"].equals(inner.daily_bars(later, later)["close"])
    dirty = scan(tmp_path / "scrambled.duckdb", monkeypatch, scrambled)
    assert len(clean["alpha_model"]) == 2 and clean["alpha_forecasts"]["alpha_5d"].notna().all()
    for table, frame in clean.items():
        pd.testing.assert_frame_equal(frame, dirty[table], obj=table)


def test_before_any_model_exists_merit_is_the_factor_blend_and_says_so(tmp_path, monkeypatch):
    earliest = sessions(DEFAULT_START_DATE, "2026-01-01")[299].strftime("%Y-%m-%d")  # the first full window
    assert retrain_day(pd.Timestamp(earliest), "month", nyse().sessions) < pd.Timestamp(earliest)
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(tmp_path / "store.duckdb"))
    result = materialize(ASSETS, partition_key=earliest, instance=DagsterInstance.ephemeral(),
                         resources=resources(200))
    assert result.success
    meta = {e.materialization.asset_key.path[-1]: {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events() if e.materialization.partition == earliest}
    assert "no model: only" in meta["alpha_model"]["status"]
    assert meta["alpha_model"]["dagster/partition_row_count"] == 0
    assert meta["merit"]["alpha"] == "no alpha model yet: factor blend alone"
    assert meta["ranked_top_n"]["rows"] == 25


def test_a_model_serves_its_whole_month_and_cadence_is_validated():
    s = nyse().sessions
    assert retrain_day(pd.Timestamp("2025-06-20"), "month", s) == pd.Timestamp("2025-06-02")
    assert retrain_day(pd.Timestamp("2025-06-20"), "week", s) == pd.Timestamp("2025-06-16")
    assert retrain_day(pd.Timestamp("2025-01-10"), "month", s) == pd.Timestamp("2025-01-02")  # Jan 1 closed
    with pytest.raises(ValueError, match="(?s)retrain.*'month' or 'week'"):
        AlphaSettings(retrain="daily")
    with pytest.raises(ValueError, match="(?s)device.*'cpu' or 'cuda'"):
        AlphaSettings(device="tpu")
    with pytest.raises(ValueError, match="(?s)weight.*less than or equal to 1"):
        AlphaSettings(weight=1.5)


def test_evaluation_measures_each_score_against_the_split_adjusted_return_since_its_signal_day():
    day = pd.Timestamp("2025-06-20")
    window = sessions_back(day, 11)
    s5, s10 = window[-6], window[0]
    symbols = [f"S{i:02d}" for i in range(20)]
    rng = np.random.default_rng(4)
    start = rng.uniform(20, 50, 20)
    growth = np.linspace(-0.10, 0.09, 20)  # S19 gains most
    bars = []
    for k, d in enumerate(window):
        close = start * (1 + growth * k / 10)
        ratio = np.ones(20)
        if k == 8:  # S00 splits 3-for-1 between both signal days and `day`
            ratio[0] = 3.0
        close = np.where((np.arange(20) == 0) & (k >= 8), close / 3, close)
        bars.append(pd.DataFrame({"date": d, "symbol": symbols, "close": close, "split_ratio": ratio}))
    bars = pd.concat(bars)
    merit = pd.concat([pd.DataFrame({"date": s, "symbol": symbols, "merit_score": np.arange(20.0),
                                     "ics_score": -np.arange(20.0), "alpha_5d": np.arange(20.0) % 7,
                                     "alpha_10d": np.arange(20.0)}) for s in (s5, s10)])
    out = evaluate_day(day, merit, *bar_matrices(bars), nyse().sessions).set_index(["horizon", "score"])
    assert set(out.index) == {(5, "ics_score"), (5, "merit_score"), (5, "alpha_5d"),
                              (10, "ics_score"), (10, "merit_score"), (10, "alpha_10d")}
    # returns rise with the symbol number (S00's split undone): MERIT ranks them perfectly, ICS backwards
    assert out.loc[(10, "merit_score"), "rank_ic"] == pytest.approx(1.0)
    assert out.loc[(10, "ics_score"), "rank_ic"] == pytest.approx(-1.0)
    assert out.loc[(10, "merit_score"), "hit_rate"] == 1.0
    ret10 = start * (1 + growth) / start - 1
    excess = ret10 - np.median(ret10)
    assert out.loc[(10, "alpha_10d"), "quintile_spread"] == pytest.approx(excess[16:].mean() - excess[:4].mean())
    assert (out["signal_date"].loc[5] == s5).all() and (out["signal_date"].loc[10] == s10).all()
