"""Rules for dirty bars, applied before anything is stored, each one counted.

  bad_key         symbol or date missing or blank: the bar is dropped (it belongs to nothing)
  bad_price       open, high, low or close missing, zero or negative, or volume missing or negative:
                  the bar is dropped (quarantined), never guessed
  duplicate       the same (date, symbol) twice: the last one read is kept
  filler          volume 0 and open = high = low = close: a feed's placeholder for a day without
                  trading; dropped, so the day counts as missing (like a halt), not as a flat day
  range_repaired  low above min(open, close) or high below max(open, close): high and low are widened
                  to the bar's extremes, keeping open and close as traded
  bad_split       a split ratio missing, zero or negative: set to 1 (no split)
  bad_dividend    a dividend missing, negative or infinite: set to 0 (none paid); bars without a
                  `dividend` column at all (a source from before dividends) pay none, uncounted
A positive ratio that the price gap contradicts is stored as given and flagged where a scan's window
holds it (core.adjust: "split_unverified"), since the gap alone cannot say what the right ratio was.
Missing days are left missing: each symbol's indicators run on the bars it has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RULES = ("bad_key", "bad_price", "duplicate", "filler", "range_repaired", "bad_split", "bad_dividend")


def clean_bars(bars: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """(clean bars, how many rows each rule touched). Works on column arrays and builds the result
    once: a two-year fill is three million rows."""
    o, h, l, c, v = (bars[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close", "volume"))
    codes, symbols = pd.factorize(bars["symbol"])  # a missing symbol gets code -1
    day_codes, _ = pd.factorize(bars["date"])
    blank = np.flatnonzero([not str(s).strip() for s in symbols])
    bad_key = (codes < 0) | np.isin(codes, blank) | (day_codes < 0)
    with np.errstate(invalid="ignore"):
        bad = bad_key | ~(np.isfinite(o) & np.isfinite(h) & np.isfinite(l) & np.isfinite(c) & np.isfinite(v)
                & (o > 0) & (h > 0) & (l > 0) & (c > 0) & (v >= 0))
    key = pd.Series(np.where(bad, -1 - np.arange(len(bad)), day_codes.astype(np.int64) * (codes.max() + 2) + codes))
    dup = key.duplicated(keep="last").to_numpy() & ~bad  # the last of each (date, symbol) stays
    filler = ~bad & ~dup & (v == 0) & (o == h) & (h == l) & (l == c)
    keep = ~(bad | dup | filler)
    hi, lo = np.maximum.reduce([o, h, l, c]), np.minimum.reduce([o, h, l, c])
    repaired = keep & ((hi != h) | (lo != l))
    ratio = bars["split_ratio"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad_ratio = keep & ~(np.isfinite(ratio) & (ratio > 0))
    cash = bars["dividend"].to_numpy(dtype=float) if "dividend" in bars.columns else np.zeros(len(bars))
    with np.errstate(invalid="ignore"):
        bad_cash = keep & ~(np.isfinite(cash) & (cash >= 0))
    out = pd.DataFrame({
        "date": bars["date"].to_numpy()[keep], "symbol": bars["symbol"].to_numpy()[keep],
        "open": o[keep], "high": hi[keep], "low": lo[keep], "close": c[keep], "volume": v[keep],
        "split_ratio": np.where(bad_ratio, 1.0, ratio)[keep], "dividend": np.where(bad_cash, 0.0, cash)[keep],
    }, copy=False)
    counts = {"bad_key": int(bad_key.sum()), "bad_price": int((bad & ~bad_key).sum()), "duplicate": int(dup.sum()),
              "filler": int(filler.sum()), "range_repaired": int(repaired.sum()), "bad_split": int(bad_ratio.sum()),
              "bad_dividend": int(bad_cash.sum())}
    return out, counts
