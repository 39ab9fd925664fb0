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
import pandas as pd

YEAR = 252
IC_HORIZONS = (1, 5, 10, 21)
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


def row_ranks(x: np.ndarray, ordinal: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(average ranks, ties averaged; ordinal ranks, ties in column order, unless not wanted), 1-based
    within each row of `x`; NaN stays NaN. One quicksort per row (NaN as +inf: the fast path), then
    the ties, which are few (flat names, equal scores), are settled on their own."""
    rows, width = x.shape
    missing = np.isnan(x)
    filled = np.where(missing, np.inf, x)
    order = np.argsort(filled, axis=1)
    ordered, average, ranks = np.empty(x.shape), np.empty(x.shape), np.arange(1.0, width + 1)
    for row in range(rows):  # a row at a time: its values stay in the cache
        np.take(filled[row], order[row], out=ordered[row])
        average[row, order[row]] = ranks
    ordinal = average.copy() if ordinal else None
    row, at = np.nonzero((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] < np.inf))
    if len(row):  # runs of equal sorted neighbours: (row, sorted positions first..last)
        start = np.r_[True, np.diff(row * width + at) != 1]
        first, last = at[start], at[np.r_[start[1:], True]] + 1
        size = last - first + 1
        run = np.repeat(np.arange(len(size)), size)
        position = first[run] + np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
        member_row = row[start][run]
        column = order[member_row, position]
        average[member_row, column] = (first[run] + last[run]) / 2 + 1
        if ordinal is not None:
            by_column = np.lexsort((column, run))  # within a run, the lower column first
            ordinal[member_row[by_column], column[by_column]] = (first[run] + 1 + np.arange(len(run))
                                                                - np.repeat(np.cumsum(size) - size, size))
    average[missing] = np.nan
    if ordinal is not None:
        ordinal[missing] = np.nan
    return average, ordinal


def centered(x: np.ndarray) -> tuple:
    """Per row: the finite values minus their mean (0 elsewhere), their sum of squares, how many, and
    whether they are all equal (exactly: a sum of squares of float noise is not a spread)."""
    valid = np.isfinite(x)
    n = valid.sum(axis=1)
    d = np.where(valid, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.subtract(x, (d.sum(axis=1) / n)[:, None], out=d, where=valid)
    constant = np.max(x, axis=1, where=valid, initial=-np.inf) == np.min(x, axis=1, where=valid, initial=np.inf)
    return d, (d * d).sum(axis=1), n, constant


def row_correlations(x: tuple, y: tuple, min_names: int) -> np.ndarray:
    """Pearson correlation within each row of two `centered` matrices finite on the same cells (or y on
    none): NaN with fewer than `min_names` (at least 2) or a constant side."""
    (dx, sx, nx, cx), (dy, sy, ny, cy) = x, y
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.einsum("ij,ij->i", dx, dy) / np.sqrt(sx * sy)
    return np.where((np.minimum(nx, ny) >= max(min_names, 2)) & ~cx & ~cy, corr, np.nan)


def ic_summary(daily: np.ndarray, horizon: int) -> dict:
    """Mean, std, ICIR and Newey-West t of daily ICs (the days that have one)."""
    v = daily[np.isfinite(daily)]
    std = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    mean = float(v.mean()) if len(v) else float("nan")
    return {"mean": mean, "std": std, "icir": mean / std if std > 0 else float("nan"),
            "t_nw": newey_west_t(v, horizon - 1), "days": int(len(v))}


def quintile_rows(ordinal: np.ndarray, outcome: np.ndarray, min_names: int) -> tuple[np.ndarray, np.ndarray]:
    """Each day's mean outcome of each fifth by ordinal rank (rows: days x 5; outcome finite where
    ordinal is) and which days have them: at least 5 names (and min_names) and an outcome."""
    rows = len(ordinal)
    valid = np.isfinite(ordinal)
    n = valid.sum(axis=1)
    days = (n >= max(5, min_names)) & np.isfinite(outcome).any(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # every cell's fifth, those not counted to a bin past the last
        fifth = np.ceil(5 * ordinal / n[:, None])
        key = np.where(valid & days[:, None], fifth.astype(int) + (np.arange(rows) * 5 - 1)[:, None], rows * 5).ravel()
    sums = np.bincount(key, outcome.ravel(), minlength=rows * 5 + 1)[:-1].reshape(rows, 5)
    counts = np.bincount(key, minlength=rows * 5 + 1)[:-1].reshape(rows, 5)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts, days


def quintile_returns(ordinal: np.ndarray, outcome: np.ndarray, min_names: int) -> list[float]:
    """Mean over days of each fifth's mean outcome (rows: days; outcome finite where ordinal is, on
    the days that have one)."""
    means, days = quintile_rows(ordinal, outcome, min_names)
    return _mean_fifths(means, days)


def _mean_fifths(means: np.ndarray, days: np.ndarray) -> list[float]:
    with np.errstate(invalid="ignore"):
        return [float(v) for v in means[days].mean(axis=0)] if days.any() else [float("nan")] * 5


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


def signal_measures(growth: np.ndarray, entry: np.ndarray, score: np.ndarray, columns: np.ndarray,
                    days: pd.DatetimeIndex, horizon: int, min_names: int) -> tuple[pd.DataFrame, dict]:
    """Daily IC and rank IC of each day's scores (days x names, NaN where none; `columns` the names'
    columns of the total-return index `growth`) against the tradable next-h return (bought at the
    entry close, sold h sessions later) at each horizon; their summary; the quintiles at `horizon`."""
    series = signal_series(growth, entry, score, columns, horizon, min_names)
    return signal_summary(series, days, entry, len(growth) - 1, horizon)


def signal_series(growth: np.ndarray, entry: np.ndarray, score: np.ndarray, columns: np.ndarray, horizon: int,
                  min_names: int, ic_horizons: tuple[int, ...] = IC_HORIZONS, memo: dict | None = None) -> dict:
    """signal_measures' per-day part: names, ic_h and rank_ic_h at each horizon (NaN where the window
    passes the last session of `growth`), and each day's quintile means at `horizon` with the days
    that have them. A day's values read nothing after its window, so the series of a longer span,
    cut (signal_summary's `last`), is the series of the shorter one. `ic_horizons` (the decay's): fewer
    cost fewer sorts of every name's forward return. `memo`: a dict that lives as long as these inputs
    (the same growth, entry, score and columns); each horizon's rows and the quintiles are kept in it
    and read back, so another record of the same scores (another cost, horizon) sorts only what is new."""
    memo = {} if memo is None else memo
    last = len(growth) - 1
    flat, width = growth.ravel(), growth.shape[1]
    series = {"names": np.isfinite(score).sum(axis=1), "ic_horizons": tuple(ic_horizons)}
    score_side = {}

    def scored():  # the score's side of every correlation: computed once, only if a horizon is new
        if not score_side:
            from_top, ordinal = row_ranks(-score)  # 1: the highest score; the ordinal's ties to the lower symbol
            score_side.update(by_score=centered(score), by_rank=centered(from_top), ordinal=ordinal,
                              bought=np.take(flat, (entry * width)[:, None] + columns))
        return score_side

    for h in sorted({*ic_horizons, horizon}):
        want = ("quintiles", h, min_names) if h == horizon else ("ic", h, min_names)
        if want not in memo:  # the quintiles are kept with their horizon's rows
            side = scored()
            with np.errstate(invalid="ignore", divide="ignore"):
                forward = np.take(flat, (np.minimum(entry + h, last) * width)[:, None] + columns) / side["bought"] - 1
            forward[~((entry + h <= last)[:, None] & np.isfinite(score))] = np.nan
            ic = row_correlations(side["by_score"], centered(forward), min_names)
            rank_ic = -row_correlations(
                side["by_rank"], centered(row_ranks(np.round(forward, TIE_DECIMALS), ordinal=False)[0]), min_names)
            memo[("ic", h, min_names)] = (ic, rank_ic)
            if h == horizon:
                memo[("quintiles", h, min_names)] = quintile_rows(side["ordinal"], forward, min_names)
        series[f"ic_{h}"], series[f"rank_ic_{h}"] = memo[("ic", h, min_names)]
        if h == horizon:
            series["quintiles"] = memo[("quintiles", h, min_names)]
    return series


def signal_summary(series: dict, days: pd.DatetimeIndex, entry: np.ndarray, last: int,
                   horizon: int) -> tuple[pd.DataFrame, dict]:
    """signal_measures of the first len(days) days of `series`, as known at session `last`: a day whose
    h-session window ends after it has no IC at h (nor quintiles at `horizon`)."""
    n = len(days)
    entry = entry[:n]
    signal = {"date": days, "names": series["names"][:n]}
    out = {"ic_decay": {}}
    for h in sorted({*series["ic_horizons"], horizon}):
        known = entry + h <= last
        ic = np.where(known, series[f"ic_{h}"][:n], np.nan)
        rank_ic = np.where(known, series[f"rank_ic_{h}"][:n], np.nan)
        signal[f"ic_{h}"], signal[f"rank_ic_{h}"] = ic, rank_ic
        if h in series["ic_horizons"]:
            ranked = ic_summary(rank_ic, h)
            out["ic_decay"][str(h)] = {"ic": ic_summary(ic, h)["mean"], "rank_ic": ranked["mean"],
                                       "rank_ic_t_nw": ranked["t_nw"], "days": ranked["days"]}
        if h == horizon:
            out["ic"], out["rank_ic"] = ic_summary(ic, h), ic_summary(rank_ic, h)
            means, have = series["quintiles"]
            fifths = _mean_fifths(means[:n], have[:n] & known)[::-1]  # listed from the lowest scores
            out["quintiles"] = {"mean_return": fifths, "spread": fifths[-1] - fifths[0]}
    return pd.DataFrame(signal), out


YEAR_MEASURES = ("days", "total_return", "volatility", "sharpe", "excess_vs_universe", "information_ratio",
                 "max_drawdown", "hit_rate")


def by_year(daily: pd.DataFrame, books: tuple[str, ...], horizon: int) -> list[dict]:
    """The measures of each book within each calendar year of the evaluated days, from its daily values
    (a column per book, `<book>_gross` beside where there is one, and `universe`); returns not annualized."""
    rows = []
    years = daily.index.year.to_numpy()
    for year in np.unique(years[1:]):
        at = np.flatnonzero(years == year)
        lo, hi = max(at[0] - 1, 0), at[-1] + 1  # from the close before the year's first evaluated day
        universe = daily["universe"].to_numpy()[lo:hi]
        for name in books:
            values = daily[name].to_numpy()[lo:hi]
            m = book_measures(values / values[0], values / values[0], universe, np.zeros(hi - lo), horizon)
            row = {"year": int(year), "portfolio": name, **{k: m[k] for k in YEAR_MEASURES}}
            if f"{name}_gross" in daily:
                gross = daily[f"{name}_gross"].to_numpy()[lo:hi]
                row["total_return_gross"] = float(gross[-1] / gross[0] - 1)
            rows.append(row)
    return rows
