"""Data-quality rules behind the asset checks, as plain functions returning (passed, details)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def bars_sane(bars: pd.DataFrame) -> tuple[bool, dict]:
    """0 < low <= min(open, close) <= max(open, close) <= high, and volume >= 0."""
    lo, hi = bars["low"], bars["high"]
    body_lo = np.minimum(bars["open"], bars["close"])
    body_hi = np.maximum(bars["open"], bars["close"])
    bad = ~((lo > 0) & (lo <= body_lo) & (body_hi <= hi) & (bars["volume"] >= 0))
    return not bad.any(), {"bad_rows": int(bad.sum()), "examples": ", ".join(bars.loc[bad, "symbol"].head(5))}


def unique_keys(frame: pd.DataFrame, keys=("date", "symbol")) -> tuple[bool, dict]:
    dup = frame.duplicated(list(keys), keep=False)
    return not dup.any(), {"duplicate_rows": int(dup.sum())}


def finite_where_history_suffices(ind: pd.DataFrame) -> tuple[bool, dict]:
    """Every indicator is finite for a symbol with a full window and a bar on every session."""
    full = ind[ind["n_bars"] >= 300]
    need = {"sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "rsi_14", "macd", "macd_signal",
            "macd_hist", "atr_14", "adx_14", "bb_upper", "bb_middle", "bb_lower", "roc_21", "roc_63",
            "roc_126", "roc_252", "obv", "realized_vol_21", "adv_20"}
    values = full[sorted(need)].to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    return not bad.any(), {"symbols_checked": len(full), "non_finite_values": int(bad.sum())}


def ranked_properly(top: pd.DataFrame, n: int, available: int) -> tuple[bool, dict]:
    """min(n, available) rows, ranks 1..k, merit descending."""
    k = min(n, available)
    ranks_ok = top["rank"].tolist() == list(range(1, len(top) + 1))
    desc = bool((np.diff(top["merit_score"].to_numpy()) <= 1e-12).all())
    return len(top) == k and ranks_ok and desc, {"rows": len(top), "expected_rows": k, "descending": desc}


# A day's inputs that shrink to under this share of what the store holds for that day are taken for a
# truncated or broken source (a file cut short, a header-only export, an API page lost), not for the
# market: no real day loses half its listings or half its bars from one reading to the next.
SHRINK_FLOOR = 0.5


def shrunk_days(stored: dict, new: dict) -> list[tuple]:
    """(day, stored count, new count) of each day of `new` whose count is below SHRINK_FLOOR of the
    store's count for that day (a day the store lacks, or holds without rows, cannot shrink)."""
    return [(day, stored.get(day, 0), count) for day, count in sorted(new.items())
            if count < SHRINK_FLOOR * stored.get(day, 0)]
