"""The learned blend (issue 21, item 3): how much each term counts in MERIT, learned walk-forward.

Terms (BLEND_TERMS), each a z-score of the day's kept names: the seven factor z-scores, the alpha
z-score (0 where no forecast), and two short-horizon effects the factors leave out: `reversal`
(minus the one-month return, roc_21) and `overbought` (minus RSI 14), each standardized and clipped
at +-3.

The fit, for the month whose first session is T (refit monthly, as the alpha models are):
  - training days: scored days d with d + 1 + horizon + embargo sessions <= T - 1 (the label's
    entry at d + 1, its `horizon` sessions, an embargo), at most `window` sessions before T;
  - label: each day's tradable next-`horizon` return (bought at d + 1's close, as the track record
    buys), turned into its centred rank within the day, (rank - 0.5) / n - 0.5;
  - a ridge regression of the label on the terms over every training row, penalty `ridge` (a ranking
    objective for a linear blend: on centred ranks it maximises the pooled rank covariance),
    weights scaled to a unit sum of absolute values. Fewer than `min_days` training days: no blend
    (the caller falls back to the hand weights).
Everything is arrays in, arrays out: the caller hands the scored days and the returns; nothing dated
on or after T reaches T's weights (a test scrambles the later prices).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from technic_assets.core.days import Groups, as_days
from technic_assets.core.factors import FACTORS, standardize
from technic_assets.core.track_market import symbol_lookup

BLEND_TERMS = (*FACTORS, "alpha", "reversal", "overbought")
HORIZON, EMBARGO, WINDOW, MIN_DAYS, RIDGE = 5, 5, 252, 60, 100.0  # window and ridge chosen on the development period


def blend_terms(factors: pd.DataFrame, alpha: pd.Series | None, roc_21: pd.Series, rsi_14: pd.Series,
                days=None) -> pd.DataFrame:
    """The day's BLEND_TERMS per name (factors' index); with `days` (each row's date, or core.days.Days),
    of many days at once, each its own cross-section."""
    days = as_days(days)
    out = {f: factors[f].to_numpy(dtype=float) for f in FACTORS}  # shared with `factors`: neither is changed
    out["alpha"] = (np.zeros(len(factors)) if alpha is None else
                    np.nan_to_num(alpha.reindex(factors.index).to_numpy(dtype=float, na_value=np.nan), nan=0.0))
    for name, raw in (("reversal", roc_21), ("overbought", rsi_14)):
        z = standardize(-pd.Series(np.asarray(raw, dtype=float), index=factors.index), days).to_numpy()
        out[name] = np.nan_to_num(np.clip(z, -3, 3), nan=0.0)
    return pd.DataFrame(out, index=factors.index, copy=False)  # built from its arrays: no block copied


def centred_ranks(values: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Each value's rank within its day, (rank - 0.5) / n - 0.5 (ties averaged); NaN stays NaN. `days`:
    each row's day (any codes), or core.days.Days."""
    groups = days if isinstance(days, Groups) else Groups(*_codes(days))
    values = np.asarray(values, dtype=float)
    return (groups.ranks(values) - 0.5) / groups.at(groups.count(values)) - 0.5


def _codes(keys) -> tuple[np.ndarray, int]:
    code, unique = pd.factorize(np.asarray(keys))
    return code, len(unique)


def fit_weights(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """Ridge weights of y on the columns of x (rows with a NaN label dropped), unit sum of |w|."""
    ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
    x, y = x[ok], y[ok]
    return _solve(x.T @ x, x.T @ y, len(y), ridge)


def _solve(xx: np.ndarray, xy: np.ndarray, n: int, ridge: float) -> np.ndarray:
    """fit_weights from the sums x'x and x'y over its n rows."""
    if not n:
        return np.full(len(xy), np.nan)
    w = np.linalg.solve(xx / n + ridge * 1e-3 * np.eye(len(xy)), xy / n)
    total = np.abs(w).sum()
    return w / total if total > 0 else w


def fit_window(first, sessions: pd.DatetimeIndex) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The sessions a fit for the month starting at `first` may read (its `WINDOW` sessions before it;
    None: none before it)."""
    t = sessions.searchsorted(pd.Timestamp(first))
    return None if t == 0 else (sessions[max(0, t - WINDOW)], sessions[t - 1])


def training_days(days: pd.DatetimeIndex, first: pd.Timestamp, sessions: pd.DatetimeIndex, *,
                  horizon: int = HORIZON, embargo: int = EMBARGO, window: int = WINDOW) -> pd.DatetimeIndex:
    """The scored `days` a blend for the month starting at `first` may learn from."""
    t = sessions.searchsorted(first)
    pos = sessions.get_indexer(days)
    ok = (pos >= 0) & (pos + 1 + horizon + embargo <= t - 1) & (pos >= t - window)
    return days[ok]


def monthly_weights(terms: pd.DataFrame, labels: pd.Series, months: list, sessions: pd.DatetimeIndex, *,
                    horizon: int = HORIZON, embargo: int = EMBARGO, window: int = WINDOW, min_days: int = MIN_DAYS,
                    ridge: float = RIDGE) -> dict[pd.Timestamp, dict[str, float] | None]:
    """Each month's first session in `months` -> its weights by term (None: too little history).
    `terms`: date, symbol and BLEND_TERMS of every scored day; `labels`: the tradable next-`horizon`
    return of those rows (same index; NaN where unknown)."""
    code, unique = pd.factorize(pd.DatetimeIndex(terms["date"]))
    unique = pd.DatetimeIndex(unique)
    # a day's centred ranks are among its own rows, the same whichever month trains on it: ranked once;
    # and a month's x'x and x'y are sums of its days': each day's summed once
    groups = Groups(code, len(unique))
    ranks = centred_ranks(labels.to_numpy(dtype=float), groups)
    if groups.starts is not None:  # each day's rows in a row: the sums in one compiled pass
        from technic_assets.core.kernels import day_gram

        xx, xy, n = day_gram([terms[t].to_numpy(dtype=float) for t in BLEND_TERMS], ranks, groups.bounds)
    else:
        x = terms[list(BLEND_TERMS)].to_numpy(dtype=float)
        ok = np.isfinite(ranks) & np.isfinite(x).all(axis=1)
        rows = np.flatnonzero(ok)
        rows = rows[np.argsort(code[rows], kind="stable")]
        bounds = np.searchsorted(code[rows], np.arange(len(unique) + 1))
        xx = np.zeros((len(unique), x.shape[1], x.shape[1]))
        xy = np.zeros((len(unique), x.shape[1]))
        for d in range(len(unique)):
            xd, yd = x[rows[bounds[d]:bounds[d + 1]]], ranks[rows[bounds[d]:bounds[d + 1]]]
            xx[d], xy[d] = xd.T @ xd, xd.T @ yd
        n = np.diff(bounds)
    out = {}
    for first in months:
        train = training_days(unique, pd.Timestamp(first), sessions, horizon=horizon, embargo=embargo, window=window)
        if len(train) < min_days:
            out[pd.Timestamp(first)] = None
            continue
        these = unique.get_indexer(train)
        w = _solve(xx[these].sum(axis=0), xy[these].sum(axis=0), int(n[these].sum()), ridge)
        out[pd.Timestamp(first)] = dict(zip(BLEND_TERMS, map(float, w))) if np.isfinite(w).all() else None
    return out


def forward_returns(growth: np.ndarray, symbols: pd.Index, sessions: pd.DatetimeIndex, frame: pd.DataFrame,
                    horizon: int = HORIZON) -> pd.Series:
    """The tradable next-`horizon` return of each (date, symbol) row of `frame`: bought at the next
    session's close, sold `horizon` sessions later, from a total-return index (core.track_record's
    Market.growth); NaN where the name has no value then or the window runs past the sessions."""
    pos = sessions.get_indexer(pd.DatetimeIndex(frame["date"]))
    col = symbol_lookup(symbols, frame["symbol"])
    buy, sell = pos + 1, pos + 1 + horizon
    ok = (pos >= 0) & (col >= 0) & (sell < len(sessions))
    out = np.full(len(frame), np.nan)
    start = growth[buy[ok], col[ok]]
    end = growth[sell[ok], col[ok]]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = np.where(start > 0, end / start - 1.0, np.nan)
    return pd.Series(out, index=frame.index)
