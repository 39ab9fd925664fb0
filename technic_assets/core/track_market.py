"""The market a track record is valued in: the bars as traded (and cash dividends) to a sessions x
symbols total-return index, step 1 of core/track_record.py's chain.

A split_ratio r on day t multiplies the shares by r from t on, as core/adjust.py reads it; a cash
dividend (an amount per share as traded on the ex-date) is reinvested at that close: the day's growth
is r * (close + dividend) / previous close. A day without a bar grows by 1. Symbols may come as a
categorical column (the store reads them so): they are then worked through their few categories, not
their millions of rows, in the same sorted order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Market:
    sessions: pd.DatetimeIndex
    symbols: pd.Index          # sorted; column len(symbols) of growth is cash
    growth: np.ndarray         # sessions x (symbols + 1): total-return index, 0 before a symbol's first bar
    traded: np.ndarray         # sessions x symbols: a bar that session
    dollar_volume: np.ndarray  # close x volume as traded (NaN without a bar or a volume column)


def market_from_bars(bars: pd.DataFrame, dividends: pd.DataFrame | None = None) -> Market:
    """The Market of bars (date, symbol, close, split_ratio[, volume]) and dividends (ex_date, symbol,
    amount; paid on the symbol's first bar on or after the ex-date)."""
    price = bars["close"].to_numpy(float)
    ok = price > 0  # the columns masked, not the frame filtered: millions of rows are not copied
    t, sessions = pd.factorize(pd.DatetimeIndex(bars["date"]).to_numpy("datetime64[ns]")[ok], sort=True)
    sessions = pd.DatetimeIndex(sessions)
    s, symbols = symbol_codes(bars["symbol"], ok)
    price = price[ok]
    shape = (len(sessions), len(symbols))
    close = np.full(shape, np.nan)
    close[t, s] = price
    ratio = np.ones(shape)
    if "split_ratio" in bars:
        split = bars["split_ratio"].to_numpy(float)[ok]
        ratio[t, s] = np.where(np.isnan(split), 1.0, split)
    dollar_volume = np.full(shape, np.nan)
    if "volume" in bars:
        dollar_volume[t, s] = price * bars["volume"].to_numpy(float)[ok]
    traded = np.isfinite(close)
    rows = np.arange(shape[0])[:, None]
    cash = np.zeros(shape)
    if dividends is not None and len(dividends):
        code = symbol_lookup(symbols, dividends["symbol"])
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
    return Market(sessions, symbols, growth, traded, dollar_volume)


def symbol_codes(column: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Each of the `rows`' (a mask) place among their distinct symbols in sorted order, and those
    symbols. A categorical column (as the store reads them) is worked through its few categories, not
    its millions of rows."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(column.to_numpy()[rows], sort=True)
        return codes, pd.Index(uniques)
    codes = column.cat.codes.to_numpy()[rows]
    names = column.cat.categories.to_numpy(dtype=object)
    used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(names)))
    order = used[np.argsort(names[used], kind="stable")]  # Python's order of text, as factorize sorts it
    place = np.full(len(names) + 1, -1)
    place[order] = np.arange(len(order))
    return place[codes], pd.Index(names[order])


def symbol_lookup(symbols: pd.Index, column: pd.Series) -> np.ndarray:
    """Each row's column among `symbols` (-1: none); a categorical column through its categories."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return symbols.get_indexer(column)
    return np.r_[symbols.get_indexer(column.cat.categories), -1][column.cat.codes.to_numpy()]
