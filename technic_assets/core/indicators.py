"""Technical indicators with TA-Lib's semantics and names, for every symbol, as of the window's last day.

Each symbol's indicators are TA-Lib called on that symbol's own bars in the window (halted days simply
have no bar). EMA-based indicators (ema, macd, rsi, atr, adx) and OBV depend on where the window starts,
so the window length is fixed (`LOOKBACK` sessions) and the results equal TA-Lib on that same window.
Where the history is too short for an indicator it is NaN; `n_bars` says how much history there was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib


LOOKBACK = 300  # sessions of history read for each scan date
TRADING_DAYS = 252

INDICATOR_COLUMNS = [
    "close", "sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "rsi_14", "macd", "macd_signal",
    "macd_hist", "atr_14", "adx_14", "bb_upper", "bb_middle", "bb_lower", "roc_21", "roc_63",
    "roc_126", "roc_252", "obv", "realized_vol_21", "realized_vol_63", "adv_20", "price_cv_63",
    "ret_12_1",
]


class _RawTalib:
    """TA-Lib's compiled functions without the pandas/polars conversion wrapper around each call,
    which costs more than the arithmetic over 6,000 symbols (the wrapper keeps the original as
    `__wrapped__`)."""

    def __getattr__(self, name):
        func = getattr(talib, name)
        func = getattr(func, "__wrapped__", func)
        setattr(self, name, func)
        return func


ta = _RawTalib()


def _shifted_ratio(c: np.ndarray, lag: int, skip: int) -> np.ndarray:
    """c[t - skip] / c[t - lag] - 1 for every t (NaN until t >= lag)."""
    out = np.full(len(c), np.nan)
    if len(c) > lag:
        out[lag:] = c[lag - skip:len(c) - skip] / c[: len(c) - lag] - 1.0
    return out


def indicator_arrays(o, h, l, c, v) -> list[np.ndarray]:
    """Every indicator (INDICATOR_COLUMNS order) on every bar of one symbol's bars (float64 arrays,
    oldest first). TA-Lib returns arrays as long as its input, NaN until the period is filled.

    The daily scan takes the last element of each; the alpha model's history panel takes them all,
    so a model is trained on exactly the definitions it is later scored with.
    """
    n = len(c)
    macd, macd_signal, macd_hist = ta.MACD(c, 12, 26, 9)
    bb_upper, bb_middle, bb_lower = ta.BBANDS(c, 20, 2.0, 2.0, 0)  # 0: simple moving average
    # realized volatility: sample standard deviation of daily log returns, annualized
    logc = np.log(c)
    logret = np.empty(n)  # NaN, then the daily log returns (np.r_ costs more than the arithmetic here)
    logret[0] = np.nan
    np.subtract(logc[1:], logc[:-1], out=logret[1:])
    rv21 = np.sqrt(ta.VAR(logret, 21, 1.0) * 21 / 20 * TRADING_DAYS) if n > 21 else np.full(n, np.nan)
    rv63 = np.sqrt(ta.VAR(logret, 63, 1.0) * 63 / 62 * TRADING_DAYS) if n > 63 else np.full(n, np.nan)
    cv63 = np.sqrt(ta.VAR(c, 63, 1.0) * 63 / 62) / ta.SMA(c, 63)
    return [
        c, ta.SMA(c, 20), ta.SMA(c, 50), ta.SMA(c, 200),
        ta.EMA(c, 12), ta.EMA(c, 26), ta.RSI(c, 14),
        macd, macd_signal, macd_hist, ta.ATR(h, l, c, 14),
        ta.ADX(h, l, c, 14), bb_upper, bb_middle, bb_lower,
        ta.ROC(c, 21), ta.ROC(c, 63), ta.ROC(c, 126),
        ta.ROC(c, 252), ta.OBV(c, v), rv21, rv63, ta.SMA(c * v, 20), cv63, _shifted_ratio(c, 252, 21),
    ]


def symbol_indicators(o, h, l, c, v) -> list[float]:
    """The latest value of every indicator for one symbol's bars: NaN where the history is too short."""
    return [a[-1] for a in indicator_arrays(o, h, l, c, v)]


def compute_indicators(bars: pd.DataFrame) -> pd.DataFrame:
    """One row per symbol: its indicators on its last bar in `bars` (split-adjusted, sorted by symbol, date).

    Columns: symbol, last_date, n_bars, then INDICATOR_COLUMNS.
    """
    if bars.empty:
        return pd.DataFrame(columns=["symbol", "last_date", "n_bars", *INDICATOR_COLUMNS])
    symbols = bars["symbol"].to_numpy()
    starts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]])
    ends = np.r_[starts[1:], len(symbols)]
    cols = [np.ascontiguousarray(bars[c].to_numpy(dtype=np.float64)) for c in ("open", "high", "low", "close", "volume")]
    dates = bars["date"].to_numpy()
    rows = []
    with np.errstate(all="ignore"):
        for s, e in zip(starts, ends):
            rows.append(symbol_indicators(*(a[s:e] for a in cols)))
    out = pd.DataFrame(rows, columns=INDICATOR_COLUMNS)
    out.insert(0, "symbol", symbols[starts])
    out.insert(1, "last_date", dates[ends - 1])
    out.insert(2, "n_bars", (ends - starts).astype(np.int64))
    return out


def _bars_needed() -> np.ndarray:
    """For each indicator, the bars it needs before TA-Lib gives a value: found by running the same
    code on a long clean series, so it cannot disagree with `indicator_arrays`."""
    rng = np.random.default_rng(0)
    c = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    arrays = indicator_arrays(c, c * 1.01, c * 0.99, c, np.full(400, 1e6))
    return np.array([int(np.argmax(np.isfinite(a))) + 1 for a in arrays])


BARS_NEEDED = _bars_needed()
# how each column changes when prices are re-expressed in another day's shares (split adjustment)
PRICE_LEVEL = np.isin(INDICATOR_COLUMNS, ["close", "sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "macd",
                                          "macd_signal", "macd_hist", "atr_14", "bb_upper", "bb_middle", "bb_lower"])
VOLUME_LEVEL = np.isin(INDICATOR_COLUMNS, ["obv"])
OBV = INDICATOR_COLUMNS.index("obv")
RESEED_BARS = 250  # with this many bars in the window, an earlier EMA seed has decayed below 1e-7


def indicators_for_days(bars: pd.DataFrame, days: pd.DatetimeIndex, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """`compute_indicators` of the LOOKBACK-session window ending on each of `days`, in one TA-Lib pass
    per symbol over the whole span (a backfill's way: one pass instead of one per day).

    `bars` are raw (as traded) and cover the LOOKBACK - 1 sessions before days[0] through days[-1];
    `sessions` is the trading calendar. Each day's rows are what compute_indicators(split_adjust(its
    window)) gives: the symbols with a bar in the window, values on their last bar up to the day,
    prices in the day's shares (the pass is adjusted as of the last day, so a later split is divided
    back out), NaN where the window holds fewer bars than an indicator needs, and OBV counted from the
    window's first bar. Where the window holds RESEED_BARS bars or more, EMA-based values (ema, macd,
    rsi, atr, adx) start from an earlier seed than the day's own window and differ from it by less
    than 1e-7 of the price (the seed has decayed); shorter windows are computed on their own; every
    other value is the same arithmetic.
    """
    if len(days) == 1:
        return _one_day(bars, days[0], sessions)
    return _range_pass(bars, days, sessions)


def _range_pass(bars: pd.DataFrame, days: pd.DatetimeIndex, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    from technic_assets.core.adjust import split_adjust, split_factors, unverified_split_positions, windows_holding

    raw = bars.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
    adj = split_adjust(raw)
    codes = pd.factorize(raw["symbol"], sort=True)[0]
    after = split_factors(codes, raw["split_ratio"].to_numpy())  # splits after each row, to the end
    unverified = unverified_split_positions(raw, codes)
    row_session = sessions.get_indexer(pd.DatetimeIndex(adj["date"]))
    day_session = sessions.get_indexer(days)
    cols = [np.ascontiguousarray(adj[c].to_numpy(dtype=np.float64)) for c in ("open", "high", "low", "close", "volume")]
    symbols, dates = adj["symbol"].to_numpy(), adj["date"].to_numpy()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    out_values, out_day, out_row, out_n, out_suspect = [], [], [], [], []
    with np.errstate(all="ignore"):
        for s, e in zip(starts, ends):
            idx = row_session[s:e]
            last = np.searchsorted(idx, day_session, side="right") - 1  # last bar up to each day
            first = np.searchsorted(idx, day_session - (LOOKBACK - 1), side="left")  # first in its window
            ok = last >= first
            if not ok.any():
                continue
            last, first = last[ok], first[ok]
            arrays = indicator_arrays(*(a[s:e] for a in cols))
            values = np.column_stack([a[last] for a in arrays])  # only the rows the days need
            n_bars = last - first + 1
            values[n_bars[:, None] < BARS_NEEDED[None, :]] = np.nan
            obv = arrays[OBV]
            values[:, OBV] = obv[last] - obv[first] + cols[4][s:e][first]  # re-based on the window's first bar
            # A short window after earlier bars (a delisted name, a long halt): the EMA seeds differ too
            # much from the pass's, so those few rows are computed on their own window.
            for k in np.flatnonzero((first > 0) & (n_bars < RESEED_BARS)):
                window = (a[s + first[k]:s + last[k] + 1] for a in cols)
                values[k] = [a[-1] for a in indicator_arrays(*window)]
            scale = after[s:e][last]  # the day's shares: the splits after it divided back out
            values[:, PRICE_LEVEL] *= scale[:, None]
            values[:, VOLUME_LEVEL] /= scale[:, None]
            out_values.append(values)
            out_day.append(np.flatnonzero(ok))
            out_row.append(s + last)
            out_n.append(n_bars)
            out_suspect.append(windows_holding(unverified, s, e, first, last))
    if not out_values:
        return pd.DataFrame(columns=["date", "symbol", "last_date", "n_bars", *INDICATOR_COLUMNS, "split_unverified"])
    rows = np.concatenate(out_row)
    out = pd.DataFrame(np.concatenate(out_values), columns=INDICATOR_COLUMNS)
    out.insert(0, "date", days[np.concatenate(out_day)])
    out.insert(1, "symbol", symbols[rows])
    out.insert(2, "last_date", dates[rows])
    out.insert(3, "n_bars", np.concatenate(out_n).astype(np.int64))
    out["split_unverified"] = np.concatenate(out_suspect)
    return out.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def _one_day(bars: pd.DataFrame, day: pd.Timestamp, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """indicators_for_days for a single day (a daily run, a live screen): each symbol's pass is its
    window, so the pass's bookkeeping (re-seeding, scaling later splits back out, per-day windows) has
    nothing to do; the arithmetic is the same, value for value, at a third of the cost."""
    from technic_assets.core.adjust import split_adjust, unverified_split_positions

    start = sessions[max(0, sessions.get_loc(day) - (LOOKBACK - 1))]
    dated = bars["date"]
    raw = bars if dated.min() >= start and dated.max() <= day else bars[(dated >= start) & (dated <= day)]
    if not _sorted_by_symbol_and_date(raw):  # the store's window reads come sorted: no need to pay again
        raw = raw.sort_values(["symbol", "date"], kind="stable")
    raw = raw.reset_index(drop=True)
    if raw.empty:
        return pd.DataFrame(columns=["date", "symbol", "last_date", "n_bars", *INDICATOR_COLUMNS, "split_unverified"])
    adj = split_adjust(raw)
    symbols = raw["symbol"].to_numpy()
    starts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]])
    ends = np.r_[starts[1:], len(symbols)]
    codes = np.repeat(np.arange(len(starts)), ends - starts)
    cols = [np.ascontiguousarray(adj[c].to_numpy(dtype=np.float64)) for c in ("open", "high", "low", "close", "volume")]
    values = np.empty((len(starts), len(INDICATOR_COLUMNS)))
    with np.errstate(all="ignore"):
        for k, (s, e) in enumerate(zip(starts, ends)):
            arrays = indicator_arrays(*(a[s:e] for a in cols))
            values[k] = [a[-1] for a in arrays]
            values[k, OBV] = arrays[OBV][-1] - arrays[OBV][0] + cols[4][s]  # re-based on the window's first bar
    n_bars = (ends - starts).astype(np.int64)
    values[n_bars[:, None] < BARS_NEEDED[None, :]] = np.nan
    suspect = np.zeros(len(starts), dtype=bool)
    positions = unverified_split_positions(raw, codes)
    suspect[codes[positions[positions > starts[codes[positions]]]]] = True  # not on the symbol's first bar
    out = pd.DataFrame(values, columns=INDICATOR_COLUMNS)
    out.insert(0, "date", pd.DatetimeIndex([day] * len(starts)))
    out.insert(1, "symbol", symbols[starts])
    out.insert(2, "last_date", adj["date"].to_numpy()[ends - 1])
    out.insert(3, "n_bars", n_bars)
    out["split_unverified"] = suspect
    return out


def _sorted_by_symbol_and_date(bars: pd.DataFrame) -> bool:
    symbols, dates = bars["symbol"].to_numpy(), bars["date"].to_numpy()
    if len(symbols) < 2:
        return True
    same = symbols[1:] == symbols[:-1]
    return bool((symbols[1:][~same] > symbols[:-1][~same]).all() and (dates[1:][same] > dates[:-1][same]).all())
