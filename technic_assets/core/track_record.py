"""The track record of a screen: what its stored picks would have earned, point in time and after
costs, beside the baselines a sceptic asks for, and how well its scores ranked the returns that followed.

The chain, one step per function:
  1. market_from_bars: sessions x symbols total-return index from bars as traded (a split_ratio r on
     day t multiplies the shares by r from t on, as core/adjust.py reads it) and cash dividends (an
     amount per share as traded on the ex-date, reinvested at that close): the day's growth is
     r * (close + dividend) / previous close. A day without a bar grows by 1: a name that stops
     trading (delisted, halted) is held at its last close, like cash, until its tranche sells it at
     that price; nothing after a day is looked at to value it.
  2. The entries: a day d with stored scores is bought at the close of the next session d+1, as the
     scan runs after d's close; its first return is d+1 -> d+2. Only names with a bar on d+1 can be
     bought (the others are dropped, not replaced). Days whose d+1 is the last session of the bars
     have no return yet: pending, left out. Evaluated days: first entry + 1 .. last entry + 1.
  3. The books, each a cohort per entry: top_n (the N highest scores of d, ties to the first symbol,
     or the given picks), universe (every name that passed the filter on d), benchmark (one symbol,
     bought once and held), momentum_12_1 (the N of d's universe with the highest total return from
     d-252 to d-21 sessions, needing a bar by d-252: nothing after d), random (N names of d's universe,
     `draws` books, drawn from a generator seeded by (seed, d), so a day's draw never depends on
     another day). N is the top_n cohort's size that day.
  4. core/track_engine.book_values: the daily values of each book in H staggered tranches, with and
     without costs, through the same engine and on the same days for every book.
  5. core/track_measures: the book measures (against the universe) and the signal (IC, rank IC,
     quintiles of the tradable next-H return over every scored name that passed the filter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from technic_assets.core.signal_quality import MIN_NAMES
from technic_assets.core.track_engine import book_values
from technic_assets.core.track_measures import (TIE_DECIMALS, book_measures, centered, ic_summary, quintile_returns,
                                                row_correlations, row_ranks)

IC_HORIZONS = (1, 5, 10, 21)
COST_SWEEP_BPS = (0.0, 5.0, 10.0, 25.0)
MOMENTUM_LOOKBACK, MOMENTUM_SKIP = 252, 21
CAPACITY_PARTICIPATION, CAPACITY_WINDOW = 0.2, 20
BOOKS = ("top_n", "benchmark", "momentum_12_1")


@dataclass(frozen=True)
class Market:
    sessions: pd.DatetimeIndex
    symbols: pd.Index          # sorted; column len(symbols) of growth is cash
    growth: np.ndarray         # sessions x (symbols + 1): total-return index, 0 before a symbol's first bar
    traded: np.ndarray         # sessions x symbols: a bar that session
    dollar_volume: np.ndarray  # close x volume as traded (NaN without a bar or a volume column)


@dataclass(frozen=True)
class TrackRecord:
    summary: dict          # the JSON: measures of the signal and of every book
    daily: pd.DataFrame    # per evaluated session (and the close before): each book's value, net and gross
    signal: pd.DataFrame   # per scored day: names, ic and rank_ic at each horizon
    books: pd.DataFrame | None = None  # with keep_books: every book's cohorts (book, date picked, symbol)


def market_from_bars(bars: pd.DataFrame, dividends: pd.DataFrame | None = None) -> Market:
    """The Market of bars (date, symbol, close, split_ratio[, volume]) and dividends (ex_date, symbol,
    amount; paid on the symbol's first bar on or after the ex-date)."""
    bars = bars[bars["close"].to_numpy(float) > 0]
    dates = pd.DatetimeIndex(bars["date"]).to_numpy("datetime64[ns]")
    sessions = pd.DatetimeIndex(np.unique(dates))
    t = np.searchsorted(sessions.to_numpy(), dates)
    s, symbols = pd.factorize(bars["symbol"], sort=True)
    shape = (len(sessions), len(symbols))
    close = np.full(shape, np.nan)
    close[t, s] = bars["close"].to_numpy(float)
    ratio = np.ones(shape)
    ratio[t, s] = bars["split_ratio"].fillna(1.0).to_numpy(float) if "split_ratio" in bars else 1.0
    dollar_volume = np.full(shape, np.nan)
    if "volume" in bars:
        dollar_volume[t, s] = close[t, s] * bars["volume"].to_numpy(float)
    traded = np.isfinite(close)
    rows = np.arange(shape[0])[:, None]
    cash = np.zeros(shape)
    if dividends is not None and len(dividends):
        code = pd.Index(symbols).get_indexer(dividends["symbol"])
        start = np.searchsorted(sessions.to_numpy(), pd.DatetimeIndex(dividends["ex_date"]).to_numpy("datetime64[ns]"))
        next_bar = np.minimum.accumulate(np.where(traded, rows, shape[0])[::-1], axis=0)[::-1]
        ok = (code >= 0) & (start < shape[0])
        paid = next_bar[start[ok], code[ok]]
        ok_paid = paid < shape[0]
        np.add.at(cash, (paid[ok_paid], code[ok][ok_paid]), dividends["amount"].to_numpy(float)[ok][ok_paid])
    last_bar = np.maximum.accumulate(np.where(traded, rows, -1), axis=0)
    previous = np.full(shape, np.nan)
    previous[1:] = np.take_along_axis(close, np.maximum(last_bar[:-1], 0), axis=0)
    previous[1:][last_bar[:-1] < 0] = np.nan
    with np.errstate(invalid="ignore"):
        growth_day = np.where(traded & np.isfinite(previous), ratio * (close + cash) / previous, 1.0)
    growth = np.ones((shape[0], shape[1] + 1))
    growth[:, :-1] = np.cumprod(growth_day, axis=0) * (last_bar >= 0)
    return Market(sessions, pd.Index(symbols), growth, traded, dollar_volume)


def _top(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per row, True on the counts[row] highest finite values (ties: the lower column first). A
    partition finds each row's m-th highest (m the largest count); only the names at or above it are
    sorted."""
    out = np.zeros(values.shape, dtype=bool)
    m = min(int(counts.max(initial=0)), values.shape[1])
    if m == 0:
        return out
    finite = np.isfinite(values)
    filled = np.where(finite, values, -np.inf)
    threshold = -np.partition(-filled, m - 1, axis=1)[:, m - 1]
    row, col = np.nonzero(finite & (filled >= threshold[:, None]))
    order = np.lexsort((col, -filled[row, col], row))
    row, col = row[order], col[order]
    keep = np.arange(len(row)) - np.searchsorted(row, row) < counts[row]
    out[row[keep], col[keep]] = True
    return out


def _random_books(day_names: np.ndarray, counts: np.ndarray, dates: pd.DatetimeIndex, draws: int,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(draw, day, symbol column) sorted by all three: each draw takes counts[day] of the day's names
    uniformly (indices drawn, duplicates redrawn until there are none: every subset is as likely)."""
    chosen = np.full((draws, len(dates), max(int(counts.max(initial=0)), 1)), -1)
    for k in range(len(dates)):
        names = np.flatnonzero(day_names[k])
        want = min(int(counts[k]), len(names))
        if want == len(names):
            chosen[:, k, :want] = names
            continue
        rng = np.random.default_rng([seed, dates[k].toordinal()])
        pick = np.sort(rng.integers(0, len(names), size=(draws, want)), axis=1)
        while (dup := pick[:, 1:] == pick[:, :-1]).any():
            pick[:, 1:][dup] = rng.integers(0, len(names), size=int(dup.sum()))
            pick = np.sort(pick, axis=1)
        chosen[:, k, :want] = names[pick]
    draw, day, _ = np.nonzero(chosen >= 0)
    return draw, day, chosen[chosen >= 0]


def _cohorts(masks: np.ndarray, entry: np.ndarray):
    """(book, entry position, symbol column) of books x days x symbols masks, sorted by all three."""
    book, day, code = np.nonzero(masks)
    return book, entry[day], code


def _validate(horizon, cost_bps, draws, benchmark, market: Market) -> None:
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a whole number of sessions, 1 or more: got {horizon!r}")
    if not np.isfinite(cost_bps) or cost_bps < 0:
        raise ValueError(f"cost_bps must be 0 or more: got {cost_bps!r}")
    if draws < 0:
        raise ValueError(f"draws must be 0 or more: got {draws!r}")
    if benchmark not in market.symbols:
        raise ValueError(f"benchmark {benchmark!r} has no bars")


def _day_matrix(frame: pd.DataFrame, days: pd.DatetimeIndex, market: Market, column: str | None = None) -> np.ndarray:
    """days x symbols: True (or the column's value, NaN elsewhere) on the frame's (date, symbol) rows."""
    k = days.get_indexer(pd.DatetimeIndex(frame["date"]))
    s = market.symbols.get_indexer(frame["symbol"])
    ok = (k >= 0) & (s >= 0)
    if column is None:
        out = np.zeros((len(days), len(market.symbols)), dtype=bool)
        out[k[ok], s[ok]] = True
    else:
        out = np.full((len(days), len(market.symbols)), np.nan)
        out[k[ok], s[ok]] = frame[column].to_numpy(float)[ok]
    return out


def _capacity(market: Market, top: np.ndarray, pos: np.ndarray, book_size: float) -> dict:
    """Sessions to sell each day's top-N book of `book_size` (equal weights) at CAPACITY_PARTICIPATION of
    each name's mean dollar volume over the CAPACITY_WINDOW sessions up to the pick day."""
    volume = market.dollar_volume
    if not np.isfinite(volume).any():
        raise ValueError("book_size needs bars with a volume column")
    total = np.vstack([np.zeros(volume.shape[1]), np.cumsum(np.nan_to_num(volume), axis=0)])
    count = np.vstack([np.zeros(volume.shape[1]), np.cumsum(np.isfinite(volume), axis=0)])
    low = np.maximum(pos + 1 - CAPACITY_WINDOW, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (total[pos + 1] - total[low]) / (count[pos + 1] - count[low])
        days = np.where(top, book_size / top.sum(axis=1, keepdims=True) / (CAPACITY_PARTICIPATION * mean), np.nan)
    worst = np.nanmax(np.where(top, np.nan_to_num(days, nan=np.inf), np.nan)[top.any(axis=1)], axis=1)
    return {"book_size": float(book_size), "days_to_exit_mean": float(worst.mean()),
            "days_to_exit_max": float(worst.max())}


def track_record(scores: pd.DataFrame, universe: pd.DataFrame, bars: pd.DataFrame | None = None, *,
                 horizon: int, cost_bps: float, top_n: int = 25, picks: pd.DataFrame | None = None,
                 dividends: pd.DataFrame | None = None, benchmark: str = "SPY", start=None, end=None,
                 screen: str = "default", draws: int = 50, seed: int = 0, min_names: int = MIN_NAMES,
                 book_size: float | None = None, market: Market | None = None, keep_books: bool = False) -> TrackRecord:
    """The record of one screen from its stored scores (date, symbol, score) and filtered universe
    (date, symbol) of each day, over the stored days from `start` to `end`. `picks` (date, symbol)
    replaces the top `top_n` by score (the ranked_top_n rows); `market` replaces bars and dividends
    (built once for several records). Bad input raises ValueError with one line naming it."""
    market = market if market is not None else market_from_bars(bars, dividends)
    _validate(horizon, cost_bps, draws, benchmark, market)
    sessions, growth = market.sessions, market.growth
    last = len(sessions) - 1
    days = pd.DatetimeIndex(pd.DatetimeIndex(scores["date"]).unique()).sort_values()
    days = days[(days >= pd.Timestamp(start or days.min())) & (days <= pd.Timestamp(end or days.max()))]
    pos = sessions.get_indexer(days)
    if (pos < 0).any():
        raise ValueError(f"stored day {days[pos < 0][0].date()} is not a session of the bars")
    days, pos = days[pos + 2 <= last], pos[pos + 2 <= last]  # the entry needs a session after it
    if not len(days):
        raise ValueError(f"no stored days of screen {screen!r} from {start or 'the first'} to {end or 'the last'} "
                         "with a return after their entry")
    entry = pos + 1
    first, end_pos = int(entry[0]), int(entry[-1] + 1)
    if horizon > end_pos - first:
        raise ValueError(f"horizon {horizon} is longer than the {end_pos - first} evaluated sessions")

    tradable = market.traded[entry]
    passed = _day_matrix(universe, days, market)
    in_universe = passed & tradable
    score = np.where(passed, _day_matrix(scores, days, market, "score"), np.nan)
    top = (_day_matrix(picks, days, market) if picks is not None
           else _top(score, np.full(len(days), top_n))) & tradable
    counts = top.sum(axis=1)
    bench = np.zeros_like(top)
    bench[:, market.symbols.get_loc(benchmark)] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        back = growth[np.maximum(pos - MOMENTUM_LOOKBACK, 0), :-1]
        momentum = np.where(in_universe & (back > 0) & (pos >= MOMENTUM_LOOKBACK)[:, None],
                            growth[np.maximum(pos - MOMENTUM_SKIP, 0), :-1] / back - 1, np.nan)
    books = np.stack([top, bench & tradable, _top(momentum, counts)])

    costs = tuple(sorted({0.0, cost_bps / 1e4, *(b / 1e4 for b in COST_SWEEP_BPS)}))
    net, gross = costs.index(cost_bps / 1e4), costs.index(0.0)
    main = book_values(growth, *_cohorts(books, entry), len(BOOKS), first, end_pos, horizon, costs)
    whole = book_values(growth, *_cohorts(in_universe[None], entry), 1, first, end_pos, horizon, costs)
    universe_nav = whole.nav[:, 0]

    def measures(values, b, c=net):
        return book_measures(values.nav[c, b], values.nav[gross, b], universe_nav[c], values.turnover[c, b], horizon)

    portfolios = {name: measures(main, b) for b, name in enumerate(BOOKS)}
    portfolios["universe"] = measures(whole, 0)
    portfolios["benchmark"]["symbol"] = benchmark
    if book_size is not None:
        portfolios["top_n"]["capacity"] = _capacity(market, top, pos, book_size)
    random_nav = np.ones((1, end_pos - first + 1))
    kept = [(np.asarray(BOOKS), *np.nonzero(books)), (np.array(["universe"]), *np.nonzero(in_universe[None]))]
    if draws:
        draw, day, code = _random_books(in_universe, counts, days, draws, seed)
        drawn = book_values(growth, draw, entry[day], code, draws, first, end_pos, horizon, costs[:1] + (costs[net],))
        each = [book_measures(drawn.nav[1, b], drawn.nav[0, b], universe_nav[net], drawn.turnover[1, b], horizon)
                for b in range(draws)]
        random_nav = drawn.nav[1]
        kept.append((np.array([f"random_{b}" for b in range(draws)]), draw, day, code))
        mine, theirs = portfolios["top_n"]["ann_return"], np.array([m["ann_return"] for m in each])
        portfolios["random"] = {**{k: float(np.nanmean([m[k] for m in each])) for k in each[0]},
                                "draws": draws, "seed": seed,
                                "top_n_percentile": float(((theirs < mine) + 0.5 * (theirs == mine)).mean())}

    summary = {
        "screen": screen, "from": sessions[first + 1].date().isoformat(), "to": sessions[end_pos].date().isoformat(),
        "horizon": int(horizon), "cost_bps": float(cost_bps), "days": end_pos - first,
        "pick_days": {"from": days[0].date().isoformat(), "to": days[-1].date().isoformat(), "count": len(days)},
        "portfolios": {k: portfolios[k] for k in ("top_n", "universe", "benchmark", "momentum_12_1", "random")
                       if k in portfolios},
        "cost_sweep": {
            f"{bps:g}": {"top_n": measures(main, 0, costs.index(bps / 1e4))["ann_return"],
                         "universe": measures(whole, 0, costs.index(bps / 1e4))["ann_return"],
                         "excess_vs_universe": measures(main, 0, costs.index(bps / 1e4))["excess_vs_universe"]}
            for bps in COST_SWEEP_BPS},
    }
    signal, summary_signal = _signal(growth, entry, last, np.where(in_universe, score, np.nan), days, horizon,
                                     min_names)
    summary.update(summary_signal)
    dates = sessions[first:end_pos + 1]
    navs = {name: main.nav[net, b] for b, name in enumerate(BOOKS)}
    navs.update(top_n_gross=main.nav[gross, 0], universe=universe_nav[net], random_mean=random_nav.mean(axis=0))
    daily = pd.DataFrame(navs, index=pd.DatetimeIndex(dates, name="date"))
    summary["by_year"] = _by_year(daily, universe_nav[gross], main, net, gross, horizon)
    if keep_books:
        kept = pd.concat([pd.DataFrame({"book": names[b], "date": days[k], "symbol": market.symbols[c]})
                          for names, b, k, c in kept], ignore_index=True)
    return TrackRecord(summary=summary, daily=daily, signal=signal, books=kept if keep_books else None)


def _signal(growth, entry, last, score, days, horizon, min_names) -> tuple[pd.DataFrame, dict]:
    """Daily IC and rank IC of the score against the tradable next-h return (bought at the entry
    close, h sessions later) at each horizon; their summary; the quintiles at `horizon`. Works on
    days x names matrices packed to the left (the scored names of each day, by symbol)."""
    k, s = np.nonzero(np.isfinite(score))
    count = np.bincount(k, minlength=len(days))
    at = np.arange(len(k)) - np.repeat(np.cumsum(count) - count, count)
    columns = np.full((len(days), max(int(count.max(initial=0)), 1)), growth.shape[1] - 1)  # padding: cash
    columns[k, at] = s
    x = np.full(columns.shape, np.nan)
    x[k, at] = score[k, s]
    from_top, ordinal = row_ranks(-x)  # 1: the highest score; the ordinal's ties to the lower symbol
    by_score, by_rank = centered(x), centered(from_top)
    signal = {"date": days, "names": count}
    out = {"ic_decay": {}}
    for h in sorted({*IC_HORIZONS, horizon}):
        ahead = (entry + h <= last)[:, None] & np.isfinite(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            forward = growth[np.minimum(entry + h, last)[:, None], columns] / growth[entry[:, None], columns] - 1
        forward[~ahead] = np.nan
        ic = row_correlations(by_score, centered(forward), min_names)
        rank_ic = -row_correlations(by_rank, centered(row_ranks(np.round(forward, TIE_DECIMALS), ordinal=False)[0]), min_names)
        signal[f"ic_{h}"], signal[f"rank_ic_{h}"] = ic, rank_ic
        if h in IC_HORIZONS:
            ranked = ic_summary(rank_ic, h)
            out["ic_decay"][str(h)] = {"ic": ic_summary(ic, h)["mean"], "rank_ic": ranked["mean"],
                                       "rank_ic_t_nw": ranked["t_nw"], "days": ranked["days"]}
        if h == horizon:
            out["ic"], out["rank_ic"] = ic_summary(ic, h), ic_summary(rank_ic, h)
            fifths = quintile_returns(ordinal, forward, min_names)[::-1]  # listed from the lowest scores
            out["quintiles"] = {"mean_return": fifths, "spread": fifths[-1] - fifths[0]}
    return pd.DataFrame(signal), out


YEAR_MEASURES = ("days", "total_return", "volatility", "sharpe", "excess_vs_universe", "information_ratio",
                 "max_drawdown", "hit_rate")


def _by_year(daily: pd.DataFrame, universe_gross, main, net, gross, horizon) -> list[dict]:
    """The measures of each book within each calendar year of the evaluated days (returns not annualized)."""
    rows = []
    years = daily.index.year.to_numpy()
    for year in np.unique(years[1:]):
        at = np.flatnonzero(years == year)
        lo, hi = max(at[0] - 1, 0), at[-1] + 1  # from the close before the year's first evaluated day
        for name in (*BOOKS, "universe"):
            values = daily[name].to_numpy()[lo:hi]
            gross_values = (main.nav[gross, 0] if name == "top_n" else
                            universe_gross if name == "universe" else None)
            m = book_measures(values / values[0], values / values[0], daily["universe"].to_numpy()[lo:hi],
                              np.zeros(hi - lo), horizon)
            row = {"year": int(year), "portfolio": name, **{k: m[k] for k in YEAR_MEASURES}}
            if gross_values is not None:
                row["total_return_gross"] = float(gross_values[hi - 1] / gross_values[lo] - 1)
            rows.append(row)
    return rows
