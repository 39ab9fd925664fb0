"""Rules for dirty bars, applied before anything is stored, each one counted.

  bad_price       open, high, low or close missing, zero or negative, or volume missing or negative:
                  the bar is dropped (quarantined), never guessed
  duplicate       the same (date, symbol) twice: the last one read is kept
  filler          volume 0 and open = high = low = close: a feed's placeholder for a day without
                  trading; dropped, so the day counts as missing (like a halt), not as a flat day
  range_repaired  low above min(open, close) or high below max(open, close): high and low are widened
                  to the bar's extremes, keeping open and close as traded
  bad_split       a split ratio missing, zero or negative: set to 1 (no split)
Missing days are left missing: each symbol's indicators run on the bars it has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RULES = ("bad_price", "duplicate", "filler", "range_repaired", "bad_split")


def clean_bars(bars: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """(clean bars, how many rows each rule touched)."""
    counts = dict.fromkeys(RULES, 0)
    prices = bars[["open", "high", "low", "close"]].to_numpy(dtype=float)
    volume = bars["volume"].to_numpy(dtype=float)
    bad = ~(np.isfinite(prices).all(axis=1) & (prices > 0).all(axis=1) & np.isfinite(volume) & (volume >= 0))
    counts["bad_price"] = int(bad.sum())
    out = bars[~bad]
    dup = out.duplicated(["date", "symbol"], keep="last")
    counts["duplicate"] = int(dup.sum())
    out = out[~dup]
    o, h, l, c = (out[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    filler = (out["volume"].to_numpy() == 0) & (o == h) & (h == l) & (l == c)
    counts["filler"] = int(filler.sum())
    out = out[~filler].copy()
    o, h, l, c = (out[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    hi, lo = np.maximum.reduce([o, h, l, c]), np.minimum.reduce([o, h, l, c])
    repaired = (hi != h) | (lo != l)
    counts["range_repaired"] = int(repaired.sum())
    out["high"], out["low"] = hi, lo
    ratio = out["split_ratio"].to_numpy(dtype=float)
    bad_ratio = ~(np.isfinite(ratio) & (ratio > 0))
    counts["bad_split"] = int(bad_ratio.sum())
    out["split_ratio"] = np.where(bad_ratio, 1.0, ratio)
    return out.reset_index(drop=True), counts
