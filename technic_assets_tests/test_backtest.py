"""`technic backtest` on stored days: what was stored each evening, bought at the next close."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from technic_assets.cli import main
from technic_assets.storage import History
from technic_assets_tests.graph import ASSETS, resources
from technic_assets_tests.snapshots import query

FIRST, LAST = "2025-06-02", "2025-06-10"  # 7 sessions scanned; bars stored through 06-13


@pytest.fixture(scope="module")
def scanned_week(warm_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("week") / "store.duckdb"
    shutil.copy(warm_template, path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TECHNIC_DUCKDB_PATH", str(path))
        mp.setenv("TECHNIC_ALPHA_WEIGHT", "0")
        assert materialize(ASSETS, resources=resources(200), instance=DagsterInstance.ephemeral(), tags={
            ASSET_PARTITION_RANGE_START_TAG: FIRST, ASSET_PARTITION_RANGE_END_TAG: LAST}).success
    return path


def plain_top_n_returns(store) -> pd.Series:
    """By hand from the stored rows: each day's picks bought at the next session's close, held one
    session, equal weight; the close-to-close return adjusted for a split on the later day, plus the
    dividend whose ex-date it is."""
    picks = query(store, "SELECT date, symbol FROM technic.ranked_top_n WHERE screen = 'default' ORDER BY date")
    bars = query(store, "SELECT date, symbol, close, split_ratio, dividend FROM technic.price_bars WHERE date >= ?",
                 [FIRST])
    close = bars.pivot(index="date", columns="symbol", values="close")
    ratio = bars.pivot(index="date", columns="symbol", values="split_ratio").fillna(1.0)
    cash = bars.pivot(index="date", columns="symbol", values="dividend").fillna(0.0)
    sessions = close.index
    out = {}
    for day, names in picks.groupby("date")["symbol"]:
        i = sessions.get_loc(day)
        buy, sell = sessions[i + 1], sessions[i + 2]
        out[sell] = np.mean([(close.at[sell, s] + cash.at[sell, s]) * ratio.at[sell, s] / close.at[buy, s] - 1
                             for s in names])
    return pd.Series(out)


def test_the_record_of_a_stored_screen_buys_each_evenings_picks_at_the_next_close(scanned_week, monkeypatch, capsys):
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(scanned_week))
    assert main(["backtest", "--horizon", "1", "--cost-bps", "0", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["screen"] == "default" and summary["horizon"] == 1 and summary["cost_bps"] == 0
    assert summary["pick_days"] == {"from": FIRST, "to": LAST, "count": 7}
    assert summary["from"] == "2025-06-04" and summary["to"] == "2025-06-12"  # first entry + 1 .. last entry + 1
    assert summary["source"] == "simulated" and summary["returns"].startswith("total returns")
    daily = plain_top_n_returns(scanned_week)
    by_hand = float(np.prod(1 + daily.to_numpy()) ** (252 / len(daily)) - 1)
    top = summary["portfolios"]["top_n"]
    assert top["ann_return"] == pytest.approx(by_hand, rel=1e-9)  # a fraction, not percent
    assert top["ann_return_gross"] == pytest.approx(by_hand, rel=1e-9)
    assert {"universe", "benchmark", "momentum_12_1", "random"} <= set(summary["portfolios"])
    for key in ("ann_return", "volatility", "sharpe", "excess_vs_universe", "information_ratio", "max_drawdown",
                "turnover"):
        assert key in top
    assert main(["backtest", "--horizon", "2"]) == 0
    table = capsys.readouterr().out
    assert "Track record of screen default" in table and "held 2 sessions, 10 bps a side" in table


@pytest.mark.parametrize("argv, message", [
    (["backtest", "--screen", "nope"], "no screen 'nope' stored"),
    (["backtest", "--from", "2025-07-01"], "screen 'default' has no stored day from 2025-07-01"),
    (["backtest", "--horizon", "0"], "--horizon 0: want at least 1 session"),
    (["backtest", "--cost-bps", "-5"], "--cost-bps -5: costs cannot be negative"),
    (["backtest", "--benchmark", "NOPE"], "NOPE"),
])
def test_bad_backtest_input_is_one_line_naming_it(scanned_week, monkeypatch, argv, message):
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(scanned_week))
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert str(err.value).startswith("error: ") and message in str(err.value) and "\n" not in str(err.value)


def hand_store(path, *, with_dividends: bool) -> History:
    """Three symbols over five sessions, AAA going ex a $0.30 dividend on 2025-06-05; AAA picked on
    06-02, 06-03 and 06-04; written without the dividend column as a store from before dividends."""
    days = pd.DatetimeIndex(["2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05", "2025-06-06"])
    close = {"AAA": [10.0, 10.0, 10.5, 10.2, 10.4], "BBB": [20.0, 20.0, 19.0, 19.5, 20.0],
             "SPY": [100.0, 101.0, 102.0, 101.0, 103.0]}
    bars = pd.DataFrame([(d, s, c[i], 1000.0, 1.0, 0.3 if (s, i) == ("AAA", 3) else 0.0)
                         for s, c in close.items() for i, d in enumerate(days)],
                        columns=["date", "symbol", "close", "volume", "split_ratio", "dividend"])
    bars = bars.assign(open=bars["close"], high=bars["close"], low=bars["close"])
    history = History(str(path))
    history.replace_dates("price_bars", bars if with_dividends else bars.drop(columns="dividend"), list(days))
    picked = days[:3]
    both = pd.DataFrame([(d, s, "default") for d in picked for s in ("AAA", "BBB")], columns=["date", "symbol", "screen"])
    history.replace_dates("ranked_top_n", both[both["symbol"] == "AAA"].assign(rank=1), list(picked))
    history.replace_dates("merit", both.assign(merit_score=np.where(both["symbol"] == "AAA", 90.0, 10.0)), list(picked))
    history.replace_dates("filtered_universe", both, list(picked))
    return history


@pytest.mark.parametrize("with_dividends", [True, False])
def test_a_stored_dividend_makes_the_return_a_total_return(tmp_path, with_dividends):
    """By hand: AAA bought at 10.0 (06-03), 10.5 (06-04), 10.2 (06-05), each held a session: 10.5/10 on
    06-04, (10.2 + 0.30)/10.5 = 1 on 06-05 (the ex-date), 10.4/10.2 on 06-06. A store from before
    dividends (no column) reads as paying none: 10.2/10.5 on 06-05, a price return."""
    from technic_assets.backtest import RETURNS, as_json, stored_record

    record = stored_record(hand_store(tmp_path / "store.duckdb", with_dividends=with_dividends), "default", None,
                           None, horizon=1, cost_bps=0.0, draws=0)
    on_ex_date = (10.2 + 0.30) / 10.5 if with_dividends else 10.2 / 10.5
    growth = [10.5 / 10.0, on_ex_date, 10.4 / 10.2]
    top = record.summary["portfolios"]["top_n"]
    assert top["ann_return"] == pytest.approx(np.prod(growth) ** (252 / 3) - 1, rel=1e-9)
    assert json.loads(as_json(record.summary, "file"))["returns"] == RETURNS
    assert RETURNS.startswith("total returns")
