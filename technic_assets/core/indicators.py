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

from technic_assets.core.adjust import symbol_bounds

LOOKBACK = 300  # sessions of history read for each scan date
TRADING_DAYS = 252

INDICATOR_COLUMNS = [
    "close", "sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "rsi_14", "macd", "macd_signal",
    "macd_hist", "atr_14", "adx_14", "bb_upper", "bb_middle", "bb_lower", "roc_21", "roc_63",
    "roc_126", "roc_252", "obv", "realized_vol_21", "realized_vol_63", "adv_20", "price_cv_63",
    "ret_12_1",
]


def _last(x: np.ndarray) -> float:
    return float(x[-1]) if len(x) else np.nan


def symbol_indicators(o, h, l, c, v) -> list[float]:
    """The latest value of every indicator for one symbol's bars (float64 arrays, oldest first)."""
    n = len(c)
    macd, macd_signal, macd_hist = talib.MACD(c, 12, 26, 9)
    bb_upper, bb_middle, bb_lower = talib.BBANDS(c, 20, 2.0, 2.0, talib.MA_Type.SMA)
    logret = np.diff(np.log(c))
    rv21 = logret[-21:].std(ddof=1) * np.sqrt(TRADING_DAYS) if n > 21 else np.nan
    rv63 = logret[-63:].std(ddof=1) * np.sqrt(TRADING_DAYS) if n > 63 else np.nan
    adv20 = float(np.mean(c[-20:] * v[-20:])) if n >= 20 else np.nan
    tail = c[-63:]
    cv63 = float(tail.std(ddof=1) / tail.mean()) if n >= 63 else np.nan
    ret_12_1 = c[-22] / c[-253] - 1.0 if n >= 253 else np.nan
    return [
        c[-1], _last(talib.SMA(c, 20)), _last(talib.SMA(c, 50)), _last(talib.SMA(c, 200)),
        _last(talib.EMA(c, 12)), _last(talib.EMA(c, 26)), _last(talib.RSI(c, 14)),
        _last(macd), _last(macd_signal), _last(macd_hist), _last(talib.ATR(h, l, c, 14)),
        _last(talib.ADX(h, l, c, 14)), _last(bb_upper), _last(bb_middle), _last(bb_lower),
        _last(talib.ROC(c, 21)), _last(talib.ROC(c, 63)), _last(talib.ROC(c, 126)),
        _last(talib.ROC(c, 252)), _last(talib.OBV(c, v)), rv21, rv63, adv20, cv63, ret_12_1,
    ]


def compute_indicators(bars: pd.DataFrame) -> pd.DataFrame:
    """One row per symbol: its indicators on its last bar in `bars` (split-adjusted, sorted by symbol, date).

    Columns: symbol, last_date, n_bars, then INDICATOR_COLUMNS.
    """
    if bars.empty:
        return pd.DataFrame(columns=["symbol", "last_date", "n_bars", *INDICATOR_COLUMNS])
    symbols = bars["symbol"].to_numpy()
    starts, ends = symbol_bounds(symbols)
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
