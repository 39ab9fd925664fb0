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
    logret = np.r_[np.nan, np.diff(np.log(c))]
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
