"""`technic backtest`: a stored screen's track record, read from the store, computed by the core.

The picks are what was stored each evening (ranked_top_n), the signal is that evening's MERIT over the
names that passed the filter, and the bars are the stored ones with their splits and cash dividends, so
returns are total returns (each dividend reinvested at its ex-date's close by the core). Days stored
without dividends (a store from before they were kept, a file without dividend_amount, a Polygon plan
without them) count none, and their returns are price returns. Everything measured is
core/track_record.py's; this module only reads and hands over.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from technic_assets.assets.common import screen_span
from technic_assets.core.calendar import nyse
from technic_assets.core.track_record import MOMENTUM_LOOKBACK, track_record

RETURNS = ("total returns: splits adjusted, cash dividends reinvested at the ex-date's close (days stored "
           "without dividends count none)")


def stored_record(history, screen: str, start: str | None, end: str | None, *, horizon: int, cost_bps: float,
                  benchmark: str = "SPY", draws: int = 50):
    """The TrackRecord of `screen` over its stored days from `start` to `end` (default: all of them)."""
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
    lo = sessions[max(0, sessions.searchsorted(chosen[0]) - MOMENTUM_LOOKBACK - 1)]
    hi = sessions[min(len(sessions) - 1, sessions.searchsorted(chosen[-1]) + horizon + 1)]
    picks = screen_span(history, "ranked_top_n", chosen[0], chosen[-1], ["date", "symbol"], screen)
    scores = screen_span(history, "merit", chosen[0], chosen[-1], ["date", "symbol", "merit_score"], screen)
    universe = screen_span(history, "filtered_universe", chosen[0], chosen[-1], ["date", "symbol"], screen)
    bars = history.read_span("price_bars", lo, hi, ["date", "symbol", "close", "split_ratio", "volume", "dividend"])
    paid = bars[bars["dividend"] != 0.0]
    dividends = pd.DataFrame({"ex_date": paid["date"], "symbol": paid["symbol"], "amount": paid["dividend"]})
    return track_record(scores.rename(columns={"merit_score": "score"}), universe, bars.drop(columns="dividend"),
                        dividends=dividends, horizon=horizon, cost_bps=cost_bps, picks=picks, benchmark=benchmark,
                        screen=screen, draws=draws, start=chosen[0], end=chosen[-1])


def plain(value):
    """JSON's value: NaN and infinities are null; numpy numbers plain."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


def as_json(summary: dict, source: str) -> str:
    return json.dumps(plain({**summary, "returns": RETURNS, "source": source}), indent=1) + "\n"


MEASURES = [("ann_return", "ann. return (net)", "{:+.1%}"), ("ann_return_gross", "gross", "{:+.1%}"),
            ("volatility", "volatility", "{:.1%}"), ("sharpe", "Sharpe", "{:.2f}"),
            ("excess_vs_universe", "excess vs universe", "{:+.1%}"), ("information_ratio", "IR", "{:.2f}"),
            ("max_drawdown", "max drawdown", "{:.1%}"), ("turnover", "turnover/day", "{:.1%}")]


def as_table(summary: dict, source: str) -> str:
    """The books side by side, a person's view of the summary."""
    books = summary["portfolios"]
    names = [n for n in ("top_n", "universe", "benchmark", "momentum_12_1", "random") if n in books]

    def cell(book, key, fmt):
        value = books[book].get(key)
        return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else fmt.format(value)

    rows = [[label, *(cell(b, key, fmt) for b in names)] for key, label, fmt in MEASURES]
    header = ["", *names]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths)))  # noqa: E731
    ic = summary.get("rank_ic", {})
    head = (f"\nTrack record of screen {summary['screen']}, {summary['from']} .. {summary['to']} ({summary['days']} "
            f"sessions), bought at the next close, held {summary['horizon']} sessions, {summary['cost_bps']:g} bps "
            f"a side; source {source}\n{RETURNS}\n")
    signal = (f"\nrank IC of MERIT vs the next {summary['horizon']} sessions' return: mean "
              f"{plain(ic.get('mean')) if ic.get('mean') is None else format(ic.get('mean'), '+.4f')}, "
              f"Newey-West t {'-' if ic.get('t_nw') is None else format(ic.get('t_nw'), '.2f')}")
    if "random" in books:
        signal += (f"; the top N beat {books['random']['top_n_percentile']:.0%} of {books['random']['draws']} "
                   "random books of the same size")
    return head + "\n" + "\n".join(line(r) for r in [header, *rows]) + "\n" + signal + "\n"
