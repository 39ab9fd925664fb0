"""The whole scan on the shared real data (3,756 US stocks and ETFs, 2017-2020, raw prices with splits).

Runs `technic scan` as a person would, in process, with the partitions starting early enough for
2020 (TECHNIC_START_DATE, read when the command builds its definitions).
"""


import pandas as pd
import pytest

from technic_assets_tests.conftest import shared_file
from technic_assets_tests.graph import run_cli
from technic_assets_tests.snapshots import query

DAY = "2020-09-15"


@pytest.fixture(scope="module")
def real_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("real") / "store.duckdb"
    env = {"TECHNIC_DUCKDB_PATH": str(path), "TECHNIC_START_DATE": "2019-01-02", "TECHNIC_ALPHA_WEIGHT": "0",
           "TECHNIC_MARKET": f"parquet:{shared_file('market', 'us_equities_daily_2017_2020.parquet')}",
           "TECHNIC_SECTOR_MAP": str(shared_file("market", "sp500_constituents_2018-04-02.csv"))}
    run = run_cli(["scan", "--date", DAY, "--top", "10"], env)
    assert run.returncode == 0, run.stderr[-3000:]
    return path, run



def test_the_scan_ranks_real_stocks(real_store):
    path, run = real_store
    top = query(path, "SELECT * FROM technic.ranked_top_n WHERE date = ? ORDER BY rank", [DAY])
    assert top["rank"].tolist() == list(range(1, 11))
    assert top["merit_score"].is_monotonic_decreasing
    assert f"Technic top 10 for {DAY}" in run.stdout
    regime = query(path, "SELECT * FROM technic.market_regime WHERE date = ?", [DAY]).iloc[0]
    assert regime["trend"] != "unknown" and regime["credit"] != "unknown"


def test_aapl_after_its_split_is_not_a_crash(real_store):
    path, _ = real_store
    ind = query(path, "SELECT * FROM technic.indicators WHERE date = ? AND symbol = 'AAPL'", [DAY]).iloc[0]
    raw = pd.read_parquet(shared_file("market", "us_equities_daily_2017_2020.parquet"),
                          filters=[("symbol", "==", "AAPL")])
    raw = raw[pd.to_datetime(raw["date"]) <= DAY]
    closes, dates = raw["close"].to_numpy(), pd.to_datetime(raw["date"]).to_numpy()
    back = closes[-22] / (4.0 if dates[-22] < pd.Timestamp("2020-08-31").to_numpy() else 1.0)
    assert ind["roc_21"] == pytest.approx((closes[-1] / back - 1) * 100)
    assert abs(ind["roc_21"]) < 20
    assert ind["sma_50"] == pytest.approx(ind["close"], rel=0.25)  # adjusted history, not 4x above


def test_dirty_bars_are_counted_not_stored(real_store):
    path, _ = real_store
    stored = query(path, "SELECT count(*) AS n FROM technic.price_bars WHERE volume = 0 AND open = high AND high = low AND low = close")
    assert stored["n"].iloc[0] == 0
    bad = query(path, "SELECT count(*) AS n FROM technic.price_bars WHERE low > least(open, close) OR high < greatest(open, close)")
    assert bad["n"].iloc[0] == 0


def test_symbols_without_a_sector_are_kept_as_unknown(real_store):
    path, _ = real_store
    sectors = query(path, "SELECT sector, count(*) AS n FROM technic.filtered_universe WHERE date = ? GROUP BY sector", [DAY])
    assert "Unknown" in set(sectors["sector"])
