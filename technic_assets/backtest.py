"""`technic backtest`'s formats for a track record (technic_assets.track reads it, core/track_record.py
computes it): a table for a person, JSON with the measures as fractions, CSV of each book's value by
session. Returns are total returns: the stored bars' splits and cash dividends (days stored without
dividends count none).
"""

from __future__ import annotations

import json
import math

import pandas as pd

from technic_assets.core.track_record import CAPACITY_PARTICIPATION, CAPACITY_WINDOW
from technic_assets.output import plain

RETURNS = ("total returns: splits adjusted, cash dividends reinvested at the ex-date's close (days stored "
           "without dividends count none)")


def as_json(summary: dict, source: str, settings: dict | None = None) -> str:
    extra = {} if settings is None else {"settings": settings}
    return json.dumps(plain({**summary, **extra, "returns": RETURNS, "source": source}), indent=1) + "\n"


def as_csv(daily: pd.DataFrame) -> str:
    """Each book's value by session (1 at the first entry's close), net of costs unless named gross."""
    return daily.reset_index().to_csv(index=False, date_format="%Y-%m-%d", float_format="%.10g")


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
    capacity = books["top_n"].get("capacity")
    if capacity:
        signal += (f"\ncapacity of a ${capacity['book_size']:,.0f} top-N book: {capacity['days_to_exit_mean']:.1f} "
                   f"sessions to sell it on average (at most {capacity['days_to_exit_max']:.1f}), at "
                   f"{CAPACITY_PARTICIPATION:.0%} of each name's {CAPACITY_WINDOW}-session average dollar volume")
    return head + "\n" + "\n".join(line(r) for r in [header, *rows]) + "\n" + signal + "\n"
