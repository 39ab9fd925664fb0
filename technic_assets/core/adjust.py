"""Split adjustment as of the last date of a history window.

Bars are stored as traded with the split ratio on each ex-date. Reading a window ending on D and
dividing every earlier price by the product of the ratios after it (multiplying volume by it) gives
bars "split-adjusted as of D", exactly what Polygon's adjusted=true returns that evening, without
rewriting the store and without letting a split after D reach back into D's scan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRICE_COLUMNS = ["open", "high", "low", "close"]


def symbol_bounds(symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) row of each symbol's run in an array sorted by symbol."""
    starts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]])
    return starts, np.r_[starts[1:], len(symbols)]


def sort_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars ordered by (symbol, date), cheaply when they already are."""
    codes, _ = pd.factorize(bars["symbol"], sort=True)
    dates = bars["date"].to_numpy()
    ordered = np.all(np.diff(codes) >= 0) and np.all((np.diff(codes) > 0) | (dates[1:] > dates[:-1]))
    if ordered:
        return bars.reset_index(drop=True)
    return bars.iloc[np.lexsort((dates, codes))].reset_index(drop=True)


def split_factors(bars: pd.DataFrame) -> np.ndarray:
    """For each row (sorted by symbol, date): product of the split ratios strictly after it."""
    log_ratio = np.log(bars["split_ratio"].to_numpy(dtype=float))
    starts, ends = symbol_bounds(bars["symbol"].to_numpy())
    cum = np.cumsum(log_ratio)
    before = np.r_[0.0, cum][starts]  # cumulative sum before each symbol's first row
    total = cum[ends - 1] - before
    run = np.repeat(np.arange(len(starts)), ends - starts)
    return np.exp(total[run] - (cum - before[run]))


def split_adjust(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars sorted by (symbol, date) and adjusted for every split in the window."""
    out = sort_bars(bars)
    factor = split_factors(out)
    if not np.any(np.abs(factor - 1.0) > 1e-12):
        return out
    out = out.copy()
    for col in PRICE_COLUMNS:
        out[col] = out[col].to_numpy() / factor
    out["volume"] = out["volume"].to_numpy() * factor
    return out
