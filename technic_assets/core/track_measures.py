"""The measures of the track record, from daily values and from each day's scores and forward returns.

A book (nav: its value at each evaluated close, nav[0] = 1 the day before the first return; r its
daily returns, which compound):
  ann_return         CAGR: nav[-1] ** (252 / days) - 1 (the gross one from the book without costs)
  total_return       nav[-1] - 1
  volatility         std(r, ddof=1) * sqrt(252)
  sharpe             mean(r) / std(r, ddof=1) * sqrt(252), no risk-free rate
  excess_vs_universe mean(r - r_universe) * 252, both after costs (an arithmetic excess, as Qlib's)
  information_ratio  mean / std(ddof=1) of that daily excess * sqrt(252)
  excess_t_nw        Newey-West t of the mean daily excess, H - 1 lags (the tranches overlap)
  max_drawdown       min over days of nav / running max of nav - 1 (0 or negative)
  turnover           mean one-sided value traded over the book's value, over the closes after the
                     first purchase (its rolls), the closing sales aside
  hit_rate           share of days with a positive return (to 12 decimals: a flat day is flat)
The signal, per scored day, over the names that passed the filter and traded on the entry day:
  ic, rank_ic        Pearson and Spearman (ties averaged; forward returns rounded to 12 decimals
                     first, so that float noise never splits equal returns) of score and the
                     forward return; NaN on a
                     day with fewer than `min_names` names or a constant side. Their mean, std, ICIR
                     (mean / std) and Newey-West t with H - 1 lags over the days that have one.
  quintiles          the mean forward return of each fifth by score (ordinal ranks, ties by symbol,
                     fifth = ceil(5 * rank / n)), averaged over days with at least 5 names (and
                     min_names); spread = top - bottom.
"""

from __future__ import annotations

import numpy as np

YEAR = 252
TIE_DECIMALS = 12  # returns equal to 12 decimals are equal: the order of a sum must not make a flat day a gain


def newey_west_t(values, lags: int) -> float:
    """t-statistic of the mean of a series with autocorrelated terms (Bartlett weights, `lags` lags)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan")
    d = x - x.mean()
    var = d @ d / len(x)
    for lag in range(1, min(lags, len(x) - 1) + 1):
        var += 2 * (1 - lag / (lags + 1)) * (d[lag:] @ d[:-lag]) / len(x)
    return float(x.mean() / np.sqrt(var / len(x))) if var > 0 else float("nan")


def row_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(average ranks with ties averaged, ordinal ranks with ties in column order), 1-based, within
    each row of `x`; NaN stays NaN (it sorts last, so it never shares a rank)."""
    rows, width = x.shape
    order = np.argsort(x, axis=1, kind="stable")
    ordered = np.take_along_axis(x, order, axis=1)
    column = np.broadcast_to(np.arange(width), x.shape)
    new = np.ones(x.shape, dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = np.ones(x.shape, dtype=bool)
    ends[:, :-1] = new[:, 1:]
    run_first = np.maximum.accumulate(np.where(new, column, 0), axis=1)
    run_last = np.minimum.accumulate(np.where(ends, column, width)[:, ::-1], axis=1)[:, ::-1]
    average, ordinal = np.empty(x.shape), np.empty(x.shape)
    np.put_along_axis(average, order, (run_first + run_last) / 2 + 1, axis=1)
    np.put_along_axis(ordinal, order, column + 1.0, axis=1)
    missing = np.isnan(x)
    average[missing] = ordinal[missing] = np.nan
    return average, ordinal


def row_correlations(x: np.ndarray, y: np.ndarray, min_names: int) -> np.ndarray:
    """Pearson correlation within each row over the columns where both are finite."""
    both = np.isfinite(x) & np.isfinite(y)
    n = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = np.where(both, x - np.where(both, x, 0).sum(axis=1, keepdims=True) / n[:, None], 0.0)
        dy = np.where(both, y - np.where(both, y, 0).sum(axis=1, keepdims=True) / n[:, None], 0.0)
        corr = (dx * dy).sum(axis=1) / np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))
    constant = (np.nanmax(np.where(both, x, np.nan), axis=1, initial=-np.inf) ==
                np.nanmin(np.where(both, x, np.nan), axis=1, initial=np.inf)) | \
               (np.nanmax(np.where(both, y, np.nan), axis=1, initial=-np.inf) ==
                np.nanmin(np.where(both, y, np.nan), axis=1, initial=np.inf))
    return np.where((n >= max(min_names, 2)) & ~constant, corr, np.nan)


def ic_summary(daily: np.ndarray, horizon: int) -> dict:
    """Mean, std, ICIR and Newey-West t of daily ICs (the days that have one)."""
    v = daily[np.isfinite(daily)]
    std = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    mean = float(v.mean()) if len(v) else float("nan")
    return {"mean": mean, "std": std, "icir": mean / std if std > 0 else float("nan"),
            "t_nw": newey_west_t(v, horizon - 1), "days": int(len(v))}


def quintile_returns(ordinal: np.ndarray, outcome: np.ndarray, min_names: int) -> list[float]:
    """Mean over days of each fifth's mean outcome (rows: days; NaN: no name)."""
    n = np.isfinite(ordinal).sum(axis=1, keepdims=True)
    fifth = np.ceil(ordinal * 5 / n)
    days = (n[:, 0] >= max(5, min_names)) & np.isfinite(outcome).any(axis=1)
    return [float(np.nanmean(np.where(fifth == q, outcome, np.nan)[days], axis=1).mean()) if days.any()
            else float("nan") for q in range(1, 6)]


def book_measures(nav: np.ndarray, gross_nav: np.ndarray, universe_nav: np.ndarray, turnover: np.ndarray,
                  horizon: int) -> dict:
    """The measures of one book over the days of `nav` (values at closes, nav[0] the start)."""
    r, universe = nav[1:] / nav[:-1] - 1, universe_nav[1:] / universe_nav[:-1] - 1
    excess = r - universe
    days = len(r)
    sd = r.std(ddof=1) if days > 1 else float("nan")
    excess_sd = excess.std(ddof=1) if days > 1 else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "days": days,
            "ann_return": float(nav[-1] ** (YEAR / days) - 1),
            "ann_return_gross": float(gross_nav[-1] ** (YEAR / days) - 1),
            "total_return": float(nav[-1] - 1),
            "volatility": float(sd * np.sqrt(YEAR)),
            "sharpe": float(r.mean() / sd * np.sqrt(YEAR)) if sd > 0 else float("nan"),
            "excess_vs_universe": float(excess.mean() * YEAR),
            "information_ratio": float(excess.mean() / excess_sd * np.sqrt(YEAR)) if excess_sd > 0 else float("nan"),
            "excess_t_nw": newey_west_t(excess, horizon - 1),
            "max_drawdown": float((nav / np.maximum.accumulate(nav)).min() - 1),
            "turnover": float(turnover[1:-1].mean()) if days > 1 else float("nan"),
            "hit_rate": float((np.round(r, TIE_DECIMALS) > 0).mean()),
        }
