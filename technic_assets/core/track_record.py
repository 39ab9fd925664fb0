"""The track record of a screen: what its stored picks would have earned, point in time and after
costs, beside the baselines a sceptic asks for, and how well its scores ranked the returns that followed.

The chain, one step per function:
  1. track_market.market_from_bars: sessions x symbols total-return index from bars as traded (a split_ratio r on
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
Steps 2-4 and the signal's daily series are computed once for a span (_evaluate), the measures then
over its first n evenings as known at a session (_summarize). No day's cohort, value or IC reads a
later evening or a bar after its window, so that prefix is the record an earlier evening computes:
track_records gives every day of a range its record from one evaluation (the evening asset's range
runs), track_record the whole span's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from technic_assets.core.signal_quality import MIN_NAMES
from technic_assets.core.track_engine import BookValues, book_values
from technic_assets.core.track_market import Market, date_positions, date_runs, market_from_bars, symbol_lookup
from technic_assets.core.track_measures import IC_HORIZONS, book_measures, by_year, signal_series, signal_summary

COST_SWEEP_BPS = (0.0, 5.0, 10.0, 25.0)
MOMENTUM_LOOKBACK, MOMENTUM_SKIP = 252, 21
CAPACITY_PARTICIPATION, CAPACITY_WINDOW = 0.2, 20
BOOKS = ("top_n", "benchmark", "momentum_12_1")
ORDINAL_1970 = pd.Timestamp("1970-01-01").toordinal()


@dataclass(frozen=True)
class TrackRecord:
    summary: dict          # the JSON: measures of the signal and of every book
    daily: pd.DataFrame    # per evaluated session (and the close before): each book's value, net and gross
    signal: pd.DataFrame   # per scored day: names, ic and rank_ic at each horizon
    books: pd.DataFrame | None = None  # with keep_books: every book's cohorts (book, date picked, symbol)


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


def _rows(frame: pd.DataFrame, days: pd.DatetimeIndex, market: Market):
    """(day, symbol column, which rows) of a frame's (date, symbol) rows on `days` with known symbols."""
    k = date_positions(days, frame["date"])
    s = symbol_lookup(market.symbols, frame["symbol"])
    ok = (k >= 0) & (s >= 0)
    ok = slice(None) if ok.all() else ok  # (every row, as a slice: nothing is copied)
    return k[ok], s[ok], ok


def _panel(universe: pd.DataFrame, scores: pd.DataFrame, days: pd.DatetimeIndex, market: Market):
    """Each day's names that passed the filter, packed to the left by symbol: their symbol columns
    (days x width; padding: column 0, never present), where a name is, and its score (NaN where none)."""
    symbols = len(market.symbols)
    passed = np.zeros(len(days) * symbols, dtype=bool)  # days x symbols, flat
    k, s, ok = _rows(universe, days, market)
    scored = (k, s, ok) if universe is scores else _rows(scores, days, market)  # the scored names passed
    passed[k * symbols + s] = True
    cells = np.flatnonzero(passed)
    k, s = np.divmod(cells, symbols)
    count = np.bincount(k, minlength=len(days))
    width = max(int(count.max(initial=0)), 1)
    at = k * width + np.arange(len(k)) - np.repeat(np.cumsum(count) - count, count)  # its cell of days x width
    columns = np.zeros((len(days), width), dtype=int)
    columns.ravel()[at] = s
    present = np.arange(width) < count[:, None]
    every = np.full(len(days) * symbols, np.nan)
    sk, ss, ok = scored
    every[sk * symbols + ss] = scores["score"].to_numpy(float)[ok]
    score = np.full(columns.shape, np.nan)
    score.ravel()[at] = every[cells]
    return columns, present, score


def _pairs(mask: np.ndarray, columns: np.ndarray):
    """(day, symbol column) where a days x names mask is set, sorted by both."""
    k, at = np.nonzero(mask)
    return k, columns[k, at]


def _random_books(names_k: np.ndarray, names_s: np.ndarray, counts: np.ndarray, dates: pd.DatetimeIndex,
                  draws: int, seed: int):
    """(draw, day, symbol column) sorted by all three: each draw takes counts[day] of the day's names
    (`names_k`, `names_s`: day and symbol column, sorted by both) uniformly (indices drawn, duplicates
    redrawn until there are none: every subset is as likely)."""
    chosen = np.full((draws, len(dates), max(int(counts.max(initial=0)), 1)), -1)
    bounds = np.searchsorted(names_k, np.arange(len(dates) + 1))
    ordinals = dates.to_numpy().astype("datetime64[D]").astype(int) + ORDINAL_1970  # each Timestamp.toordinal()
    for k in range(len(dates)):
        these = names_s[bounds[k]:bounds[k + 1]]
        want = min(int(counts[k]), len(these))
        if want == len(these):
            chosen[:, k, :want] = these
            continue
        rng = np.random.default_rng([seed, int(ordinals[k])])
        pick = np.sort(rng.integers(0, len(these), size=(draws, want)), axis=1)
        while (dup := pick[:, 1:] == pick[:, :-1]).any():
            pick[:, 1:][dup] = rng.integers(0, len(these), size=int(dup.sum()))
            pick = np.sort(pick, axis=1)
        chosen[:, k, :want] = these[pick]
    draw, day, _ = np.nonzero(chosen >= 0)
    return draw, day, chosen[chosen >= 0]


def _capacity(market: Market, k: np.ndarray, s: np.ndarray, pos: np.ndarray, book_size: float) -> dict:
    """Sessions to sell each day's top-N book (`k`, `s`) of `book_size`, equal weights, at
    CAPACITY_PARTICIPATION of each name's mean dollar volume over the CAPACITY_WINDOW sessions up to the
    pick day; the worst name of each day, averaged and at its worst."""
    volume = market.dollar_volume
    if not np.isfinite(volume).any():
        raise ValueError("book_size needs bars with a volume column")
    total = np.vstack([np.zeros(volume.shape[1]), np.cumsum(np.nan_to_num(volume), axis=0)])
    count = np.vstack([np.zeros(volume.shape[1]), np.cumsum(np.isfinite(volume), axis=0)])
    low = np.maximum(pos[k] + 1 - CAPACITY_WINDOW, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (total[pos[k] + 1, s] - total[low, s]) / (count[pos[k] + 1, s] - count[low, s])
        sessions = book_size / np.bincount(k)[k] / (CAPACITY_PARTICIPATION * mean)
    worst = pd.Series(np.nan_to_num(sessions, nan=np.inf)).groupby(k).max()
    return {"book_size": float(book_size), "days_to_exit_mean": float(worst.mean()),
            "days_to_exit_max": float(worst.max())}


def _validate(horizon, cost_bps, draws, benchmark, market: Market) -> None:
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a whole number of sessions, 1 or more: got {horizon!r}")
    if not np.isfinite(cost_bps) or cost_bps < 0:
        raise ValueError(f"cost_bps must be 0 or more: got {cost_bps!r}")
    if draws < 0:
        raise ValueError(f"draws must be 0 or more: got {draws!r}")
    if benchmark not in market.symbols:
        raise ValueError(f"benchmark {benchmark!r} has no bars")


def _pick_days(scores, start, end, screen, sessions):
    """The stored days from start to end whose entry has a session after it, and their positions."""
    days = pd.DatetimeIndex(date_runs(scores["date"])[0]).unique().sort_values()
    days = days[(days >= pd.Timestamp(start or days.min())) & (days <= pd.Timestamp(end or days.max()))]
    pos = sessions.get_indexer(days)
    if (pos < 0).any():
        raise ValueError(f"stored day {days[pos < 0][0].date()} is not a session of the bars")
    days, pos = days[pos + 2 < len(sessions)], pos[pos + 2 < len(sessions)]
    _check_days(pos, screen, start, end, 1)
    return days, pos


def _check_days(pos, screen, start, end, horizon):
    if not len(pos):
        raise ValueError(f"no stored days of screen {screen!r} from {start or 'the first'} to {end or 'the last'} "
                         "with a return after their entry")
    if horizon > pos[-1] - pos[0] + 1:
        raise ValueError(f"horizon {horizon} is longer than the {pos[-1] - pos[0] + 1} evaluated sessions")


@dataclass(frozen=True)
class _Evaluated:
    """A span's books and signal before their measures. Nothing of a day reads a later evening or a
    bar after its own window, so the first n evenings of it, as known at session `last`, are the record
    of those evenings over the bars up to `last` (_summarize)."""
    market: Market
    days: pd.DatetimeIndex
    pos: np.ndarray
    args: dict             # horizon, cost_bps, benchmark, screen, draws, seed, start, end, book_size, keep_books
    costs: tuple
    main: BookValues       # BOOKS
    whole: BookValues      # the universe
    drawn: BookValues | None
    signal: dict           # track_measures.signal_series
    top: tuple             # (day, symbol column) of the top N
    kept: list             # (names, book, day, symbol column) of every book's cohorts


def track_record(scores: pd.DataFrame, universe: pd.DataFrame | None = None, bars: pd.DataFrame | None = None, *,
                 horizon: int, cost_bps: float, top_n: int = 25, picks: pd.DataFrame | None = None,
                 dividends: pd.DataFrame | None = None, benchmark: str = "SPY", start=None, end=None,
                 screen: str = "default", draws: int = 50, seed: int = 0, min_names: int = MIN_NAMES,
                 book_size: float | None = None, market: Market | None = None, keep_books: bool = False,
                 memo: dict | None = None) -> TrackRecord:
    """The record of one screen from its stored scores (date, symbol, score) and filtered universe
    (date, symbol; None: the scored names, as MERIT scores exactly the names that passed) of each day,
    over the stored days from `start` to `end`. `picks` (date, symbol) replaces the top `top_n` by
    score (the ranked_top_n rows); `market` replaces bars and dividends (built once for several
    records), `memo` (_evaluate's) is kept beside them. Bad input raises ValueError with one line naming it."""
    market = market if market is not None else market_from_bars(bars, dividends)
    done = _evaluate(scores, universe, market, horizon=horizon, cost_bps=cost_bps, top_n=top_n, picks=picks,
                     benchmark=benchmark, start=start, end=end, screen=screen, draws=draws, seed=seed,
                     min_names=min_names, book_size=book_size, keep_books=keep_books, memo=memo)
    return _summarize(done, len(done.days), len(market.sessions) - 1)


def track_records(scores: pd.DataFrame, universe: pd.DataFrame | None = None, *, market: Market, cuts,
                  horizon: int, cost_bps: float, picks: pd.DataFrame | None = None, benchmark: str = "SPY",
                  screen: str = "default", draws: int = 50, seed: int = 0, min_names: int = MIN_NAMES,
                  **kw) -> list:
    """The record at each cut (last evening, last bar day): track_record of the stored evenings up to
    the first over `market` cut after the second, from one evaluation of the whole span (a record is
    the prefix of a longer one), so the records of every day of a range cost about one record. Equal
    to computing each apart, to float summation order (without given `picks`, a name scored before
    its first bar would take a top-N place it then cannot fill: the stored screens give their picks).
    Each item is a TrackRecord, or the ValueError naming why that cut has none. `kw`: as
    track_record's, and `ic_horizons`, the IC decay's horizons (none: only `horizon`'s IC, one sort of
    the forward returns rather than four)."""
    try:
        done = _evaluate(scores, universe, market, horizon=horizon, cost_bps=cost_bps, picks=picks, benchmark=benchmark,
                         screen=screen, draws=draws, seed=seed, min_names=min_names, **kw)
    except ValueError as exc:
        return [exc for _ in cuts]
    sessions, bench = market.sessions, market.symbols.get_loc(benchmark)
    out = []
    for last_evening, last_bar in cuts:
        last = int(sessions.searchsorted(pd.Timestamp(last_bar), side="right")) - 1
        evenings = int(np.searchsorted(done.days, pd.Timestamp(last_evening), side="right"))
        n = int(np.searchsorted(done.pos[:evenings], last - 1))  # an entry with a session after it
        try:
            if not market.traded[: last + 1, bench].any():
                raise ValueError(f"benchmark {benchmark!r} has no bars")
            _check_days(done.pos[:n], screen, done.args["start"], pd.Timestamp(last_evening), horizon)
            out.append(_summarize(done, n, last))
        except ValueError as exc:
            out.append(exc)
    return out


def _evaluate(scores, universe, market: Market, *, horizon, cost_bps, top_n=25, picks=None, benchmark="SPY",
              start=None, end=None, screen="default", draws=50, seed=0, min_names=MIN_NAMES, book_size=None,
              keep_books=False, ic_horizons=IC_HORIZONS, memo=None) -> _Evaluated:
    """Steps 2-5 of the chain up to the measures, over every stored day from start to end. `memo`: a
    dict that lives as long as these scores, universe and market (technic_assets.track keeps one while
    the store is unchanged): each span's panel, signal rows and universe book (at each horizon and set of
    costs) are kept in it, not computed again."""
    _validate(horizon, cost_bps, draws, benchmark, market)
    sessions, growth, traded = market.sessions, market.growth, market.traded
    days, pos = _pick_days(scores, start, end, screen, sessions)
    _check_days(pos, screen, start, end, horizon)
    entry = pos + 1
    first, end_pos = int(entry[0]), int(entry[-1] + 1)

    span = (days[0], days[-1], len(days))
    memo = {} if memo is None else memo
    if ("panel", span) not in memo:
        memo[("panel", span)] = _panel(scores if universe is None else universe, scores, days, market)
        for array in memo[("panel", span)]:
            array.flags.writeable = False  # kept for the records that follow: none may change it
    columns, passed, score = memo[("panel", span)]
    in_universe = passed & traded[entry[:, None], columns]
    if picks is None:
        top_k, top_s = _pairs(_top(np.where(passed, score, np.nan), np.full(len(days), top_n)) & in_universe, columns)
    else:
        k, s, _ = _rows(picks, days, market)
        key = np.unique(k * len(market.symbols) + s)
        top_k, top_s = key // len(market.symbols), key % len(market.symbols)
        top_k, top_s = top_k[traded[entry[top_k], top_s]], top_s[traded[entry[top_k], top_s]]
    counts = np.bincount(top_k, minlength=len(days))
    with np.errstate(invalid="ignore", divide="ignore"):
        back = growth[np.maximum(pos - MOMENTUM_LOOKBACK, 0)[:, None], columns]
        momentum = np.where(in_universe & (back > 0) & (pos >= MOMENTUM_LOOKBACK)[:, None],
                            growth[np.maximum(pos - MOMENTUM_SKIP, 0)[:, None], columns] / back - 1, np.nan)
    mom_k, mom_s = _pairs(_top(momentum, counts), columns)
    bench = market.symbols.get_loc(benchmark)
    bench_k = np.flatnonzero(traded[entry, bench])
    uni_k, uni_s = _pairs(in_universe, columns)

    costs = tuple(sorted({0.0, cost_bps / 1e4, *(b / 1e4 for b in COST_SWEEP_BPS)}))
    book = np.repeat(np.arange(3), [len(top_k), len(bench_k), len(mom_k)])
    k = np.r_[top_k, bench_k, mom_k]
    main = book_values(growth, book, entry[k], np.r_[top_s, np.full(len(bench_k), bench), mom_s], len(BOOKS), first,
                       end_pos, horizon, costs)
    key = ("universe", span, horizon, costs)  # the universe's book: the same whatever the picks
    if key not in memo:
        memo[key] = book_values(growth, np.zeros(len(uni_k), dtype=int), entry[uni_k], uni_s, 1, first, end_pos,
                                horizon, costs)
        memo[key].nav.flags.writeable = memo[key].turnover.flags.writeable = False
    whole = memo[key]
    kept = [(np.asarray(BOOKS), book, k, np.r_[top_s, np.full(len(bench_k), bench), mom_s]),
            (np.array(["universe"]), np.zeros(len(uni_k), dtype=int), uni_k, uni_s)]
    drawn = None
    if draws:
        draw, day, code = _random_books(uni_k, uni_s, counts, days, draws, seed)
        drawn = book_values(growth, draw, entry[day], code, draws, first, end_pos, horizon,
                            (0.0, cost_bps / 1e4))
        kept.append((np.array([f"random_{b}" for b in range(draws)]), draw, day, code))
    signal = signal_series(growth, entry, np.where(in_universe, score, np.nan), columns, horizon, min_names,
                           ic_horizons, memo=memo.setdefault(("signal", span), {}))
    args = dict(horizon=horizon, cost_bps=cost_bps, benchmark=benchmark, screen=screen, draws=draws, seed=seed,
                start=start, end=end, book_size=book_size, keep_books=keep_books)
    return _Evaluated(market, days, pos, args, costs, main, whole, drawn, signal, (top_k, top_s), kept)


def _summarize(done: _Evaluated, n: int, last: int) -> TrackRecord:
    """The record of the first `n` evenings of `done`, as known at session `last` (their books end at
    the last entry + 1; a day's IC needs its window to end by `last`)."""
    a, market, costs = done.args, done.market, done.costs
    horizon, cost_bps, draws = a["horizon"], a["cost_bps"], a["draws"]
    sessions, days, pos = market.sessions, done.days[:n], done.pos[:n]
    entry = pos + 1
    first, end_pos = int(entry[0]), int(entry[-1] + 1)
    width = end_pos - first + 1
    net, gross = costs.index(cost_bps / 1e4), costs.index(0.0)
    main = BookValues(done.main.nav[:, :, :width], done.main.turnover[:, :, :width])
    whole = BookValues(done.whole.nav[:, :, :width], done.whole.turnover[:, :, :width])
    universe_nav = whole.nav[:, 0]

    def measures(values, b, c=net):
        return book_measures(values.nav[c, b], values.nav[gross, b], universe_nav[c], values.turnover[c, b], horizon)

    portfolios = {name: measures(main, b) for b, name in enumerate(BOOKS)}
    portfolios["universe"] = measures(whole, 0)
    portfolios["benchmark"]["symbol"] = a["benchmark"]
    top_k, top_s = done.top
    if a["book_size"] is not None:
        portfolios["top_n"]["capacity"] = _capacity(market, top_k[top_k < n], top_s[top_k < n], pos, a["book_size"])
    random_nav = np.ones((1, width))
    if draws:
        drawn = done.drawn.nav[:, :, :width], done.drawn.turnover[:, :, :width]
        each = [book_measures(drawn[0][1, b], drawn[0][0, b], universe_nav[net], drawn[1][1, b], horizon)
                for b in range(draws)]
        random_nav = drawn[0][1]
        mine, theirs = portfolios["top_n"]["ann_return"], np.array([m["ann_return"] for m in each])
        mean = {key: np.array([m[key] for m in each], dtype=float) for key in each[0]}
        portfolios["random"] = {**{key: float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")
                                   for key, v in mean.items()},
                                "draws": draws, "seed": a["seed"],
                                "top_n_percentile": float(((theirs < mine) + 0.5 * (theirs == mine)).mean())}

    summary = {
        "screen": a["screen"], "from": sessions[first + 1].date().isoformat(),
        "to": sessions[end_pos].date().isoformat(),
        "horizon": int(horizon), "cost_bps": float(cost_bps), "days": end_pos - first,
        "pick_days": {"from": days[0].date().isoformat(), "to": days[-1].date().isoformat(), "count": len(days)},
        "portfolios": {name: portfolios[name] for name in ("top_n", "universe", "benchmark", "momentum_12_1", "random")
                       if name in portfolios},
        "cost_sweep": {f"{bps:g}": {"top_n": measures(main, 0, costs.index(bps / 1e4))["ann_return"],
                                    "universe": measures(whole, 0, costs.index(bps / 1e4))["ann_return"],
                                    "excess_vs_universe": measures(main, 0, costs.index(bps / 1e4))["excess_vs_universe"]}
                       for bps in COST_SWEEP_BPS},
    }
    signal, signal_summary_ = signal_summary(done.signal, days, entry, last, horizon)
    summary.update(signal_summary_)
    navs = {name: main.nav[net, b] for b, name in enumerate(BOOKS)}
    navs.update(top_n_gross=main.nav[gross, 0], universe=universe_nav[net], universe_gross=universe_nav[gross],
                random_mean=random_nav.mean(axis=0))
    daily = pd.DataFrame(navs, index=pd.DatetimeIndex(sessions[first:end_pos + 1], name="date"))
    summary["by_year"] = by_year(daily, (*BOOKS, "universe"), horizon)
    books = (pd.concat([pd.DataFrame({"book": names[b[k < n]], "date": days[k[k < n]], "symbol": market.symbols[c[k < n]]})
                        for names, b, k, c in done.kept], ignore_index=True) if a["keep_books"] else None)
    return TrackRecord(summary=summary, daily=daily, signal=signal, books=books)
