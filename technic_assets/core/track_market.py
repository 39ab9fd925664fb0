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
    amount; paid on the symbol's first bar on or after the ex-date). Each day's growth is first close /
    previous close, then, at the few cells with a split or a dividend, the whole formula (the same
    operations in the same order as everywhere: the same numbers); the index compounds a row at a time."""
    price = bars["close"].to_numpy(float)
    symbol = bars["symbol"]
    coded = isinstance(symbol.dtype, pd.CategoricalDtype)
    named = symbol.cat.codes.to_numpy() >= 0 if coded else symbol.notna().to_numpy()  # a bar of no name: none
    ok = (price > 0) & named  # the columns masked, not the frame filtered: millions of rows are not copied
    ok = slice(None) if ok.all() else ok  # (nor masked where every bar has a price)
    t, sessions = date_codes(bars["date"].to_numpy()[ok])
    s, symbols = symbol_codes(bars["symbol"], ok)
    price = price[ok]
    shape = (len(sessions), len(symbols))
    cell = t * shape[1] + s  # each bar's cell of the sessions x symbols tables
    close = np.full(shape, np.nan)
    close.ravel()[cell] = price
    dollar_volume = np.broadcast_to(np.nan, shape)  # without a volume column: all NaN, and no table made
    if "volume" in bars:
        dollar_volume = np.full(shape, np.nan)
        dollar_volume.ravel()[cell] = price * bars["volume"].to_numpy(float)[ok]
    traded = np.isfinite(close)
    started = traded.copy()  # a bar on or before the session
    for day in range(1, shape[0]):  # a row at a time: numpy's accumulate down the columns of a wide table is slower
        np.logical_or(started[day - 1], traded[day], out=started[day])
    previous = np.empty(shape)  # the last close before each session (NaN before the first bar)
    previous[:1] = np.nan
    previous[1:] = close[:-1]
    gap = started[:-1] & ~traded[:-1]  # no bar the session before, one earlier: that one's close
    if gap.any():
        row, col = np.nonzero(gap)
        last_bar = np.maximum.accumulate(np.where(traded, np.arange(shape[0], dtype=np.int32)[:, None], -1), axis=0)
        previous[1:][row, col] = close[last_bar[row, col], col]
    grows = traded & np.isfinite(previous)
    growth_day = np.ones(shape)
    np.divide(close, previous, out=growth_day, where=grows)

    # the cells with a split or a dividend: r * (close + dividend) / previous close
    moved, split = np.zeros(0, dtype=int), np.zeros(0)
    if "split_ratio" in bars:
        split = bars["split_ratio"].to_numpy(float)[ok]
        moved = np.flatnonzero(~np.isnan(split) & (split != 1.0))
        moved, split = cell[moved], split[moved]
    cash = np.zeros(shape)
    if dividends is not None and len(dividends):
        code = symbol_lookup(symbols, dividends["symbol"])
        start = np.searchsorted(sessions.to_numpy(), pd.DatetimeIndex(dividends["ex_date"]).to_numpy("datetime64[ns]"))
        rows = np.arange(shape[0])[:, None]
        next_bar = np.minimum.accumulate(np.where(traded, rows, shape[0])[::-1], axis=0)[::-1]
        ok = (code >= 0) & (start < shape[0])
        paid = next_bar[start[ok], code[ok]]
        ok_paid = paid < shape[0]
        np.add.at(cash, (paid[ok_paid], code[ok][ok_paid]), dividends["amount"].to_numpy(float)[ok][ok_paid])
    special = np.unique(np.r_[moved, np.flatnonzero(cash)])
    special = special[grows.ravel()[special]]
    ratio = np.ones(len(special))
    ratio[np.searchsorted(special, moved[grows.ravel()[moved]])] = split[grows.ravel()[moved]]
    growth_day.ravel()[special] = (ratio * (close.ravel()[special] + cash.ravel()[special])
                                   / previous.ravel()[special])

    growth = np.empty((shape[0], shape[1] + 1))
    growth[:, -1] = 1.0  # cash
    index = growth[:, :-1]
    index[:1] = growth_day[:1]
    for day in range(1, shape[0]):
        np.multiply(index[day - 1], growth_day[day], out=index[day])
    index[~started] = 0.0
    return Market(sessions, symbols, growth, traded, dollar_volume)


def date_runs(dates) -> tuple[np.ndarray, np.ndarray]:
    """A column of dates (datetime64[ns]) as runs of one date: the first date of each run and its length.
    A store's rows come so, one date after another, so a lookup of each run's date is a lookup of
    a few hundred dates, not of millions of rows."""
    dates = pd.DatetimeIndex(dates).to_numpy("datetime64[ns]")
    start = np.flatnonzero(np.r_[len(dates) > 0, dates[1:] != dates[:-1]])
    return dates[start], np.diff(np.r_[start, len(dates)])


def date_codes(dates) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """pd.factorize(dates, sort=True), the dates as a DatetimeIndex, a run of one date at a time."""
    first, length = date_runs(dates)
    codes, uniques = pd.factorize(first, sort=True)
    return np.repeat(codes, length), pd.DatetimeIndex(uniques)


def date_positions(index: pd.DatetimeIndex, dates) -> np.ndarray:
    """index.get_indexer(dates) (-1: not in it), a run of one date at a time."""
    first, length = date_runs(dates)
    return np.repeat(index.get_indexer(first), length)


def symbol_codes(column: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Each of the `rows`' (a mask or a slice) place among their distinct symbols in sorted order, and those
    symbols. A categorical column (as the store reads them) is worked through its few categories, not
    its millions of rows."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(column.to_numpy()[rows], sort=True)
        return codes, pd.Index(uniques)
    codes = column.cat.codes.to_numpy()[rows]
    names = column.cat.categories.to_numpy(dtype=object)
    used = np.flatnonzero(np.bincount(codes + 1, minlength=len(names) + 1)[1:])  # code -1: no symbol
    order = used[np.argsort(names[used], kind="stable")]  # Python's order of text, as factorize sorts it
    place = np.full(len(names) + 1, -1, dtype=np.int32)
    place[order] = np.arange(len(order))
    return place[codes], pd.Index(names[order])


def symbol_lookup(symbols: pd.Index, column: pd.Series) -> np.ndarray:
    """Each row's column among `symbols` (-1: none); a categorical column through its categories."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return symbols.get_indexer(column)
    return np.r_[symbols.get_indexer(column.cat.categories), -1][column.cat.codes.to_numpy()]
