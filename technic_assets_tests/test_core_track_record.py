"""The track record (core/track_record.py): a hand-worked market, a second implementation written the
plain way (shares, closes, loops; nothing imported from the module) on a synthetic panel and on the
real file, no look-ahead, and the refusals."""

import bisect
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from technic_assets.core.track_record import market_from_bars, track_record, track_records
from technic_assets_tests.conftest import shared_file

C = 0.001  # 10 bps per side

# ---------------------------------------------------------------------------------------------------
# The hand-worked market: 3 stocks, 6 sessions D1..D6 (closes as traded)
#   A  10  10  11     12.1   10.89  10.89
#   B  20  20  11*    11     12.1   12.705     * 2-for-1 split on D3: growth 2 * 11 / 20 = 1.1
#   C  50  50  50     50.5+  50.5   55.55      + 0.50 dividend ex D4: growth (50.5 + 0.5) / 50 = 1.02
# so the daily growth of each name, day by day:
#         D3    D4    D5    D6
#   A    1.1   1.1   0.9   1.0
#   B    1.1   1.0   1.1   1.05
#   C    1.0   1.02  1.0   1.1
# Scores on D1..D4 (top 2): D1 A>B>C -> {A,B}; D2 A>C>B -> {A,C}; D3 A>C>B -> {A,C}; D4 A>B>C -> {A,B}.
# A pick of day d is bought at the close of d+1: D1's at D2, D2's at D3, D3's at D4, D4's at D5.
# Evaluated days: D3..D6 (first entry D2 + 1 .. last entry D5 + 1).
# ---------------------------------------------------------------------------------------------------
D = pd.bdate_range("2024-01-02", periods=6)
CLOSES = {"A": [10, 10, 11, 12.1, 10.89, 10.89], "B": [20, 20, 11, 11, 12.1, 12.705],
          "C": [50, 50, 50, 50.5, 50.5, 55.55]}
SCORES = {0: {"A": 3, "B": 2, "C": 1}, 1: {"A": 3, "C": 2, "B": 1}, 2: {"A": 3, "C": 2, "B": 1},
          3: {"A": 3, "B": 2, "C": 1}}


def hand_market():
    bars = pd.DataFrame([(D[i], s, c[i], 2.0 if (s, i) == ("B", 2) else 1.0, 1000.0)
                         for s, c in CLOSES.items() for i in range(6)],
                        columns=["date", "symbol", "close", "split_ratio", "volume"])
    dividends = pd.DataFrame({"ex_date": [D[3]], "symbol": ["C"], "amount": [0.5]})
    scores = pd.DataFrame([(D[k], s, v) for k, day in SCORES.items() for s, v in day.items()],
                          columns=["date", "symbol", "score"])
    return bars, dividends, scores, scores[["date", "symbol"]]


def hand_record(horizon, **kw):
    bars, dividends, scores, universe = hand_market()
    return track_record(scores, universe, bars, dividends=dividends, horizon=horizon, cost_bps=10, top_n=2,
                        benchmark="C", min_names=3, draws=0, **kw)


def returns(values):
    values = np.asarray(values, dtype=float)
    return values[1:] / values[:-1] - 1


def test_hand_worked_daily_rebalance_with_costs():
    """H = 1, 10 bps per side, by hand:
    D2 close: buy {A,B} from cash: changed value 1 -> cost 0.001; book 0.999, A .5 B .5
    D3: A, B x1.1 -> book 0.999 * 1.1 = 1.0989; return 1.0989 / 1 - 1 = 0.0989
        close: {A,B} -> {A,C}: |.5-.5| + .5 (B sold) + .5 (C bought) = 1 -> x 0.999
    D4: (1.1 + 1.02) / 2 = 1.06 -> return 0.999 * 1.06 - 1 = 0.05894
        close: {A,C} kept; drifted A .55/1.06, C .51/1.06 -> back to .5/.5 changes 0.04/1.06 -> x (1 - 0.001 * 0.04/1.06)
    D5: (0.9 + 1.0) / 2 = 0.95 -> return (1 - 0.00004/1.06) * 0.95 - 1
        close: {A,C} -> {A,B}: drifted A .45/.95, C .5/.95; A .45/.95 -> .5 changes .05/.95, C sold .5/.95,
        B bought .5: 0.05/.95 + .5/.95 + .5 = 1/0.95 -> x (1 - 0.001/0.95)
    D6: (1.0 + 1.05) / 2 = 1.025 -> return (1 - 0.001/0.95) * 1.025 - 1
    Gross: 0.1, 0.06, -0.05, 0.025. One-sided turnover at the closes D3, D4, D5: 1/2, 0.02/1.06, 0.5/0.95."""
    record = hand_record(1)
    net = [1.1 * (1 - C) - 1, 1.06 * (1 - C) - 1, 0.95 * (1 - C * 0.04 / 1.06) - 1, 1.025 * (1 - C / 0.95) - 1]
    assert returns(record.daily["top_n"]) == pytest.approx(net, abs=1e-12)
    assert returns(record.daily["top_n_gross"]) == pytest.approx([0.1, 0.06, -0.05, 0.025], abs=1e-12)
    top = record.summary["portfolios"]["top_n"]
    assert top["turnover"] == pytest.approx((0.5 + 0.02 / 1.06 + 0.5 / 0.95) / 3, abs=1e-12)
    nav = np.prod([1 + r for r in net])
    assert top["total_return"] == pytest.approx(nav - 1, abs=1e-12)
    assert top["ann_return"] == pytest.approx(nav ** (252 / 4) - 1, rel=1e-12)
    assert top["ann_return_gross"] == pytest.approx((1.1 * 1.06 * 0.95 * 1.025) ** 63 - 1, rel=1e-12)
    assert top["hit_rate"] == 0.75
    # max drawdown: the peak after D4, 1.0989 * 1.06 * 0.999..., then D5's fall: 0.95 * (1 - 0.00004/1.06) - 1
    assert top["max_drawdown"] == pytest.approx(net[2], abs=1e-12)
    # The universe, all three equal weight each day, gross: D3 (1.1+1.1+1.0)/3, D4 (1.1+1.0+1.02)/3 = 1.04,
    # D5 (0.9+1.1+1.0)/3 = 1, D6 (1.0+1.05+1.1)/3 = 1.05; its first day pays the first purchase: x 0.999
    universe = returns(record.daily["universe"])
    assert universe[0] == pytest.approx(3.2 / 3 * (1 - C) - 1, abs=1e-12)
    excess = np.array(net) - universe
    assert top["excess_vs_universe"] == pytest.approx(excess.mean() * 252, abs=1e-12)
    # The benchmark C, bought once at the D2 close (0.999) and held: 1.0, 1.02, 1.0, 1.1
    assert returns(record.daily["benchmark"]) == pytest.approx([1 - C - 1, 0.02, 0.0, 0.1], abs=1e-12)
    assert record.summary["portfolios"]["benchmark"]["turnover"] == 0.0


def test_hand_worked_two_staggered_tranches_with_costs():
    """H = 2: tranches T0, T1 of 0.5 each; both buy D1's {A,B} at the D2 close (each x 0.999 = 0.4995);
    T1 rolls at D3 and D5, T0 at D4.
    D3: both x1.1 = 0.54945 each; NAV 1.0989; return 0.0989
        close: T1 {A,B} -> {A,C}: changed 1 -> T1 = 0.54945 * 0.999 = 0.54890055
    D4: T0 {A,B} since D2: (1.1*1.1 + 1.1*1.0)/2 = 1.155 -> 0.4995 * 1.155 = 0.5769225
        T1 {A,C} since D3: 1.06 -> 0.581834583; NAV 1.158757083
        close: T0 {A,B} -> {A,C}: drifted A 1.21/2.31, B 1.1/2.31: (1.21/2.31 - .5) + 1.1/2.31 + .5 = 1
        -> T0 = 0.5769225 * 0.999 = 0.5763455775
    D5: T0 {A,C} since D4: 0.95 -> 0.547528298625
        T1 {A,C} since D3: A 1.1*0.9 = 0.99, C 1.02*1.0 = 1.02 -> 1.005 -> 0.55164505275; NAV 1.099173351375
        close: T1 {A,C} -> {A,B}: drifted A 0.99/2.01 = 33/67, C 34/67: (.5 - 33/67) + 34/67 + .5 = 68/67
        -> T1 x (1 - 0.001 * 68/67)
    D6: T0 {A,C} since D4: (0.9*1.0 + 1.0*1.1)/2 = 1.0; T1 {A,B} since D5: 1.025."""
    record = hand_record(2)
    t0_d4, t1_d3 = 0.4995 * 1.155, 0.54945 * (1 - C)
    t0_after_d4, t1_d5 = t0_d4 * (1 - C), t1_d3 * 1.005
    nav = [1.0, 1.0989, t0_d4 + t1_d3 * 1.06, t0_after_d4 * 0.95 + t1_d5,
           t0_after_d4 * 1.0 + t1_d5 * (1 - C * 68 / 67) * 1.025]
    assert record.daily["top_n"].tolist() == pytest.approx(nav, abs=1e-12)
    # without costs: T0 0.5 * 1.155 then x .95, x 1.0; T1 0.5 * 1.1 * 1.06 * 1.005 ... as above with no cost factors
    gross = [1.0, 1.1, 0.5 * 1.155 + 0.55 * 1.06, 0.5 * 1.155 * 0.95 + 0.55 * 1.005,
             0.5 * 1.155 + 0.55 * 1.005 * 1.025]
    assert record.daily["top_n_gross"].tolist() == pytest.approx(gross, abs=1e-12)
    # one-sided turnover: D3 T1 0.54945 * 1 / 2 / 1.0989 = 0.25; D4 T0 0.5769225 / 2 / NAV; D5 T1 (68/67) / 2 / NAV
    turnover = [0.25, t0_d4 / 2 / nav[2], t1_d5 * 68 / 67 / 2 / nav[3]]
    assert record.summary["portfolios"]["top_n"]["turnover"] == pytest.approx(np.mean(turnover), abs=1e-12)


def test_hand_worked_signal():
    """Rank IC of the score against the return from the entry close to the next close (H = 1):
    D1 scores A3 B2 C1, returns D2->D3 A .1 B .1 C 0: ranks (3,2,1) vs (2.5,2.5,1): cov 1.5, var 2 and 1.5
       -> 1.5 / sqrt(3) = 0.8660; Pearson: returns are (2.5,2.5,1) linearly -> 0.8660 as well
    D2 A3 C2 B1 vs D3->D4 A .1 C .02 B 0: same order -> 1; Pearson: dx (1,-1,0) for A,B,C,
       dy (.06,-.04,-.02): 0.1 / sqrt(2 * 0.0056) = 0.9449
    D3 A3 C2 B1 vs D4->D5 A -.1 C 0 B .1: -1.   D4 A3 B2 C1 vs D5->D6 A 0 B .05 C .1: -1."""
    record = hand_record(1)
    assert record.signal["rank_ic_1"].tolist() == pytest.approx([math.sqrt(3) / 2, 1, -1, -1], abs=1e-12)
    assert record.signal["ic_1"].tolist() == pytest.approx([math.sqrt(3) / 2, 0.1 / math.sqrt(0.0112), -1, -1],
                                                           abs=1e-12)
    assert record.summary["rank_ic"]["mean"] == pytest.approx((math.sqrt(3) / 2 - 1) / 4, abs=1e-12)
    assert record.summary["ic_decay"]["5"]["days"] == 0  # no 5-session return inside six sessions


def test_hand_worked_capacity():
    """1,000 shares traded every day; a $10,000 book puts $5,000 in each of its two names; sessions to sell
    at 20% of the mean dollar volume of the sessions up to the pick day; the worst name each day:
    D1 {A,B}: A 10,000 a day -> 5000 / (0.2 * 10000) = 2.5 (B, 20,000: 1.25)
    D2 {A,C}: A (10,000 + 10,000) / 2 -> 2.5 (C 50,000: 0.5)
    D3 {A,C}: A (10 + 10 + 11) / 3 thousand -> 5000 / (0.2 * 31000 / 3) = 2.4194
    D4 {A,B}: A (10 + 10 + 11 + 12.1) / 4 thousand -> 5000 / (0.2 * 43100 / 4) = 2.3202 (B 15,500: 1.6129)"""
    record = hand_record(1, book_size=10_000)
    capacity = record.summary["portfolios"]["top_n"]["capacity"]
    assert capacity["days_to_exit_max"] == pytest.approx(2.5, abs=1e-12)
    expected = [2.5, 2.5, 5000 / (0.2 * 31000 / 3), 5000 / (0.2 * 43100 / 4)]
    assert capacity["days_to_exit_mean"] == pytest.approx(np.mean(expected), abs=1e-12)


def test_a_name_without_bars_is_held_at_its_last_close_and_a_pick_without_a_bar_is_not_bought():
    """B has no bar on D4 and D5 (halted, or gone for all anyone knew), then trades at 12.705 on D6.
    Held through the gap (B as the benchmark, bought at the D2 close): D3 x1.1, D4 and D5 flat at its
    last close 11, D6 12.705 / 11 = x1.155. Picked every day with A (H = 1, no costs): D3's and D4's
    cohorts are bought at the D4 and D5 closes, where B has no bar: A alone.
      top N:    D3 (1.1 + 1.1)/2 = 1.1; D4 (1.1 + B flat 1.0)/2 = 1.05; D5 A 0.9; D6 A 1.0
      universe: D3 3.2/3; D4 (1.1 + 1.0 + 1.02)/3 = 1.04; D5 {A,C} (0.9 + 1.0)/2; D6 {A,C} (1.0 + 1.1)/2"""
    bars, dividends, scores, universe = hand_market()
    bars = bars[~((bars["symbol"] == "B") & bars["date"].isin(D[3:5]))]
    picks = pd.DataFrame([(D[k], s) for k in range(4) for s in "AB"], columns=["date", "symbol"])
    record = track_record(scores, universe, bars, dividends=dividends, horizon=1, cost_bps=0, picks=picks,
                          benchmark="B", min_names=3, draws=0, keep_books=True)
    assert returns(record.daily["benchmark"]) == pytest.approx([0.1, 0.0, 0.0, 0.155], abs=1e-12)
    assert returns(record.daily["top_n"]) == pytest.approx([0.1, 0.05, -0.1, 0.0], abs=1e-12)
    assert returns(record.daily["universe"]) == pytest.approx([3.2 / 3 - 1, 0.04, -0.05, 0.05], abs=1e-12)
    top = record.books[record.books["book"] == "top_n"]
    assert top.groupby("date")["symbol"].apply(lambda s: "".join(sorted(s))).tolist() == ["AB", "AB", "A", "A"]


@pytest.mark.parametrize("categorical", [False, True])
def test_a_bar_without_a_symbol_is_no_name_s_bar(categorical):
    """A bar row whose symbol is missing (a damaged file) values no name: the hand market's growth, read
    from the closes above, is unchanged, whether the symbols come as text or coded (as the store reads)."""
    bars, dividends, _, _ = hand_market()
    stray = pd.DataFrame({"date": [D[2]], "symbol": [None], "close": [999.0], "split_ratio": [1.0], "volume": [1.0]})
    damaged = pd.concat([bars, stray], ignore_index=True)
    if categorical:
        damaged["symbol"] = damaged["symbol"].astype("category")
    market = market_from_bars(damaged, dividends)
    assert list(market.symbols) == ["A", "B", "C"]
    daily = market.growth[1:, :3] / market.growth[:-1, :3]
    np.testing.assert_allclose(daily[1:], [[1.1, 1.1, 1.0], [1.1, 1.0, 1.02], [0.9, 1.1, 1.0], [1.0, 1.05, 1.1]],
                               rtol=0, atol=1e-12)


def test_a_screen_that_never_picks_stays_in_cash_and_so_do_its_random_books():
    bars, dividends, scores, universe = hand_market()
    record = track_record(scores, universe, bars, dividends=dividends, horizon=2, cost_bps=10, benchmark="C",
                          picks=pd.DataFrame({"date": pd.to_datetime([]), "symbol": []}), min_names=3, draws=5)
    assert record.daily["top_n"].tolist() == [1.0] * 5 and record.daily["random_mean"].tolist() == [1.0] * 5
    assert record.summary["portfolios"]["top_n"]["turnover"] == 0.0
    assert record.summary["portfolios"]["universe"]["total_return"] != 0.0


@pytest.mark.parametrize("change, message", [
    (dict(start="2030-01-01"), "no stored days"),
    (dict(horizon=5), "horizon 5 is longer than the 4 evaluated sessions"),
    (dict(horizon=0), "horizon must be"),
    (dict(cost_bps=-1), "cost_bps must be 0 or more"),
    (dict(benchmark="SPY"), "benchmark 'SPY' has no bars"),
])
def test_bad_input_is_one_line_naming_it(change, message):
    bars, dividends, scores, universe = hand_market()
    args = dict(horizon=1, cost_bps=10, top_n=2, benchmark="C", min_names=3, draws=0) | change
    with pytest.raises(ValueError, match=message) as error:
        track_record(scores, universe, bars, dividends=dividends, **args)
    assert "\n" not in str(error.value)


def test_a_stored_day_that_is_no_session_is_refused():
    bars, dividends, scores, universe = hand_market()
    scores = pd.concat([scores, pd.DataFrame({"date": [pd.Timestamp("2024-01-06")], "symbol": ["A"], "score": [1]})])
    with pytest.raises(ValueError, match="stored day 2024-01-06 is not a session"):
        track_record(scores, universe, bars, horizon=1, cost_bps=0, benchmark="C", draws=0)


# ---------------------------------------------------------------------------------------------------
# The same record written the plain way: shares and closes as traded, one session at a time, loops and
# dictionaries, scipy for the correlations. Nothing here comes from the module but its output.
# ---------------------------------------------------------------------------------------------------
YEAR = 252


def plain_bars(bars, dividends):
    """{symbol: {date: [close, split ratio, dividend, volume]}}; a dividend goes on the symbol's first bar
    on or after its ex-date."""
    out = {}
    for row in bars.itertuples(index=False):
        if row.close > 0:
            out.setdefault(row.symbol, {})[pd.Timestamp(row.date)] = [row.close, row.split_ratio, 0.0, row.volume]
    dates = {symbol: sorted(rows) for symbol, rows in out.items()}
    for row in dividends.itertuples(index=False):
        later = dates.get(row.symbol, [])
        at = bisect.bisect_left(later, pd.Timestamp(row.ex_date))
        if at < len(later):
            out[row.symbol][later[at]][2] += row.amount
    return out


def plain_total_return(rows, sessions):
    """One symbol's value of 1 share-equivalent per session: 1 at its first bar, then times split ratio *
    (close + dividend) / previous close at each bar, unchanged on a day without one; None before."""
    series, value, previous = [], None, None
    for day in sessions:
        if day in rows:
            close, ratio, dividend, _ = rows[day]
            value = 1.0 if previous is None else value * ratio * (close + dividend) / previous
            previous = close
        series.append(value)
    return series


def plain_book(sessions, px, cohorts, first, end, horizon, cost):
    """Values before each close's trades from `first` to `end`, and the one-sided value traded over it.
    H tranches of shares and cash; every tranche buys the first cohort, then tranche (i - first) % H
    swaps its book for the cohort of session i (if there is one) at that close."""
    tranches = [{"cash": 1.0 / horizon, "shares": {}} for _ in range(horizon)]
    last_close, nav, turnover = {}, [], []
    for i in range(first, end + 1):
        day = sessions[i]
        for tranche in tranches:
            for symbol in tranche["shares"]:
                if day in px[symbol]:
                    close, ratio, dividend, _ = px[symbol][day]
                    tranche["shares"][symbol] *= ratio * (close + dividend) / close  # split, then reinvest
                    last_close[symbol] = close
        values = [t["cash"] + sum(n * last_close[s] for s, n in t["shares"].items()) for t in tranches]
        nav.append(sum(values))
        traded = 0.0
        cohort = cohorts.get(i, [])
        if cohort and i < end:
            for j in (range(horizon) if i == first else [(i - first) % horizon]):
                value = values[j]
                old = {s: n * last_close[s] / value for s, n in tranches[j]["shares"].items()}
                new = {s: 1.0 / len(cohort) for s in cohort}
                changed = sum(abs(new.get(s, 0.0) - old.get(s, 0.0)) for s in set(old) | set(new))
                value -= cost * value * changed
                for s in cohort:
                    last_close[s] = px[s][day][0]
                tranches[j] = {"cash": 0.0, "shares": {s: value / len(cohort) / last_close[s] for s in cohort}}
                if i != first:
                    traded += values[j] * changed / 2
        turnover.append(traded / nav[-1])
    return nav, turnover


def plain_newey_west_t(x, lags):
    x = [v for v in x if math.isfinite(v)]
    n = len(x)
    if n < 2:
        return math.nan
    m = sum(x) / n
    d = [v - m for v in x]
    var = sum(v * v for v in d) / n
    for lag in range(1, min(lags, n - 1) + 1):
        var += 2 * (1 - lag / (lags + 1)) * sum(d[t] * d[t - lag] for t in range(lag, n)) / n
    return m / math.sqrt(var / n) if var > 0 else math.nan


def plain_measures(nav, gross, universe, turnover, horizon):
    r = [nav[i] / nav[i - 1] - 1 for i in range(1, len(nav))]
    u = [universe[i] / universe[i - 1] - 1 for i in range(1, len(universe))]
    x = [a - b for a, b in zip(r, u)]
    sd, xsd = statistics.stdev(r), statistics.stdev(x)
    peak, drawdown = nav[0], 0.0
    for v in nav:
        peak = max(peak, v)
        drawdown = min(drawdown, v / peak - 1)
    return {"days": len(r), "ann_return": nav[-1] ** (YEAR / len(r)) - 1,
            "ann_return_gross": gross[-1] ** (YEAR / len(r)) - 1, "total_return": nav[-1] - 1,
            "volatility": sd * math.sqrt(YEAR), "sharpe": statistics.mean(r) / sd * math.sqrt(YEAR) if sd else math.nan,
            "excess_vs_universe": statistics.mean(x) * YEAR,
            "information_ratio": statistics.mean(x) / xsd * math.sqrt(YEAR) if xsd else math.nan,
            "excess_t_nw": plain_newey_west_t(x, horizon - 1), "max_drawdown": drawdown,
            "turnover": statistics.mean(turnover[1:-1]), "hit_rate": sum(round(v, 12) > 0 for v in r) / len(r)}


def plain_record(bars, dividends, scores, universe, *, horizon, cost_bps, top_n, benchmark, min_names,
                 random_from=None):
    sessions = sorted({pd.Timestamp(d) for d in bars["date"]})
    index = {d: i for i, d in enumerate(sessions)}
    last = len(sessions) - 1
    px = plain_bars(bars, dividends)
    tr = {s: plain_total_return(rows, sessions) for s, rows in px.items()}
    score = {(pd.Timestamp(r.date), r.symbol): r.score for r in scores.itertuples(index=False)}
    passed = {}
    for r in universe.itertuples(index=False):
        passed.setdefault(pd.Timestamp(r.date), set()).add(r.symbol)
    days = [d for d in sorted({pd.Timestamp(d) for d in scores["date"]}) if index[d] + 2 <= last]

    def trades(s, i):
        return sessions[i] in px.get(s, {})

    cohorts = {"top_n": {}, "universe": {}, "benchmark": {}, "momentum_12_1": {}}
    signal, fifths = [], []
    for d in days:
        i = index[d]
        e = i + 1
        scored = sorted((s for s in passed.get(d, ()) if (d, s) in score), key=lambda s: (-score[d, s], s))
        top = [s for s in scored[:top_n] if trades(s, e)]
        members = sorted(s for s in passed.get(d, ()) if trades(s, e))
        momentum = []
        if i >= 252:
            ranked = sorted(((tr[s][i - 21] / tr[s][i - 252] - 1, s) for s in members if tr[s][i - 252] is not None),
                            key=lambda m: (-m[0], m[1]))
            momentum = [s for _, s in ranked[:len(top)]]
        cohorts["top_n"][e], cohorts["universe"][e], cohorts["momentum_12_1"][e] = top, members, momentum
        cohorts["benchmark"][e] = [benchmark] if trades(benchmark, e) else []
        names = [s for s in scored if trades(s, e)]
        row = {"date": d, "names": len(names)}
        for h in sorted({1, 5, 10, 21, horizon}):
            x = [score[d, s] for s in names]
            y = [tr[s][e + h] / tr[s][e] - 1 for s in names] if e + h <= last else []
            ok = len(y) >= max(min_names, 2) and len(set(x)) > 1 and len(set(y)) > 1
            row[f"ic_{h}"] = stats.pearsonr(x, y)[0] if ok else math.nan
            row[f"rank_ic_{h}"] = stats.spearmanr(x, [round(v, 12) for v in y])[0] if ok else math.nan
            if h == horizon and y and len(names) >= max(5, min_names):
                groups = [[] for _ in range(5)]
                for rank, ret in enumerate(y, start=1):  # names are in score order, best first
                    groups[math.ceil(5 * rank / len(names)) - 1].append(ret)
                fifths.append([statistics.mean(g) for g in groups][::-1])
        signal.append(row)

    first, end = index[days[0]] + 1, index[days[-1]] + 2
    cost = cost_bps / 1e4
    nav = {name: (plain_book(sessions, px, c, first, end, horizon, cost), plain_book(sessions, px, c, first, end,
                                                                                  horizon, 0.0)[0])
           for name, c in cohorts.items()}
    universe_nav = nav["universe"][0][0]
    out = {name: plain_measures(net, gross, universe_nav, turnover, horizon)
           for name, ((net, turnover), gross) in nav.items()}
    if random_from is not None:
        each = []
        for draw in random_cohorts(random_from, cohorts, sessions).values():
            (net, turnover), (gross, _) = (plain_book(sessions, px, draw, first, end, horizon, cost),
                                           plain_book(sessions, px, draw, first, end, horizon, 0.0))
            each.append(plain_measures(net, gross, universe_nav, turnover, horizon))
        out["random"] = {k: statistics.mean(m[k] for m in each) for k in each[0]}
        out["random"]["top_n_percentile"] = statistics.mean(
            (m["ann_return"] < out["top_n"]["ann_return"]) + 0.5 * (m["ann_return"] == out["top_n"]["ann_return"])
            for m in each)
    signal = pd.DataFrame(signal)
    q = [statistics.mean(f[k] for f in fifths) for k in range(5)]
    return {"portfolios": out, "signal": signal, "quintiles": q, "cohorts": cohorts, "sessions": sessions,
            "navs": {name: v[0][0] for name, v in nav.items()}, "first": first, "end": end}


def compare(record, plain, bars, horizon):
    """The module's record equals the plain one to 1e-9: daily values, every measure, the signal."""
    for name in ("top_n", "universe", "benchmark", "momentum_12_1"):
        assert record.daily[name].to_numpy() == pytest.approx(plain["navs"][name], rel=1e-9, abs=1e-9), name
        mine = record.summary["portfolios"][name]
        for key, value in plain["portfolios"][name].items():
            assert mine[key] == pytest.approx(value, rel=1e-9, abs=1e-9, nan_ok=True), (name, key)
    if "random" in plain["portfolios"]:
        mine = record.summary["portfolios"]["random"]
        for key, value in plain["portfolios"]["random"].items():
            assert mine[key] == pytest.approx(value, rel=1e-9, abs=1e-9, nan_ok=True), ("random", key)
    signal = plain["signal"]
    for column in signal.columns.drop("date"):
        assert record.signal[column].to_numpy(float) == pytest.approx(signal[column].to_numpy(float), rel=1e-9,
                                                                      abs=1e-9, nan_ok=True), column
    rank_ic = signal[f"rank_ic_{horizon}"].dropna().to_list()
    assert record.summary["rank_ic"]["mean"] == pytest.approx(statistics.mean(rank_ic), rel=1e-9, abs=1e-12)
    assert record.summary["rank_ic"]["t_nw"] == pytest.approx(plain_newey_west_t(rank_ic, horizon - 1), rel=1e-9)
    assert record.summary["quintiles"]["mean_return"] == pytest.approx(plain["quintiles"], rel=1e-9, abs=1e-12)
    for h in (1, 5, 10, 21):
        values = signal[f"rank_ic_{h}"].dropna().to_list()
        assert record.summary["ic_decay"][str(h)]["rank_ic"] == pytest.approx(
            statistics.mean(values) if values else math.nan, rel=1e-9, abs=1e-12, nan_ok=True)


def random_cohorts(record, cohorts, sessions):
    """The random books the module drew, as {draw: {entry session: symbols}}, after checking each is
    as many distinct names of that day's universe as the top N holds."""
    books = record.books[record.books["book"].str.startswith("random_")]
    index = {d: i for i, d in enumerate(sessions)}
    out = {}
    for (book, day), names in books.groupby(["book", "date"])["symbol"]:
        e = index[day] + 1
        assert len(set(names)) == len(names) == len(cohorts["top_n"][e])
        assert set(names) <= set(cohorts["universe"][e])
        out.setdefault(book, {})[e] = sorted(names)
    return out


def synthetic(symbols=80, sessions=320, seed=3):
    """A market with what real ones have: late listings, names that stop trading, gaps, splits both ways,
    dividends, and scores with ties (rounded)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=sessions)
    rows, dividends = [], []
    for k in range(symbols + 1):
        symbol = "SPY" if k == symbols else f"S{k:03d}"
        begin = int(rng.integers(0, 60)) if rng.random() < 0.2 and symbol != "SPY" else 0
        stop = int(rng.integers(220, sessions)) if rng.random() < 0.1 and symbol != "SPY" else sessions
        price, drift = rng.uniform(5, 200), rng.normal(0, 0.001)
        for i in range(begin, stop):
            price *= math.exp(drift + rng.normal(0, 0.02))
            ratio = 1.0
            if rng.random() < 0.004:
                ratio = float(rng.choice([2.0, 3.0, 0.5]))
                price /= ratio
            if rng.random() < 0.02 and i > begin and symbol != "SPY":
                continue  # no bar today
            if rng.random() < 0.01:
                dividends.append((dates[i], symbol, round(price * 0.005, 2)))
            rows.append((dates[i], symbol, round(price, 2), ratio, float(rng.integers(1_000, 100_000))))
    bars = pd.DataFrame(rows, columns=["date", "symbol", "close", "split_ratio", "volume"])
    dividends = pd.DataFrame(dividends, columns=["ex_date", "symbol", "amount"])
    stocks = bars[(bars["symbol"] != "SPY") & (bars["date"] >= dates[200])]
    scores = stocks[["date", "symbol"]].assign(score=np.round(rng.normal(size=len(stocks)), 1))
    universe = scores.loc[rng.random(len(scores)) < 0.85, ["date", "symbol"]]
    return bars, dividends, scores, universe


@pytest.mark.parametrize("horizon", [1, 5])
def test_the_record_equals_a_plain_computation_on_a_synthetic_market(horizon):
    bars, dividends, scores, universe = synthetic()
    args = dict(horizon=horizon, cost_bps=10, top_n=8, benchmark="SPY", min_names=10)
    record = track_record(scores, universe, bars, dividends=dividends, draws=12, seed=5, keep_books=True, **args)
    plain = plain_record(bars, dividends, scores, universe, **args, random_from=record)
    assert len(plain["cohorts"]["momentum_12_1"]) and any(plain["cohorts"]["momentum_12_1"].values())
    compare(record, plain, bars, horizon)
    # the cost sweep: the same book at 25 bps
    at_25 = plain_record(bars, dividends, scores, universe, **(args | dict(cost_bps=25)))["portfolios"]
    assert record.summary["cost_sweep"]["25"]["top_n"] == pytest.approx(at_25["top_n"]["ann_return"], rel=1e-9)
    assert record.summary["cost_sweep"]["25"]["excess_vs_universe"] == pytest.approx(
        at_25["top_n"]["excess_vs_universe"], rel=1e-9)


def real_slice():
    """About 320 symbols of the real file (every 12th, with AAPL's 4-for-1 of 2020-08-31, SPY, and names with
    gaps in their bars), 2019-02-01 .. 2020-10-30; the splits and dividends as the file has them. The
    "screen": the 20-session total return, over names at 5 dollars or more with 21 sessions of history,
    on the 150 sessions from 2020-03-02 (momentum has its 252 sessions before them)."""
    path = shared_file("market", "us_equities_daily_2017_2020.parquet")
    symbols = sorted(pd.read_parquet(path, columns=["symbol"])["symbol"].unique())
    chosen = set(symbols[::12]) | {"AAPL", "SPY", "DNB", "CCZ", "FLUX", "FREEW", "ACHV", "AEMD"}
    raw = pd.read_parquet(path, columns=["symbol", "date", "close", "volume", "dividend_amount", "split_coefficient"],
                          filters=[("symbol", "in", sorted(chosen))])
    raw["date"] = pd.to_datetime(raw["date"])
    raw = raw[(raw["date"] >= "2019-02-01") & (raw["date"] <= "2020-10-30")]
    bars = raw.rename(columns={"split_coefficient": "split_ratio"})[["date", "symbol", "close", "split_ratio", "volume"]]
    paid = raw[raw["dividend_amount"] > 0]
    dividends = pd.DataFrame({"ex_date": paid["date"], "symbol": paid["symbol"], "amount": paid["dividend_amount"]})
    wide = bars.pivot(index="date", columns="symbol", values="close")
    growth = (wide.ffill() * bars.pivot(index="date", columns="symbol", values="split_ratio").fillna(1.0)
              .iloc[::-1].cumprod().iloc[::-1].shift(-1).fillna(1.0))  # closes adjusted for later splits
    days = wide.index[wide.index >= "2020-03-02"][:150]
    momentum_20 = growth / growth.shift(20) - 1
    ok = (wide >= 5) & growth.shift(20).notna()
    scores = momentum_20.where(ok).loc[days].stack().rename("score").reset_index()
    return bars, dividends, scores, scores[["date", "symbol"]]


def test_the_record_equals_a_plain_computation_on_the_real_file():
    bars, dividends, scores, universe = real_slice()
    assert scores["symbol"].nunique() > 200 and scores["date"].nunique() == 150
    args = dict(horizon=5, cost_bps=10, top_n=20, benchmark="SPY", min_names=10)
    record = track_record(scores, universe, bars, dividends=dividends, draws=10, seed=1, keep_books=True, **args)
    plain = plain_record(bars, dividends, scores, universe, **args, random_from=record)
    assert all(plain["cohorts"]["momentum_12_1"].values())
    compare(record, plain, bars, 5)
    aapl = record.books[(record.books["symbol"] == "AAPL")]
    assert len(aapl) and record.summary["days"] == 150


def test_prices_scrambled_after_an_entry_window_leave_the_days_before_unchanged():
    """After each cut, every later close, split, dividend, score and universe row is scrambled and some
    bars vanish: the daily values of every book up to the cut, and each day's IC whose forward window
    ends by the cut, stay as they were (to float summation order, 1e-12)."""
    bars, dividends, scores, universe = synthetic(seed=11)
    args = dict(horizon=5, cost_bps=10, top_n=8, benchmark="SPY", min_names=10, draws=8, seed=2)
    record = track_record(scores, universe, bars, dividends=dividends, **args)
    sessions = sorted(bars["date"].unique())
    rng = np.random.default_rng(0)
    for cut in sessions[203::14]:
        later = (bars["date"] > cut).to_numpy()
        scrambled = bars.assign(close=np.where(later, bars["close"] * rng.uniform(0.5, 1.5, len(bars)), bars["close"]),
                                split_ratio=np.where(later & (rng.random(len(bars)) < 0.05), 2.0, bars["split_ratio"]))
        scrambled = scrambled[~(later & (rng.random(len(bars)) < 0.1) & (bars["symbol"] != "SPY").to_numpy())]
        moved = scores.assign(score=np.where(scores["date"] > cut, rng.permutation(scores["score"].to_numpy()),
                                             scores["score"]))
        kept = universe[(universe["date"] <= cut) | (rng.random(len(universe)) < 0.7)]
        paid = pd.concat([dividends, pd.DataFrame({"ex_date": [s for s in sessions if s > cut][:20],
                                                   "symbol": "S001", "amount": 1.0})])
        again = track_record(moved, kept, scrambled, dividends=paid, **args)
        before = record.daily.index <= cut
        assert before.sum() > 1
        for column in record.daily.columns:
            assert again.daily[column][before].to_numpy() == pytest.approx(
                record.daily[column][before].to_numpy(), rel=1e-12, abs=1e-12), (cut, column)
        entry = np.array([sessions.index(d) + 1 for d in record.signal["date"]])
        for h in (1, 5, 10, 21):
            known = entry + h <= sessions.index(cut)
            for column in (f"ic_{h}", f"rank_ic_{h}"):
                assert again.signal[column][known].to_numpy() == pytest.approx(
                    record.signal[column][known].to_numpy(), rel=1e-12, abs=1e-12, nan_ok=True), (cut, column)
        assert not np.allclose(again.daily["top_n"].to_numpy()[-5:], record.daily["top_n"].to_numpy()[-5:])


def same(a, b, where=""):
    """Two summaries equal: text exactly, numbers to 1e-9 (NaN where NaN)."""
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), where
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12), (where, a, b)
    else:
        assert a == b, where


@pytest.mark.parametrize("given_picks", [False, True])
def test_each_cut_of_one_evaluation_is_the_record_computed_from_the_data_up_to_it(given_picks):
    """track_records (one evaluation of the whole span, each day's measures over its prefix) against
    track_record run apart on only the evenings and the bars up to each day: the same record."""
    bars, dividends, scores, universe = synthetic(seed=4)
    picks = (scores.sort_values(["date", "score", "symbol"], ascending=[True, False, True]).groupby("date").head(8)
             if given_picks else None)
    args = dict(horizon=5, cost_bps=10, benchmark="SPY", min_names=10, draws=6, seed=3, keep_books=True)
    sessions = sorted(bars["date"].unique())
    market = market_from_bars(bars, dividends)
    # evenings and bars to the same day; an evening's bars stopping early; too few evenings yet
    cuts = [(d, d) for d in sessions[204::9]] + [(sessions[250], sessions[262]), (sessions[203], sessions[203])]
    records = track_records(scores, universe, market=market, cuts=cuts, picks=picks, **args)
    for (evening, bar_day), record in zip(cuts, records):
        known = bars[bars["date"] <= bar_day]
        kept = lambda f: None if f is None else f[f["date"] <= evening]  # noqa: E731
        try:
            apart = track_record(kept(scores), kept(universe), known, dividends=dividends[dividends["ex_date"] <= bar_day],
                                 picks=kept(picks), **args)
        except ValueError as exc:
            assert isinstance(record, ValueError) and str(record) == str(exc), evening
            continue
        assert not isinstance(record, ValueError), (evening, record)
        same(record.summary, apart.summary)
        pd.testing.assert_frame_equal(record.daily, apart.daily, rtol=1e-12)
        pd.testing.assert_frame_equal(record.signal, apart.signal, rtol=1e-12)
        pd.testing.assert_frame_equal(record.books, apart.books)
    # scores begin at session 200: by 203 and 204 fewer evenings have entered than the 5 sessions held
    failed = [cut[0] for cut, r in zip(cuts, records) if isinstance(r, ValueError)]
    assert failed == [sessions[204], sessions[203]]


def test_records_that_share_a_memo_equal_records_computed_apart_and_the_plain_computation():
    """A memo kept with the same scores and market (technic_assets.track keeps one while the store is
    unchanged) gives other costs and horizons their records from the kept panel and signal rows: each
    equal to the record computed without it, exactly, and the second horizon's to the plain loops too.
    The memo is really used: a record at another cost sorts no forward return again, nor values the
    universe's book again."""
    bars, dividends, scores, universe = synthetic(seed=6)
    market = market_from_bars(bars, dividends)
    base = dict(top_n=8, benchmark="SPY", min_names=10, draws=12, seed=5, keep_books=True)
    memo = {}
    for horizon, cost_bps in ((5, 10), (5, 25), (1, 0), (5, 10)):
        kept = {key: dict(value) if isinstance(value, dict) else value for key, value in memo.items()}
        shared = track_record(scores, universe, market=market, horizon=horizon, cost_bps=cost_bps, memo=memo, **base)
        apart = track_record(scores, universe, bars, dividends=dividends, horizon=horizon, cost_bps=cost_bps, **base)
        same(shared.summary, apart.summary)
        pd.testing.assert_frame_equal(shared.daily, apart.daily, rtol=0, atol=0)
        pd.testing.assert_frame_equal(shared.signal, apart.signal, rtol=0, atol=0)
        pd.testing.assert_frame_equal(shared.books, apart.books)
        signal = next(value for key, value in memo.items() if key[0] == "signal")
        before = next((value for key, value in kept.items() if key[0] == "signal"), {})
        if before and horizon == 5:  # every row this horizon needs was kept: none computed again
            assert set(signal) == set(before) and all(signal[key] is before[key] for key in before)
            # 10 and 25 bps are both in the cost sweep: the same costs, the universe's book kept
            books = [key for key in kept if key[0] == "universe" and key[2] == 5]
            assert len(books) == 1 and memo[books[0]] is kept[books[0]]
    assert {key[:2] for key in signal} == {("ic", 1), ("ic", 5), ("ic", 10), ("ic", 21), ("quintiles", 5),
                                           ("quintiles", 1)}
    args = dict(horizon=1, cost_bps=0, top_n=8, benchmark="SPY", min_names=10)
    again = track_record(scores, universe, market=market, draws=12, seed=5, keep_books=True, memo=memo, **args)
    compare(again, plain_record(bars, dividends, scores, universe, **args, random_from=again), bars, 1)
