"""A screen's track record from the store: the stored evenings' picks (or any settings re-screened over
them, technic_assets.rescreen) and the stored bars, handed to core.track_record. `technic backtest`, the
evening `track_record` asset and the benchmarks all read it here.
"""

from __future__ import annotations

import pandas as pd

from technic_assets.core.blend import WINDOW as BLEND_WINDOW
from technic_assets.core.calendar import nyse
from technic_assets.core.track_measures import IC_HORIZONS
from technic_assets.core.track_record import (
    MOMENTUM_LOOKBACK,
    TrackRecord,
    market_from_bars,
    track_record,
    track_records,
)
from technic_assets.rescreen import ready as rescreen_ready
from technic_assets.rescreen import rescreen
from technic_assets.storage.history import screen_span
from technic_assets.storage.kept import forget
from technic_assets.storage.kept import kept as _kept
from technic_assets.storage.kept_files import Shelf

# volume only for a record asked its capacity (a book size): the rest never read it
BAR_COLUMNS = ["date", "symbol", "close", "split_ratio", "dividend"]


def stored_record(history, screen: str, start: str | None, end: str | None, *, horizon: int, cost_bps: float,
                  benchmark: str = "SPY", draws: int = 50, settings=None, alpha_weight: float = 0.0,
                  as_of=None, progress=None, book_size: float | None = None) -> TrackRecord:
    """The TrackRecord of `screen` over its stored days from `start` to `end` (default: all of them);
    with `settings` (a config.ScanSettings), of those settings instead: each of the screen's stored days
    re-screened from its stored inputs (technic_assets.rescreen), MERIT blending the forecasts at
    `alpha_weight`. With `as_of`, only bars up to that day are read: the record as it stood that evening.
    `progress(done, of)` is called after each day re-screened. With `book_size` (dollars), the top-N
    book's capacity: the sessions to exit it at core.track_record's share of each name's volume."""
    stored = _stored_days(history, screen)
    first = pd.Timestamp(start) if start else stored[0]
    last = pd.Timestamp(end) if end else stored[-1]
    chosen = _chosen(stored, screen, first, last)
    memo = None
    if settings is None:
        picks, scores = _stored_picks(history, screen, chosen[0], chosen[-1])
        memo = _memo(history, screen, chosen[0], chosen[-1], *_bar_span(chosen, horizon, as_of))
    else:
        lead = _lead(stored, chosen)
        done = rescreen(history, chosen, settings, alpha_weight=alpha_weight, lead=lead if len(lead) else None,
                        progress=progress)
        picks, scores = done.picks[["date", "symbol"]], done.scores
        screen = "adhoc"
    # the names MERIT scored are exactly those that passed the filter: the universe is not read twice
    return evaluate(history, chosen, picks, scores, screen=screen, horizon=horizon, cost_bps=cost_bps,
                    benchmark=benchmark, draws=draws, as_of=as_of, memo=memo, book_size=book_size)


def ready_for_settings(history, screen: str, settings, *, horizon: int, least: int = 1) -> pd.DatetimeIndex:
    """What stored_record of all `screen`'s stored days under any settings reads and prepares before
    its settings' chain (rescreen.ready: the span, its Market and neutral groups as `settings` ask for
    peer groups; the record's Market for `horizon`), made now and kept beside the store, unless fewer
    than `least` days are stored; the stored days."""
    stored = _stored_days(history, screen)
    if len(stored) >= least:
        lead = _lead(stored, stored)
        rescreen_ready(history, lead.append(stored) if len(lead) else stored,
                       peer_groups=getattr(settings, "peer_groups", False))
        _market(history, *_bar_span(stored, horizon, None))
    return stored


def _lead(stored: pd.DatetimeIndex, chosen: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The stored days before `chosen` that a learned blend learns from too (core.blend's window)."""
    sessions = nyse().sessions
    since = sessions[max(0, sessions.searchsorted(chosen[0]) - BLEND_WINDOW)]
    return stored[(stored < chosen[0]) & (stored >= since)]


def evaluate(history, chosen: pd.DatetimeIndex, picks: pd.DataFrame | None, scores: pd.DataFrame, *, screen: str,
             horizon: int, cost_bps: float, benchmark: str = "SPY", draws: int = 50, as_of=None,
             market=None, memo: dict | None = None, book_size: float | None = None) -> TrackRecord:
    """core.track_record of given picks (date, symbol; None: the top 25 by score) and scores (date,
    symbol, score) over the stored days `chosen`, with the store's bars and dividends (or `market`,
    market_from_bars of them, read once for several records); `memo` as core.track_record's."""
    if market is None:
        market = _market(history, *_bar_span(chosen, horizon, as_of), volume=book_size is not None)
    return track_record(scores, None, market=market, horizon=horizon, cost_bps=cost_bps, picks=picks,
                        benchmark=benchmark, screen=screen, draws=draws, start=chosen[0], end=chosen[-1], memo=memo,
                        book_size=book_size)


def stored_records(history, screen: str, days: list[pd.Timestamp], *, horizon: int, cost_bps: float,
                   benchmark: str = "SPY", draws: int = 50, ic_horizons: tuple[int, ...] = IC_HORIZONS) -> dict:
    """day -> the record of `screen` as that evening could know it (stored_record(end=day, as_of=day)),
    or the ValueError saying why it has none; from one read and one evaluation for all the days
    (core.track_records), so the records of a range cost about one record, not one each. With fewer
    `ic_horizons` the summaries' IC decay has only those (and `horizon`)."""
    with history.reading():  # the evening's few reads on one connection: each open costs more than a read
        return _stored_records(history, screen, days, horizon=horizon, cost_bps=cost_bps, benchmark=benchmark,
                               draws=draws, ic_horizons=ic_horizons)


def _stored_records(history, screen, days, *, horizon, cost_bps, benchmark, draws, ic_horizons) -> dict:
    stored = _stored_days(history, screen)
    cuts, out = {}, {}
    for day in days:
        try:
            chosen = _chosen(stored, screen, stored[0], pd.Timestamp(day))
        except ValueError as exc:
            out[day] = exc
            continue
        cuts[day] = (chosen[-1], _bar_span(chosen, horizon, day)[1])
    if cuts:
        lo = _bar_span(stored[:1], horizon, None)[0]
        last = max(evening for evening, _ in cuts.values())
        picks, scores = _stored_picks(history, screen, stored[0], last)
        market = _market(history, lo, max(bar_day for _, bar_day in cuts.values()), files=False)
        done = track_records(scores, None, market=market, cuts=list(cuts.values()), horizon=horizon,
                             cost_bps=cost_bps, picks=picks, benchmark=benchmark, screen=screen, draws=draws,
                             start=stored[0], end=last, ic_horizons=ic_horizons)
        out.update(zip(cuts, done))
    return {day: out[day] for day in days}


def _stored_days(history, screen: str) -> pd.DatetimeIndex:
    days = history.query("ranked_top_n", "SELECT DISTINCT date FROM technic.ranked_top_n "
                         "WHERE coalesce(screen, 'default') = ? ORDER BY date", [screen])
    if days is None or days.empty:
        raise ValueError(f"no stored top N of screen {screen!r}: scan some days first (technic scan or technic backfill)")
    return pd.DatetimeIndex(days["date"])


def _chosen(stored: pd.DatetimeIndex, screen: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    chosen = stored[(stored >= first) & (stored <= last)]
    if chosen.empty:
        raise ValueError(f"screen {screen!r} has no stored day from {first:%Y-%m-%d} to {last:%Y-%m-%d} "
                         f"(stored: {stored[0]:%Y-%m-%d} .. {stored[-1]:%Y-%m-%d}, {len(stored)} days)")
    return chosen


def _bar_span(chosen: pd.DatetimeIndex, horizon: int, as_of) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The bars a record of `chosen` reads: 12-1 momentum's year before the first day, the last day's
    holding after it, none after `as_of`."""
    sessions = nyse().sessions
    lo = sessions[max(0, sessions.searchsorted(chosen[0]) - MOMENTUM_LOOKBACK - 1)]
    hi = sessions[min(len(sessions) - 1, sessions.searchsorted(chosen[-1]) + horizon + 1)]
    return lo, hi if as_of is None else min(hi, pd.Timestamp(as_of))


def _stored_picks(history, screen: str, first: pd.Timestamp, last: pd.Timestamp):
    """The screen's picks and MERIT first..last: the last ones read kept while the store is unchanged."""
    return _kept("screen", history, (screen, first, last), lambda: _read_picks(history, screen, first, last))


def _read_picks(history, screen: str, first: pd.Timestamp, last: pd.Timestamp):
    picks = screen_span(history, "ranked_top_n", first, last, ["date", "symbol"], screen)
    # core.track_record places each row by its date and symbol: the 2.4M MERIT rows need no sort
    scores = screen_span(history, "merit", first, last, ["date", "symbol", "merit_score"], screen, coded=("symbol",),
                         ordered=False)
    return picks, scores.rename(columns={"merit_score": "score"})


def _market(history, lo: pd.Timestamp, hi: pd.Timestamp, volume: bool = False, files: bool = True):
    """The Market of the stored bars lo..hi: the last one kept while the store file is unchanged (the
    live page asks for records again and again), in this process and, with `files`, beside the store
    (a fresh `technic backtest` reads it back). The evening's records (as of its day, just written)
    keep it in the process only: no later call asks for those bars again before the next write."""
    key = (lo, hi, volume)
    shelf = Shelf.of(history, "market", key) if files else Shelf(None)
    return _kept("market", history, key,
                 lambda: shelf.get_or_make("market", lambda: _read_market(history, lo, hi, volume)))


def _memo(history, screen: str, first: pd.Timestamp, last: pd.Timestamp, lo: pd.Timestamp, hi: pd.Timestamp) -> dict:
    """core.track_record's memo of the screen's stored picks first..last over the bars lo..hi (its
    panel, its signal rows at each horizon): kept while the store is unchanged, so another record of
    the same evenings (another horizon, cost, benchmark) computes neither again."""
    return _kept("memo", history, (screen, first, last, lo, hi), dict)


def forget_market() -> None:
    """Drop everything kept, the re-screen's inputs included (the benchmarks time a cold read)."""
    forget()


def _read_market(history, lo: pd.Timestamp, hi: pd.Timestamp, volume: bool = False):
    bars = history.read_span_coded("price_bars", lo, hi, BAR_COLUMNS + ["volume"] * volume)
    paid = bars[bars["dividend"] != 0.0]
    dividends = pd.DataFrame({"ex_date": paid["date"], "symbol": paid["symbol"], "amount": paid["dividend"]})
    market = market_from_bars(bars, dividends)  # it reads the columns it knows: the frame is not copied
    for array in (market.growth, market.traded, market.dollar_volume):
        array.flags.writeable = False  # shared by the records that follow: none may change it
    return market
