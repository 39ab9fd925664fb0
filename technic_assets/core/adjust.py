"""Split adjustment as of the last date of a history window.

Bars are stored as traded with the split ratio on each ex-date. Reading a window ending on D and
dividing every earlier price by the product of the ratios after it (multiplying volume by it) gives
bars "split-adjusted as of D", exactly what Polygon's adjusted=true returns that evening, without
rewriting the store and without letting a split after D reach back into D's scan.

A declared ratio is checked against the overnight gap it should explain (the previous close over the
ex-date's open, both as traded): where they differ by more than SPLIT_GAP_TOLERANCE (30%) the split is
*unverified*. It is not repaired (on real data the gaps beside reverse splits of small names are
wide, and a merger or spin-off booked as a split leaves no gap at all, so no rule can tell the right
ratio), and a scan whose window holds it leaves the symbol out ("split_unverified"), so a wrong ratio
is never ranked as a crash or a rally.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRICE_COLUMNS = ["open", "high", "low", "close"]


def symbol_bounds(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) row of each run of equal keys in an array sorted by them."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.r_[starts[1:], len(keys)]


def split_factors(codes: np.ndarray, split_ratio: np.ndarray) -> np.ndarray:
    """For rows sorted by (symbol code, date): the product of the symbol's split ratios after each row."""
    log_ratio = np.log(split_ratio.astype(float))
    starts, ends = symbol_bounds(codes)
    cum = np.cumsum(log_ratio)
    before = np.r_[0.0, cum][starts]  # cumulative sum before each symbol's first row
    total = cum[ends - 1] - before
    run = np.repeat(np.arange(len(starts)), ends - starts)
    return np.exp(total[run] - (cum - before[run]))


SPLIT_GAP_TOLERANCE = 1.3


def unverified_split_rows(codes: np.ndarray, open_: np.ndarray, close: np.ndarray, split_ratio: np.ndarray) -> np.ndarray:
    """For raw rows sorted by (symbol code, date): True on an ex-date whose declared ratio the gap from
    the symbol's previous close to this open contradicts. A symbol's first row has nothing to check
    against, and nothing before it to adjust."""
    ratio = split_ratio.astype(float)
    out = np.zeros(len(ratio), dtype=bool)
    rows = np.flatnonzero(ratio != 1.0)
    rows = rows[rows > 0]
    rows = rows[codes[rows] == codes[rows - 1]]
    if len(rows):
        with np.errstate(divide="ignore", invalid="ignore"):
            agrees = np.abs(np.log(close[rows - 1] / open_[rows] / ratio[rows])) <= np.log(SPLIT_GAP_TOLERANCE)
        out[rows] = ~agrees  # a gap that cannot be computed does not verify either
    return out


def unverified_split_positions(raw: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """Row numbers of `unverified_split_rows` in raw bars sorted by (symbol, date), `codes` their symbols."""
    return np.flatnonzero(unverified_split_rows(codes, raw["open"].to_numpy(float), raw["close"].to_numpy(float),
                                                raw["split_ratio"].to_numpy(float)))


def windows_holding(positions: np.ndarray, start: int, end: int, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """For one symbol's rows start..end (exclusive) of a sorted frame and windows of its rows first..last
    (relative to start): True where an unverified split (its row in `positions`) adjusts the window,
    i.e. lies after the window's first row and not after its last."""
    inside = positions[(positions > start) & (positions < end)] - start
    return np.searchsorted(inside, last, side="right") > np.searchsorted(inside, first, side="right")


def unverified_split_symbols(bars: pd.DataFrame) -> set[str]:
    """Symbols of a raw history window with an unverified split inside it (not on their first bar)."""
    splits = bars.loc[bars["split_ratio"] != 1.0, "symbol"].unique()
    if not len(splits):
        return set()
    some = bars[bars["symbol"].isin(splits)].sort_values(["symbol", "date"])
    return set(some["symbol"].to_numpy()[unverified_split_positions(some, pd.factorize(some["symbol"])[0])])


def split_adjust(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars sorted by (symbol, date), prices divided and volume multiplied by the splits after each bar.

    Works on numpy arrays and builds one new frame (symbol, date, open, high, low, close, volume),
    so a 1.8M-row window is not copied more than once.
    """
    codes, uniques = pd.factorize(bars["symbol"], sort=True)
    dates = bars["date"].to_numpy()
    order = np.lexsort((dates, codes))
    if np.array_equal(order, np.arange(len(order))):
        order = slice(None)  # already sorted: take views, not copies
    codes = codes[order]
    factor = split_factors(codes, bars["split_ratio"].to_numpy()[order])
    out = {"symbol": np.asarray(uniques, dtype=object)[codes], "date": dates[order]}
    for col in PRICE_COLUMNS:
        out[col] = bars[col].to_numpy()[order] / factor
    out["volume"] = bars["volume"].to_numpy()[order] * factor
    return pd.DataFrame(out, copy=False)
