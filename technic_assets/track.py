"""A screen's track record from the store: the stored evenings' picks (or any settings re-screened over
them, technic_assets.rescreen) and the stored bars, handed to core.track_record. `technic backtest`, the
evening `track_record` asset and the benchmarks all read it here.
"""

from __future__ import annotations

import pandas as pd

from technic_assets.core.blend import WINDOW as BLEND_WINDOW
from technic_assets.core.calendar import nyse
from technic_assets.core.track_record import MOMENTUM_LOOKBACK, TrackRecord, track_record
from technic_assets.rescreen import rescreen
from technic_assets.storage.history import screen_span


def stored_record(history, screen: str, start: str | None, end: str | None, *, horizon: int, cost_bps: float,
                  benchmark: str = "SPY", draws: int = 50, settings=None, alpha_weight: float = 0.0,
                  as_of=None) -> TrackRecord:
    """The TrackRecord of `screen` over its stored days from `start` to `end` (default: all of them);
    with `settings` (a config.ScanSettings), of those settings instead: each of the screen's stored days
    re-screened from its stored inputs (technic_assets.rescreen), MERIT blending the forecasts at
    `alpha_weight`. With `as_of`, only bars up to that day are read: the record as it stood that evening."""
    days = history.query("ranked_top_n", "SELECT DISTINCT date FROM technic.ranked_top_n "
                         "WHERE coalesce(screen, 'default') = ? ORDER BY date", [screen])
    if days is None or days.empty:
        raise ValueError(f"no stored top N of screen {screen!r}: scan some days first (technic scan or technic backfill)")
    stored = pd.DatetimeIndex(days["date"])
    first = pd.Timestamp(start) if start else stored[0]
    last = pd.Timestamp(end) if end else stored[-1]
    chosen = stored[(stored >= first) & (stored <= last)]
    if chosen.empty:
        raise ValueError(f"screen {screen!r} has no stored day from {first:%Y-%m-%d} to {last:%Y-%m-%d} "
                         f"(stored: {stored[0]:%Y-%m-%d} .. {stored[-1]:%Y-%m-%d}, {len(stored)} days)")
    sessions = nyse().sessions
    if settings is None:
        picks = screen_span(history, "ranked_top_n", chosen[0], chosen[-1], ["date", "symbol"], screen)
        scores = screen_span(history, "merit", chosen[0], chosen[-1], ["date", "symbol", "merit_score"], screen)
        scores = scores.rename(columns={"merit_score": "score"})
        universe = None  # the names MERIT scored are exactly those that passed the filter: not read twice
    else:
        # a learned blend learns from the stored days before the range too (core.blend's window)
        lead = stored[(stored < chosen[0]) & (stored >= sessions[max(0, sessions.searchsorted(chosen[0]) - BLEND_WINDOW)])]
        done = rescreen(history, chosen, settings, alpha_weight=alpha_weight, lead=lead if len(lead) else None)
        picks, scores, universe = done.picks[["date", "symbol"]], done.scores, None
        screen = "adhoc"
    return evaluate(history, chosen, picks, scores, screen=screen, horizon=horizon, cost_bps=cost_bps,
                    benchmark=benchmark, draws=draws, as_of=as_of)


def evaluate(history, chosen: pd.DatetimeIndex, picks: pd.DataFrame | None, scores: pd.DataFrame, *, screen: str,
             horizon: int, cost_bps: float, benchmark: str = "SPY", draws: int = 50, as_of=None,
             market=None) -> TrackRecord:
    """core.track_record of given picks (date, symbol; None: the top 25 by score) and scores (date,
    symbol, score) over the stored days `chosen`, with the store's bars and dividends (or `market`,
    market_from_bars of them, read once for several records)."""
    if market is not None:
        return track_record(scores, None, horizon=horizon, cost_bps=cost_bps, picks=picks, benchmark=benchmark,
                            screen=screen, draws=draws, start=chosen[0], end=chosen[-1], market=market)
    sessions = nyse().sessions
    lo = sessions[max(0, sessions.searchsorted(chosen[0]) - MOMENTUM_LOOKBACK - 1)]
    hi = sessions[min(len(sessions) - 1, sessions.searchsorted(chosen[-1]) + horizon + 1)]
    if as_of is not None:
        hi = min(hi, pd.Timestamp(as_of))
    bars = history.read_span("price_bars", lo, hi, ["date", "symbol", "close", "split_ratio", "volume", "dividend"])
    paid = bars[bars["dividend"] != 0.0]
    dividends = pd.DataFrame({"ex_date": paid["date"], "symbol": paid["symbol"], "amount": paid["dividend"]})
    return track_record(scores, None, bars.drop(columns="dividend"), dividends=dividends, horizon=horizon,
                        cost_bps=cost_bps, picks=picks, benchmark=benchmark, screen=screen, draws=draws,
                        start=chosen[0], end=chosen[-1])
