"""The learned blend's weights for a month, from what the store holds (the graph's and the live engine's
way; the backtest's re-screen fits the same weights from its own re-screened days, core.blend).

For the month starting at T: the screen's stored factor z-scores of the `WINDOW` sessions before T,
the alpha z-score of the stored forecasts (core.scoring.alpha_signal, as MERIT blends them), the
stored indicators' roc_21 and rsi_14, and the stored bars up to T - 1 for the tradable labels; then
core.blend.monthly_weights. Nothing dated T or later is read.
"""

from __future__ import annotations

import pandas as pd

from technic_assets.core import blend
from technic_assets.core.blend import (
    EMBARGO,
    HORIZON,
    blend_terms,
    fit_window,
    forward_returns,
    monthly_weights,
)
from technic_assets.core.calendar import nyse
from technic_assets.core.factors import FACTORS
from technic_assets.core.scoring import alpha_signal
from technic_assets.core.track_record import market_from_bars
from technic_assets.storage.connection import SCHEMA, quoted, table
from technic_assets.storage.history import screen_span


def stored_terms(history, screen: str, start, end) -> pd.DataFrame:
    """date, symbol, BLEND_TERMS of the screen's stored days start..end."""
    factors = screen_span(history, "factors", start, end, ["date", "symbol", *FACTORS], screen)
    if factors.empty:
        return pd.DataFrame()
    forecasts = history.read_span("alpha_forecasts", start, end, ["date", "symbol", "alpha_5d", "alpha_10d"])
    forecasts = forecasts.drop_duplicates(["date", "symbol"])
    extras = history.read_span("indicators", start, end, ["date", "symbol", "roc_21", "rsi_14"])
    rows = factors.merge(forecasts, on=["date", "symbol"], how="left").merge(extras, on=["date", "symbol"], how="left")
    out = []
    for day, f in rows.groupby("date", sort=True):
        f = f.set_index("symbol")
        fc = f[["alpha_5d", "alpha_10d"]].astype(float)
        alpha = alpha_signal(fc) if bool(fc.notna().any().any()) else None
        out.append(blend_terms(f[list(FACTORS)], alpha, f["roc_21"], f["rsi_14"]).reset_index().assign(date=day))
    return pd.concat(out, ignore_index=True)


# what a month's fit reads, by table: the columns whose every value the fit key digests
FIT_READS = {"factors": ["date", "symbol", *FACTORS], "alpha_forecasts": ["date", "symbol", "alpha_5d", "alpha_10d"],
             "indicators": ["date", "symbol", "roc_21", "rsi_14"], "price_bars": ["date", "symbol", "close", "split_ratio"]}


def fit_key(history, screen: str, first) -> str:
    """A digest of everything the month's fit reads (each table's rows in its window: their count and a
    hash of every value). A fit kept from an earlier run is reused only under the same key, so a month
    fitted before its earlier days were scanned, or before one was scanned again, is fitted anew."""
    span = fit_window(first, nyse().sessions)
    if span is None:
        return "none"
    parts = []
    for name, columns in FIT_READS.items():
        names = ", ".join(quoted(c) for c in columns)
        where = "screen = ? AND " if name == "factors" else ""  # a fixed clause: the screen is bound
        found = history.query(name, f"SELECT count(*) AS n, bit_xor(hash({names})) AS h "
                                    f"FROM {SCHEMA}.{table(name)} WHERE {where}date >= ? AND date <= ?",
                              [*([screen] if where else []), *(d.to_pydatetime() for d in span)])
        parts.append("-" if found is None else f"{int(found['n'][0])}:{found['h'][0]}")
    return "/".join(parts)


def stored_weights(history, screen: str, first) -> dict[str, float] | None:
    """The learned weights for the month whose first session is `first` (None: too little history)."""
    sessions = nyse().sessions
    span = fit_window(first, nyse().sessions)
    if span is None:
        return None
    t = sessions.searchsorted(pd.Timestamp(first))
    start, end = span
    terms = stored_terms(history, screen, start, end)
    if terms.empty:
        return None
    bars = history.read_span("price_bars", start, end, ["date", "symbol", "close", "split_ratio", "dividend"])
    paid = bars[bars["dividend"] != 0.0]
    market = market_from_bars(bars.drop(columns="dividend"), pd.DataFrame(
        {"ex_date": paid["date"], "symbol": paid["symbol"], "amount": paid["dividend"]}))
    labels = forward_returns(market.growth, market.symbols, market.sessions, terms, HORIZON)
    return monthly_weights(terms, labels, [sessions[t]], sessions, horizon=HORIZON, embargo=EMBARGO,
                           min_days=blend.MIN_DAYS)[sessions[t]]
