"""Dirty real data: a sample of the shared 2017-2020 file, written once as it is and once with every kind
of damage a feed delivers, each scanned by `technic scan` into its own store. What the cleaning rules
(core.cleaning, core.adjust) do with each damage is checked against the clean run, row by row: dropped,
repaired to the clean row, or flagged so the scan leaves the symbol out; and every symbol the damage did
not touch gets exactly the indicators it gets from the clean file.
"""


import numpy as np
import pandas as pd
import pytest

from technic_assets_tests.conftest import shared_file
from technic_assets_tests.graph import run_cli
from technic_assets_tests.snapshots import query

DAY = "2020-09-15"
REGIME = ["SPY", "QQQ", "HYG", "LQD", "SHY", "TLT", "IEF"]


def sample() -> pd.DataFrame:
    raw = pd.read_parquet(shared_file("market", "us_equities_daily_2017_2020.parquet"))
    raw = raw[(raw["date"].astype(str) >= "2018-06-01") & (raw["date"].astype(str) <= DAY)]
    on_day = raw[(raw["date"].astype(str) == DAY) & (raw["close"] > 10)]["symbol"]
    liquid = sorted(set(on_day))[::45]
    symbols = sorted(set(liquid) | set(REGIME) | {"AAPL", "MSFT", "JPM", "XOM"})
    out = raw[raw["symbol"].isin(symbols)].reset_index(drop=True)
    out["volume"] = out["volume"].astype(float)
    return out


def damage(clean: pd.DataFrame, rng) -> tuple[pd.DataFrame, dict]:
    """The damaged file and what was done to it, by symbol and date (all inside the scan's window)."""
    d = clean.copy()
    window = d[d["date"].astype(str) >= "2019-12-02"]
    victims = [s for s in sorted(d["symbol"].unique()) if s not in REGIME + ["AAPL", "MSFT", "JPM", "XOM"]]
    done = {}

    def pick(symbol, k):
        rows = window[window["symbol"] == symbol].index
        return rng.choice(rows, k, replace=False)

    rows = pick(victims[0], 3)  # high and low swapped
    d.loc[rows, ["high", "low"]] = d.loc[rows, ["low", "high"]].to_numpy()
    done["swapped"] = rows
    bad = np.concatenate([pick(victims[1], 2), pick(victims[2], 2), pick(victims[3], 2)])
    d.loc[bad[:2], "close"] = 0.0
    d.loc[bad[2:4], "low"] = -1.0
    d.loc[bad[4:], "volume"] = np.nan
    done["bad_price"] = bad
    dups = pick(victims[4], 4)  # the same rows twice
    done["duplicated"] = dups
    gap_rows = window[(window["symbol"] == victims[5]) & (window["date"].astype(str).between("2020-03-02", "2020-03-06"))].index
    done["gap"] = (victims[5], len(gap_rows))
    away = window[(window["symbol"] == victims[6]) & (window["date"].astype(str).between("2020-05-01", "2020-06-30"))].index
    done["away"] = (victims[6], len(away))
    d.loc[(d["symbol"] == "AAPL") & (d["date"].astype(str) == "2020-08-31"), "split_coefficient"] = 2.0  # truly 4
    junk = d.loc[pick(victims[7], 2)].copy()
    junk["symbol"] = ["", None]
    nodate = d.loc[pick(victims[7], 1)].copy()
    nodate["date"] = None
    d = pd.concat([d.drop(index=np.concatenate([gap_rows, away])), d.loc[dups], junk, nodate])
    done["victims"] = victims[:8]
    return d.sample(frac=1.0, random_state=7).reset_index(drop=True), done  # out of order


def scan(path_file, store):
    env = {"TECHNIC_DUCKDB_PATH": str(store), "TECHNIC_START_DATE": "2019-01-02", "TECHNIC_ALPHA_WEIGHT": "0",
           "TECHNIC_MARKET": f"parquet:{path_file}"}
    run = run_cli(["scan", "--date", DAY, "--top", "5"], env)
    assert run.returncode == 0, run.stderr[-3000:]
    return run



@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dirty")
    clean = sample()
    dirty, done = damage(clean, np.random.default_rng(11))
    clean.to_parquet(tmp / "clean.parquet")
    dirty.to_parquet(tmp / "dirty.parquet")
    scan(tmp / "clean.parquet", tmp / "clean.duckdb")
    run = scan(tmp / "dirty.parquet", tmp / "dirty.duckdb")
    return clean, done, tmp / "clean.duckdb", tmp / "dirty.duckdb", run


def bars_of(store):
    b = query(store, "SELECT * FROM technic.price_bars")
    return b.set_index(["symbol", "date"]).sort_index()


def key(frame, rows):
    return list(zip(frame.loc[rows, "symbol"], pd.to_datetime(frame.loc[rows, "date"].astype(str))))


def test_each_damage_is_dropped_or_repaired_to_the_clean_row(runs):
    clean, done, clean_store, dirty_store, _ = runs
    good, got = bars_of(clean_store), bars_of(dirty_store)
    assert not got.index.duplicated().any()
    assert got.index.get_level_values("symbol").str.strip().str.len().min() > 0  # no blank symbols stored
    for k in key(clean, done["bad_price"]):
        assert k in good.index and k not in got.index  # zero, negative, missing: dropped, never guessed
    for k in key(clean, done["swapped"]):
        pd.testing.assert_series_equal(got.loc[k], good.loc[k])  # widened back to the bar's extremes
    for k in key(clean, done["duplicated"]):
        pd.testing.assert_series_equal(got.loc[k], good.loc[k])
    for symbol, n in (done["gap"], done["away"]):
        assert len(good.loc[symbol]) - len(got.loc[symbol]) == n  # missing days stay missing
    # everything else stored as in the clean file (AAPL's ex-date keeps the wrong ratio it was given)
    changed = set(key(clean, done["bad_price"])) | {("AAPL", pd.Timestamp("2020-08-31"))}
    same = good[[k not in changed and k[0] not in (done["gap"][0], done["away"][0]) for k in good.index]]
    pd.testing.assert_frame_equal(got.loc[same.index], same)
    assert got.loc[("AAPL", pd.Timestamp("2020-08-31")), "split_ratio"] == 2.0


def test_the_run_reports_what_each_rule_did(runs):
    _, done, _, _, run = runs
    line = next(l for l in (run.stderr + run.stdout).splitlines() if "price_bars: dirty bars handled" in l)
    counts = {k: int(v) for k, v in (part.split() for part in line.split("handled: ")[1].split(", "))}
    # the blank and the missing symbol (the row without a date is outside every date range asked for);
    # 2 zero closes + 2 negative lows + 2 missing volumes; 4 rows twice; 3 swapped high/low; the
    # file's own flat zero-volume placeholders in the window are counted as filler, as on the clean run
    assert {k: counts.get(k, 0) for k in ("bad_key", "bad_price", "duplicate", "range_repaired")} == \
        {"bad_key": 2, "bad_price": 6, "duplicate": 4, "range_repaired": 3}


def test_a_wrong_split_ratio_keeps_the_symbol_out_of_the_scan(runs):
    _, _, clean_store, dirty_store, _ = runs
    q = "SELECT symbol FROM technic.filtered_universe WHERE date = ?"
    assert "AAPL" in set(query(clean_store, q, [DAY])["symbol"])
    assert "AAPL" not in set(query(dirty_store, q, [DAY])["symbol"])
    flags = query(dirty_store, "SELECT symbol FROM technic.indicators WHERE date = ? AND split_unverified", [DAY])
    assert flags["symbol"].tolist() == ["AAPL"]
    assert not query(clean_store, "SELECT count(*) n FROM technic.indicators WHERE split_unverified")["n"].iloc[0]


def test_a_symbol_that_leaves_and_returns_is_scanned_on_the_bars_it_has(runs):
    clean, done, _, dirty_store, _ = runs
    symbol = done["away"][0]
    ind = query(dirty_store, "SELECT * FROM technic.indicators WHERE date = ? AND symbol = ?", [DAY, symbol]).iloc[0]
    own = clean[(clean["symbol"] == symbol) & ~clean["date"].astype(str).between("2020-05-01", "2020-06-30")]
    closes = own.sort_values("date")["close"].to_numpy()
    assert ind["sma_20"] == pytest.approx(closes[-20:].mean())
    assert ind["sma_50"] == pytest.approx(closes[-50:].mean())  # across the hole, on its own bars


def test_symbols_the_damage_did_not_touch_get_the_same_indicators(runs):
    _, done, clean_store, dirty_store, _ = runs
    q = "SELECT * FROM technic.indicators WHERE date = ? ORDER BY symbol"
    good, got = query(clean_store, q, [DAY]), query(dirty_store, q, [DAY])
    touched = set(done["victims"]) | {"AAPL"}
    good, got = good[~good["symbol"].isin(touched)], got[~got["symbol"].isin(touched)]
    assert len(good) > 40
    pd.testing.assert_frame_equal(got.reset_index(drop=True), good.reset_index(drop=True))
