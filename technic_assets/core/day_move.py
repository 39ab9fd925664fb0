"""What a trader reads first about a name on a day: its % change, its volume and its relative volume.

From the raw bars of the sessions ending on the day (stored as traded), split-adjusted as of the day
(core.adjust), so a split on the day or in the window is not a crash or a volume spike:
  change_pct   100 x (the day's close / the previous bar's close - 1): the previous bar, not the
               previous session, so after a halt the move is from the last price that traded
  volume       the day's shares traded
  rel_volume   the day's volume / the mean volume of the symbol's `n` bars before the day (fewer where
               it has fewer; NaN where it has none or they average 0)
A symbol without a bar on the day has none of the three (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from technic_assets.core.adjust import split_adjust

MOVE_COLUMNS = ["change_pct", "volume", "rel_volume"]
BASE_SESSIONS = 20


def day_move(bars: pd.DataFrame, day: pd.Timestamp, n: int = BASE_SESSIONS) -> pd.DataFrame:
    """symbol, MOVE_COLUMNS for each symbol with a bar on `day` in `bars` (raw, BAR_COLUMNS, any order,
    ending on `day`: later rows are ignored)."""
    day = pd.Timestamp(day)
    bars = bars[pd.to_datetime(bars["date"]) <= day]
    if bars.empty:
        return pd.DataFrame({"symbol": pd.Series(dtype=object), **{c: pd.Series(dtype=float) for c in MOVE_COLUMNS}})
    adjusted = split_adjust(bars)  # sorted by (symbol, date)
    adjusted["date"] = pd.to_datetime(adjusted["date"])
    grouped = adjusted.groupby("symbol", sort=False)
    adjusted["previous_close"] = grouped["close"].shift(1)
    before = grouped["volume"].transform(lambda v: v.shift(1).rolling(n, min_periods=1).mean())
    adjusted["base_volume"] = before
    today = adjusted[adjusted["date"] == day]
    base = today["base_volume"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(base > 0, today["volume"].to_numpy(float) / base, np.nan)
    return pd.DataFrame({"symbol": today["symbol"].to_numpy(),
                         "change_pct": 100.0 * (today["close"].to_numpy(float) / today["previous_close"].to_numpy(float) - 1.0),
                         "volume": today["volume"].to_numpy(float), "rel_volume": rel})
