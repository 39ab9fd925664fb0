"""`technic backtest` on stored days: what was stored each evening, bought at the next close."""

import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from technic_assets.cli import main
from technic_assets.storage import History
from technic_assets_tests.conftest import WEEK_FIRST, WEEK_LAST
from technic_assets_tests.graph import ASSETS, resources
from technic_assets_tests.snapshots import query

FIRST, LAST = WEEK_FIRST, WEEK_LAST  # 7 sessions scanned (conftest's scanned_week); bars stored through 06-13


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


def test_a_book_size_gives_the_sessions_to_sell_each_evenings_book(scanned_week, monkeypatch, capsys):
    """Capacity, by hand from the stored bars: each evening's picks, an equal share of the book each, sold
    at 20% of the name's mean dollar volume (close x volume) over the 20 sessions up to the evening; the
    slowest name is the book's exit time, averaged over the evenings and at its worst."""
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(scanned_week))
    assert main(["backtest", "--book-size", "5e7", "--format", "json"]) == 0
    capacity = json.loads(capsys.readouterr().out)["portfolios"]["top_n"]["capacity"]
    picks = query(scanned_week, "SELECT date, symbol FROM technic.ranked_top_n WHERE screen = 'default'")
    bars = query(scanned_week, "SELECT date, symbol, close * volume AS dv FROM technic.price_bars")
    dv = bars.pivot(index="date", columns="symbol", values="dv").sort_index()
    worst = []
    for day, names in picks.groupby("date")["symbol"]:
        window = dv.loc[:day].tail(20)
        worst.append(max(5e7 / len(names) / (0.2 * window[s].mean()) for s in names))
    assert capacity["book_size"] == 5e7
    assert capacity["days_to_exit_mean"] == pytest.approx(np.mean(worst), rel=1e-9)
    assert capacity["days_to_exit_max"] == pytest.approx(max(worst), rel=1e-9)
    assert main(["backtest", "--book-size", "5e7"]) == 0
    assert "capacity of a $50,000,000 top-N book" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["backtest", "--screen", "nope"], "no screen 'nope' stored"),
    (["backtest", "--from", "2025-07-01"], "screen 'default' has no stored day from 2025-07-01"),
    (["backtest", "--horizon", "0"], "--horizon 0: want at least 1 session"),
    (["backtest", "--cost-bps", "-5"], "--cost-bps -5: costs cannot be negative"),
    (["backtest", "--book-size", "0"], "--book-size 0: want a positive number of dollars"),
    (["backtest", "--benchmark", "NOPE"], "NOPE"),
])
def test_bad_backtest_input_is_one_line_naming_it(scanned_week, monkeypatch, argv, message):
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(scanned_week))
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert str(err.value).startswith("error: ") and message in str(err.value) and "\n" not in str(err.value)


def stored_screen(store, table, day=None) -> pd.DataFrame:
    where = "" if day is None else " AND date = ?"
    return query(store, f"SELECT * FROM technic.{table} WHERE coalesce(screen, 'default') = 'default'{where} "
                        "ORDER BY date, symbol", [] if day is None else [day])


def test_rescreening_the_stored_days_with_their_own_settings_gives_back_the_stored_picks(scanned_week):
    """The stored rows are the graph's (the assets' multi-day chain); the re-screen runs core.screen's
    one-day chain on the stored inputs: the same names, ranks and MERIT, every day."""
    from technic_assets.config import ScanSettings
    from technic_assets.core.calendar import sessions
    from technic_assets.rescreen import rescreen
    from technic_assets.storage import History

    done = rescreen(History(str(scanned_week)), sessions(FIRST, LAST), ScanSettings(), alpha_weight=0.0)
    top = stored_screen(scanned_week, "ranked_top_n").sort_values(["date", "rank"]).reset_index(drop=True)
    picks = done.picks.sort_values(["date", "rank"]).reset_index(drop=True)
    assert picks[["date", "symbol", "rank"]].equals(top[["date", "symbol", "rank"]].astype(picks.dtypes.to_dict()))
    merit = stored_screen(scanned_week, "merit")
    got = done.scores.sort_values(["date", "symbol"]).reset_index(drop=True)
    assert list(got["symbol"]) == list(merit["symbol"])
    np.testing.assert_allclose(got["score"], merit["merit_score"], rtol=0, atol=1e-9)


def test_new_settings_rescreen_a_day_as_the_graph_would_have_scanned_it(warm_store, monkeypatch):
    """A looser filter and another style on the warm day (with its alpha models blended in): the
    re-screen from the stored inputs equals the graph run with those settings, including the names only
    the looser filter keeps, which no stored screen had forecast."""
    from technic_assets.config import ScanSettings
    from technic_assets.rescreen import rescreen
    from technic_assets.storage import History
    from technic_assets_tests.conftest import WARM_DAY

    loose = dict(style="swing", top_n=30, min_price=1.0, min_dollar_volume=50_000.0, include_etfs=True)
    day = pd.Timestamp(WARM_DAY)
    before = stored_screen(warm_store, "filtered_universe", day)
    done = rescreen(History(str(warm_store)), pd.DatetimeIndex([day]), ScanSettings(**loose), alpha_weight=0.35)
    monkeypatch.setenv("TECHNIC_ALPHA_WEIGHT", "0.35")
    assert materialize(ASSETS, partition_key=WARM_DAY, resources=resources(200, **loose),
                       instance=DagsterInstance.ephemeral()).success
    after = stored_screen(warm_store, "filtered_universe", day)
    assert len(set(after["symbol"]) - set(before["symbol"])) > 0  # the looser filter keeps more names
    top = stored_screen(warm_store, "ranked_top_n", day).sort_values("rank")
    assert list(done.picks["symbol"]) == list(top["symbol"]) and len(top) == 30
    merit = stored_screen(warm_store, "merit", day)
    got = done.scores.sort_values("symbol").reset_index(drop=True)
    assert list(got["symbol"]) == list(merit["symbol"])
    np.testing.assert_allclose(got["score"], merit["merit_score"], rtol=0, atol=1e-9)


def test_one_off_settings_re_screen_the_stored_days_and_the_stored_settings_give_the_stored_record(
        scanned_week, monkeypatch, capsys):
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(scanned_week))
    monkeypatch.setenv("TECHNIC_ALPHA_WEIGHT", "0")
    assert main(["backtest", "--horizon", "1", "--format", "json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert main(["backtest", "--horizon", "1", "--format", "json", "--top", "25"]) == 0  # the stored screen's N
    same = json.loads(capsys.readouterr().out)
    assert same["screen"] == "adhoc" and same["settings"]["top_n"] == 25
    assert same["portfolios"] == stored["portfolios"] and same["rank_ic"] == stored["rank_ic"]
    assert main(["backtest", "--horizon", "1", "--format", "json", "--style", "swing", "--top", "5",
                 "--set", "min_price=20"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["settings"]["style"] == "swing" and other["settings"]["min_price"] == 20.0
    assert other["portfolios"]["top_n"] != stored["portfolios"]["top_n"]
    for key in ("ann_return", "volatility", "max_drawdown"):  # the same days and engine (its excess is over
        assert other["portfolios"]["benchmark"][key] == stored["portfolios"]["benchmark"][key]  # another universe)
    assert main(["backtest", "--horizon", "1", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("date,top_n,benchmark,momentum_12_1") and lines[1].split(",")[1] == "1"


@pytest.mark.parametrize("argv, message", [
    (["--set", "nope=1"], "--set nope: want FIELD=VALUE with FIELD one of style, top_n"),
    (["--set", "min_price=abc"], "min_price='abc'"),
    (["--style", "daytrade"], "style='daytrade'"),
    (["--top", "0"], "top_n=0"),
])
def test_bad_one_off_settings_are_one_line_naming_the_field(scanned_week, monkeypatch, argv, message):
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(scanned_week))
    with pytest.raises(SystemExit) as err:
        main(["backtest", *argv])
    assert str(err.value).startswith("error: ") and message in str(err.value) and "\n" not in str(err.value)


def test_the_evening_record_is_what_that_evening_could_know(scanned_week, tmp_path, monkeypatch):
    """The track_record asset of the last scanned day: a row per book, with the equity curves and the
    measures as metadata; prices after that day scrambled, it is recomputed the same."""
    path = tmp_path / "store.duckdb"
    shutil.copy(scanned_week, path)
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(path))
    monkeypatch.setenv("TECHNIC_ALPHA_WEIGHT", "0")
    before = query(path, "SELECT * FROM technic.track_record WHERE date = ? ORDER BY book", [LAST])
    assert sorted(before["book"]) == ["benchmark", "momentum_12_1", "random", "top_n", "universe"]
    top = before.set_index("book").loc["top_n"]
    assert top["first_day"] == pd.Timestamp("2025-06-04") and top["days"] == 5  # 06-04 .. 06-10
    assert -1 < top["rank_ic"] < 1 and np.isnan(before.set_index("book").loc["universe", "rank_ic"])
    later = query(path, "SELECT count(*) AS n FROM technic.price_bars WHERE date > ?", [LAST])["n"][0]
    assert later > 0
    with duckdb.connect(str(path)) as conn:
        conn.execute("UPDATE technic.price_bars SET close = close * (1.5 + random()) WHERE date > ?", [LAST])
    result = materialize([a for a in ASSETS if a.key.to_user_string() == "track_record"], partition_key=LAST,
                         resources=resources(200), instance=DagsterInstance.ephemeral())
    assert result.success
    after = query(path, "SELECT * FROM technic.track_record WHERE date = ? ORDER BY book", [LAST])
    pd.testing.assert_frame_equal(after, before)
    meta = result.asset_materializations_for_node("track_record")[0].metadata
    assert meta["status"].value == "recorded" and "data:image/svg+xml;base64," in meta["equity"].value
    lines = meta["equity_lines"].value
    assert len(lines) < 1000 and [row.split("|")[1].strip() for row in lines.splitlines()[2:]] == \
        ["top_n", "universe", "benchmark"]
    assert [r.data["book"] for r in meta["measures"].value.records][0] == "top_n"


def test_the_evening_makes_the_inputs_of_any_settings_ahead_and_a_fresh_process_reads_them(scanned_week, tmp_path,
                                                                                         monkeypatch):
    """The rescreen_inputs asset, the run's last step, keeps beside the store what a re-screen of the
    screen's stored evenings reads and prepares (the span, its Market, its peer groups as neutral groups)
    and the record's Market: a fresh process's first record with new settings then reads neither the
    store's listings nor fits a peer group, and equals one made with nothing kept. Too few evenings
    (fewer than READY_FROM) keep nothing ahead."""
    import technic_assets.assets.record as record_module
    import technic_assets.rescreen as rescreen_module
    from technic_assets.config import ScanSettings
    from technic_assets.storage.kept import forget
    from technic_assets.storage.kept_files import discard
    from technic_assets.track import stored_record

    path = tmp_path / "store.duckdb"
    shutil.copy(scanned_week, path)
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(path))
    history = History(str(path))
    chosen = [a for a in ASSETS if a.key.to_user_string() == "rescreen_inputs"]
    forget()
    result = materialize(chosen, partition_key=LAST, resources=resources(200), instance=DagsterInstance.ephemeral())
    assert result.success and not (tmp_path / "store.duckdb.kept").exists()  # 7 evenings: under READY_FROM
    assert result.asset_materializations_for_node("rescreen_inputs")[0].metadata["status"].value.startswith(
        "not kept ahead: 7 evenings")

    monkeypatch.setattr(record_module, "READY_FROM", 5)
    result = materialize(chosen, partition_key=LAST, resources=resources(200), instance=DagsterInstance.ephemeral())
    meta = result.asset_materializations_for_node("rescreen_inputs")[0].metadata
    assert result.success and meta["status"].value == "kept" and meta["evenings"].value == 7
    built, fitted = [], []
    read, fit = rescreen_module.Span.of, rescreen_module.monthly_peer_groups
    monkeypatch.setattr(rescreen_module.Span, "of", classmethod(lambda cls, *a: built.append(1) or read(*a)))
    monkeypatch.setattr(rescreen_module, "monthly_peer_groups", lambda *a, **k: fitted.append(1) or fit(*a, **k))
    settings = ScanSettings(style="swing", min_price=2.0)  # learned, peer groups: the default's switches
    args = dict(horizon=5, cost_bps=10.0, draws=0, settings=settings, alpha_weight=0.35)
    forget()  # a fresh process
    ahead = stored_record(history, "default", None, None, **args)
    assert (built, fitted) == ([], [])
    forget()
    discard(history)
    fresh = stored_record(history, "default", None, None, **args)
    assert (built, fitted) == ([1], [1])
    pd.testing.assert_frame_equal(ahead.daily, fresh.daily, rtol=0, atol=0)
    assert json.dumps(ahead.summary, sort_keys=True) == json.dumps(fresh.summary, sort_keys=True)


def test_a_range_run_stores_each_evening_the_record_that_evening_alone_computes(scanned_week):
    """scanned_week's one range run stored its days' records from one read and one evaluation
    (stored_records); each equals stored_record's for that evening alone (its evenings and bars up to
    the day), to 1e-9: at the asset's 5 sessions held (06-10 alone has enough evenings) and at 2."""
    from technic_assets.assets.record import rows
    from technic_assets.track import stored_record, stored_records

    stored = query(scanned_week, "SELECT * FROM technic.track_record ORDER BY date, book")
    history = History(str(scanned_week))
    assert sorted(stored["date"].dt.strftime("%Y-%m-%d").unique()) == [LAST]
    days = list(pd.DatetimeIndex(query(scanned_week, "SELECT DISTINCT date FROM technic.ranked_top_n ORDER BY date")["date"]))
    for horizon in (5, 2):
        together = stored_records(history, "default", days, horizon=horizon, cost_bps=10.0)
        recorded = []
        for day in days:
            try:
                alone = stored_record(history, "default", None, f"{day:%Y-%m-%d}", horizon=horizon, cost_bps=10.0,
                                      as_of=day)
            except ValueError as exc:
                assert str(together[day]) == str(exc)
                continue
            want = rows(alone.summary, day, "default").sort_values("book").reset_index(drop=True)
            got = rows(together[day].summary, day, "default").sort_values("book").reset_index(drop=True)
            pd.testing.assert_frame_equal(got, want, rtol=1e-9)
            if horizon == 5:
                pd.testing.assert_frame_equal(stored[stored["date"] == day].reset_index(drop=True), want,
                                              rtol=1e-9, check_dtype=False)
            recorded.append(day)
        # 2 sessions held: every day from the third on has a record, each over one more day than the last
        assert len(recorded) == (1 if horizon == 5 else len(days) - 3)
        assert [together[d].summary["days"] for d in recorded] == sorted({together[d].summary["days"] for d in recorded})


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
    from technic_assets.backtest import RETURNS, as_json
    from technic_assets.track import stored_record

    record = stored_record(hand_store(tmp_path / "store.duckdb", with_dividends=with_dividends), "default", None,
                           None, horizon=1, cost_bps=0.0, draws=0)
    on_ex_date = (10.2 + 0.30) / 10.5 if with_dividends else 10.2 / 10.5
    growth = [10.5 / 10.0, on_ex_date, 10.4 / 10.2]
    top = record.summary["portfolios"]["top_n"]
    assert top["ann_return"] == pytest.approx(np.prod(growth) ** (252 / 3) - 1, rel=1e-9)
    assert json.loads(as_json(record.summary, "file"))["returns"] == RETURNS
    assert RETURNS.startswith("total returns")


def test_the_bars_kept_between_records_are_read_again_once_the_store_changes(tmp_path):
    """The Market of the last read is kept while the file is unchanged (the page asks again and
    again), read-only; a write to the store (AAA's 06-06 close 10.4 -> 11.22) is seen by the next
    record: by hand, AAA's last day grows 11.22 / 10.2 = 1.1 rather than 10.4 / 10.2."""
    from technic_assets.track import stored_record

    history = hand_store(tmp_path / "store.duckdb", with_dividends=True)
    args = dict(horizon=1, cost_bps=0.0, draws=0)
    first = stored_record(history, "default", None, None, **args)
    again = stored_record(history, "default", None, None, **args)
    assert again.daily["top_n"].iloc[-1] == first.daily["top_n"].iloc[-1]
    bars = history.read_dates("price_bars", [pd.Timestamp("2025-06-06")])
    history.replace_dates("price_bars", bars.assign(close=np.where(bars["symbol"] == "AAA", 11.22, bars["close"])),
                          [pd.Timestamp("2025-06-06")])
    moved = stored_record(history, "default", None, None, **args)
    assert moved.daily["top_n"].iloc[-1] / moved.daily["top_n"].iloc[-2] == pytest.approx(11.22 / 10.2, rel=1e-12)
    assert first.daily["top_n"].iloc[-1] / first.daily["top_n"].iloc[-2] == pytest.approx(10.4 / 10.2, rel=1e-12)


def test_the_screen_kept_between_records_is_read_again_once_the_store_changes(tmp_path):
    """The screen's MERIT and what is computed from it are kept beside the bars while the file is
    unchanged: a record at another cost equals one computed with nothing kept. Once MERIT is written
    again without BBB (06-02..06-04), the next record's universe is AAA alone: by hand it grows as
    the top N does, 10.5 / 10.0, (10.2 + 0.30) / 10.5 and 10.4 / 10.2, not as AAA and BBB together."""
    from technic_assets import track
    from technic_assets.storage.kept_files import discard
    from technic_assets.track import stored_record

    history = hand_store(tmp_path / "store.duckdb", with_dividends=True)
    args = dict(horizon=1, draws=0)
    first = stored_record(history, "default", None, None, cost_bps=0.0, **args)
    other = stored_record(history, "default", None, None, cost_bps=25.0, **args)
    track.forget_market()
    discard(history)  # nothing kept in files beside the store either
    fresh = stored_record(history, "default", None, None, cost_bps=25.0, **args)
    assert json.dumps(other.summary, sort_keys=True) == json.dumps(fresh.summary, sort_keys=True)  # NaN as NaN
    pd.testing.assert_frame_equal(other.daily, fresh.daily, rtol=0, atol=0)
    pd.testing.assert_frame_equal(other.signal, fresh.signal, rtol=0, atol=0)
    picked = list(pd.DatetimeIndex(["2025-06-02", "2025-06-03", "2025-06-04"]))
    merit = history.read_dates("merit", picked)
    history.replace_dates("merit", merit[merit["symbol"] == "AAA"], picked)
    moved = stored_record(history, "default", None, None, cost_bps=0.0, **args)
    by_hand = np.cumprod([1.0, 10.5 / 10.0, (10.2 + 0.30) / 10.5, 10.4 / 10.2])
    np.testing.assert_allclose(moved.daily["universe"].to_numpy(), by_hand, rtol=1e-12)
    np.testing.assert_allclose(moved.daily["top_n"].to_numpy(), by_hand, rtol=1e-12)
    assert not np.allclose(first.daily["universe"].to_numpy(), by_hand, rtol=1e-6)


def test_learned_blend_without_enough_history_keeps_the_hand_weights_and_the_switches_change_merit(scanned_week):
    """A week is too little for a learned blend (core.blend.MIN_DAYS training days): every month keeps
    the hand weights, so MERIT equals the hand screen's; the blend's terms and tradable labels are
    returned for every day; without the risk penalties MERIT is never lower (they only subtract)."""
    from technic_assets.config import ScanSettings
    from technic_assets.core.blend import BLEND_TERMS
    from technic_assets.core.calendar import sessions
    from technic_assets.rescreen import rescreen

    history, days = History(str(scanned_week)), sessions(FIRST, LAST)
    hand = rescreen(history, days, ScanSettings(), alpha_weight=0.0)
    learned = rescreen(history, days, ScanSettings(ranking="learned", peer_groups=True), alpha_weight=0.0,
                       keep_terms=True)
    assert all(w is None for w in learned.weights.values())
    both = hand.scores.merge(learned.scores, on=["date", "symbol"], validate="1:1")
    np.testing.assert_allclose(both["score_y"], both["score_x"], rtol=0, atol=1e-9)
    assert set(BLEND_TERMS) <= set(learned.terms.columns) and learned.terms["label"].notna().any()
    free = rescreen(history, days, ScanSettings(risk_penalties=False), alpha_weight=0.0)
    both = hand.scores.merge(free.scores, on=["date", "symbol"], validate="1:1")
    assert (both["score_y"] >= both["score_x"] - 1e-9).all() and (both["score_y"] > both["score_x"] + 1e-6).any()
