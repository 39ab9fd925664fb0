"""Compiled passes over a panel stacked day by day: one stage of the many-day screen per call.

core.days does each per-day statistic as a few numpy passes over 2M-row columns; a stage such as the
factors (winsorize each component, sector z-score it, weigh the components into factors, standardize
each factor) is then dozens of passes, and each fresh array costs about as much in page faults as in
arithmetic. Here a stage is one numba function that walks the days, a day's few thousand rows at a
time (they stay in the cache), with no array as large as the panel but its output. The arithmetic is
core.days' and core.factors' own (pandas' order statistics and linear interpolation, moments with a
second pass over the deviations, ddof 1), so each day's figures equal one day's pandas call to float
summation order (test_core_factors, test_screen_days). Days run on the machine's cores in threads
(the functions hold no GIL); numba compiles each function once and caches it beside this file.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

THREADED_ROWS = 200_000  # a smaller panel runs on one core: starting threads would cost more than they save


@njit(cache=True, nogil=True)
def _select(work, k, n):
    """Leaves the k-th smallest of work[:n] at work[k], smaller ones before it, larger after
    (quickselect, median of three: no randomness, so every run gives the same answer)."""
    lo, hi = 0, n - 1
    while hi > lo:
        mid = (lo + hi) // 2
        if work[mid] < work[lo]:
            work[mid], work[lo] = work[lo], work[mid]
        if work[hi] < work[lo]:
            work[hi], work[lo] = work[lo], work[hi]
        if work[hi] < work[mid]:
            work[hi], work[mid] = work[mid], work[hi]
        pivot = work[mid]
        i, j = lo, hi
        while i <= j:
            while work[i] < pivot:
                i += 1
            while work[j] > pivot:
                j -= 1
            if i <= j:
                work[i], work[j] = work[j], work[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@njit(cache=True, nogil=True)
def _order_pair(work, n, k):
    """(the k-th smallest, the (k+1)-th smallest, or the k-th again at the end) of work[:n]."""
    _select(work, k, n)
    a = work[k]
    if k + 1 >= n:
        return a, a
    b = work[k + 1]
    for i in range(k + 2, n):  # the next order statistic: the least of what select left above k
        if work[i] < b:
            b = work[i]
    return a, b


@njit(cache=True, nogil=True)
def _quantile(work, n, q):
    """The q quantile of work[:n] (no NaN; n > 0), linear interpolation, as core.days.Groups.quantile
    computes it (above one half: from the top, minus the 1 - q quantile of -x)."""
    if q <= 0.5:
        pos = q * (n - 1)
        lo = int(math.floor(pos))
        a, b = _order_pair(work, n, lo)
        return a + (pos - lo) * (b - a)
    pos = (1.0 - q) * (n - 1)
    lo = int(math.floor(pos))
    # the lo-th and (lo+1)-th largest are the (n-1-lo)-th and (n-2-lo)-th smallest
    top = n - 1 - lo
    if top - 1 >= 0:
        below, at = _order_pair(work, n, top - 1)
    else:
        _select(work, top, n)
        below = at = work[top]
    a, b = -at, -below
    if lo + 1 > n - 1:
        b = a
    return -(a + (pos - lo) * (b - a))


@njit(cache=True, nogil=True)
def _moments(values, n_rows, groups, n_groups):
    """Each group's count, mean and standard deviation (ddof 1, NaN below two) of values[:n_rows]
    (NaN skipped; a row of group -1 in none), the deviation from a second pass. A group of equal
    values has their value as its mean and no deviation, exactly, as pandas' (a sum divided by the
    count can miss the value by a rounding, and a z-score of that noise would be a full unit)."""
    count = np.zeros(n_groups, dtype=np.int64)
    total = np.zeros(n_groups)
    low = np.full(n_groups, np.inf)
    high = np.full(n_groups, -np.inf)
    for i in range(n_rows):
        g = groups[i]
        v = values[i]
        if g >= 0 and not math.isnan(v):
            count[g] += 1
            total[g] += v
            low[g] = min(low[g], v)
            high[g] = max(high[g], v)
    mean = np.full(n_groups, np.nan)
    for g in range(n_groups):
        if count[g] > 0:
            mean[g] = low[g] if low[g] == high[g] else total[g] / count[g]
    square = np.zeros(n_groups)
    for i in range(n_rows):
        g = groups[i]
        v = values[i]
        if g >= 0 and not math.isnan(v):
            d = v - mean[g]
            square[g] += d * d
    std = np.full(n_groups, np.nan)
    for g in range(n_groups):
        if count[g] > 1:
            std[g] = math.sqrt(square[g] / (count[g] - 1))
    return count, mean, std


@njit(cache=True, nogil=True)
def _spread(values, n_rows):
    """_moments of values[:n_rows] as one group: (mean, standard deviation, whether the deviation can
    scale: finite and above 0; elsewhere the callers' z-scores are x * 0)."""
    _, mean, std = _moments(values, n_rows, np.zeros(n_rows, dtype=np.int64), 1)
    return mean[0], std[0], math.isfinite(std[0]) and std[0] > 0


@njit(cache=True, nogil=True)
def _factor_days(raw, cols, rows, starts, sector, n_sectors, weights, min_size, lower, upper, out, missing, first,
                 last):
    """core.factors.compute_factors of days first..last-1 (rows starts[d]..starts[d+1]) into `out`
    (factors x rows) and `missing` (days x factors: rows without any component of a factor); a row's
    component c is raw[cols[c], rows[row]]."""
    n_comp, n_fac = len(cols), weights.shape[0]
    owner = np.zeros((n_comp, n_fac), dtype=np.int64)
    n_owner = np.zeros(n_comp, dtype=np.int64)
    for c in range(n_comp):
        for f in range(n_fac):
            if weights[f, c] != 0.0:
                owner[c, n_owner[c]] = f
                n_owner[c] += 1
    width = 0
    for d in range(first, last):
        width = max(width, starts[d + 1] - starts[d])
    work = np.empty(width)
    clipped = np.empty(width)
    total = np.empty((n_fac, width))
    present = np.empty((n_fac, width))
    there = np.empty((n_fac, width), dtype=np.bool_)
    local = np.empty(width, dtype=np.int64)
    for d in range(first, last):
        a, m = starts[d], starts[d + 1] - starts[d]
        for i in range(m):
            local[i] = sector[a + i]
        total[:, :m] = 0.0
        present[:, :m] = 0.0
        there[:, :m] = False
        for c in range(n_comp):
            # winsorize at the day's lower and upper quantiles
            k = 0
            column = raw[cols[c]]
            for i in range(m):
                v = column[rows[a + i]]
                if not math.isnan(v):
                    work[k] = v
                    k += 1
            low = high = np.nan
            if k > 0:
                low = _quantile(work, k, lower)
                high = _quantile(work, k, upper)  # select only reorders work[:k]
            for i in range(m):
                v = column[rows[a + i]]
                clipped[i] = min(max(v, low), high) if not math.isnan(v) else np.nan
            # z-score within the sector; a small sector, or a row in none, takes the day's moments
            size, mean, std = _moments(clipped, m, local, n_sectors)
            day_mean, day_std, _ = _spread(clipped, m)
            for i in range(m):
                v = clipped[i]
                if math.isnan(v):
                    continue
                g = local[i]
                mu, sd = day_mean, day_std
                if g >= 0 and size[g] >= min_size:
                    mu, sd = mean[g], std[g]
                if sd == 0.0 or math.isnan(sd):
                    continue
                z = (v - mu) / sd
                for k in range(n_owner[c]):  # the factors this component is in (one, as the styles have it)
                    f = owner[c, k]
                    w = weights[f, c]
                    total[f, i] += z * w
                    present[f, i] += abs(w)
                    there[f, i] = True
        # each factor: its components' weighted mean, standardized over the day, clipped, NaN as 0
        for f in range(n_fac):
            for i in range(m):
                if there[f, i] and present[f, i] > 0:
                    work[i] = total[f, i] / present[f, i]
                else:
                    work[i] = np.nan
                    missing[d, f] += 1
            mu, sd, usable = _spread(work, m)
            for i in range(m):
                v = work[i]
                if math.isnan(v) or not usable:
                    out[f, a + i] = 0.0
                else:
                    out[f, a + i] = min(max((v - mu) / sd, -3.0), 3.0)


@njit(cache=True, nogil=True)
def _day_moments(values, starts, count, mean, std):
    for d in range(len(starts) - 1):
        a, b = starts[d], starts[d + 1]
        c, m, s = _moments(values[a:b], b - a, np.zeros(b - a, dtype=np.int64), 1)
        count[d], mean[d], std[d] = c[0], m[0], s[0]


def day_moments(values: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each day's count, mean and standard deviation of `values` (rows starts[d]..starts[d+1]), as
    _moments: NaN skipped, ddof 1, a day of equal values without deviation."""
    n = len(starts) - 1
    count, mean, std = np.zeros(n, dtype=np.int64), np.empty(n), np.empty(n)
    _day_moments(np.ascontiguousarray(values, dtype=np.float64), np.asarray(starts, dtype=np.int64), count, mean,
                 std)
    return count, mean, std


def factor_days(raw: np.ndarray, cols: np.ndarray, rows: np.ndarray, starts: np.ndarray, sector: np.ndarray,
                n_sectors: int, weights: np.ndarray, min_size: int, lower: float = 0.01, upper: float = 0.99
                ) -> tuple[np.ndarray, np.ndarray]:
    """Factor z-scores (factors x rows) of a panel stacked day by day (`starts`: each day's first row,
    then the row count), row r's component c read at raw[cols[c], rows[r]] (raw: components x
    listings, each component's row contiguous: a caller's every listing, none copied), with each row's
    sector code (0 .. n_sectors - 1, -1: none) and each factor's weight of each component (factors x
    components, 0: not in it); and each factor's count of rows missing every component."""
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    sector = np.ascontiguousarray(sector, dtype=np.int64)
    cols, rows = np.asarray(cols, dtype=np.int64), np.asarray(rows, dtype=np.int64)
    if raw.dtype != np.float64 or raw.strides[1] != 8:
        raw = np.ascontiguousarray(raw, dtype=np.float64)
    n_days = len(starts) - 1
    out = np.empty((weights.shape[0], len(rows)))
    missing = np.zeros((max(n_days, 0), weights.shape[0]), dtype=np.int64)
    _over_days(lambda first, last: _factor_days(raw, cols, rows, starts, sector, n_sectors, weights, min_size, lower,
                                                upper, out, missing, first, last), starts)
    return out, missing.sum(axis=0)


def _over_days(run, starts: np.ndarray) -> None:
    """run(first, last) over the days in as many slices of about equal rows as there are cores, in
    threads (the kernels hold no GIL); one slice on one core, or for a small panel."""
    n_days = len(starts) - 1
    slices = min(os.cpu_count() or 1, n_days) if starts[-1] >= THREADED_ROWS else 1
    if slices <= 1:
        if n_days > 0:
            run(0, n_days)
        return
    bounds = np.searchsorted(starts, np.linspace(0, starts[-1], slices + 1)[1:-1])
    cuts = [0, *sorted(set(int(b) for b in bounds) - {0, n_days}), n_days]
    with ThreadPoolExecutor(len(cuts) - 1) as pool:
        for done in [pool.submit(run, a, b) for a, b in zip(cuts[:-1], cuts[1:])]:
            done.result()


@njit(cache=True, nogil=True)
def _merit_days(terms, weights, alpha, alpha_weight, rescale, realized_vol, adv, penalties, starts, out, first, last):
    """core.scoring.merit_score's MERIT of days first..last-1 into `out` (see merit_days)."""
    for d in range(first, last):
        a, b = starts[d], starts[d + 1]
        m = b - a
        blend = np.zeros(m)
        for t in range(len(terms)):
            w = weights[d, t]
            column = terms[t]
            for i in range(m):
                v = column[a + i] * w
                if not math.isnan(v):
                    blend[i] += v
        if rescale:  # the hand blend beside alpha: scaled to the day's spread, alpha added where the day has any
            some = False
            for i in range(m):
                if not math.isnan(alpha[a + i]):
                    some = True
                    break
            if some:
                _, spread, scale = _spread(blend, m)
                for i in range(m):
                    if scale:
                        blend[i] = blend[i] * (1.0 - alpha_weight) / spread
                    x = alpha[a + i]
                    blend[i] += alpha_weight * (0.0 if math.isnan(x) else x)
        _, sd, usable = _spread(blend, m)
        for i in range(m):
            z = blend[i] / sd if usable else blend[i] * 0.0
            base = 100.0 * 0.5 * math.erfc(-z / math.sqrt(2.0))  # 100 Phi(z)
            merit = base
            if penalties:  # volatility, then liquidity (none known: the full 10)
                rv, dv = realized_vol[a + i], adv[a + i]
                if not math.isnan(rv):
                    merit -= min(max(20.0 * (rv - 0.40), 0.0), 15.0)
                merit -= min(max(5.0 * math.log10(20e6 / dv), 0.0), 10.0) if dv > 0 else 10.0
            out[a + i] = min(max(merit, 0.0), 100.0)


def merit_days(terms: list[np.ndarray], weights: np.ndarray, starts: np.ndarray, realized_vol: np.ndarray,
               adv: np.ndarray, *, penalties: bool, alpha: np.ndarray | None = None, alpha_weight: float = 0.0
               ) -> np.ndarray:
    """MERIT (core.scoring.merit_score) of a panel stacked day by day: each day's blend of `terms`
    (each a column of the rows) by its row of `weights` (days x terms), NaN as 0; with `alpha` (the
    alpha z-score, NaN where missing), on a day that has any, the blend scaled to unit spread and
    weighted 1 - alpha_weight beside alpha_weight x alpha; mapped to 0-100 by the normal CDF of the
    blend over its day's deviation, less the risk penalties, clipped to 0-100."""
    columns = tuple(np.ascontiguousarray(t, dtype=np.float64) for t in terms)
    starts = np.asarray(starts, dtype=np.int64)
    out = np.empty(int(starts[-1]))
    rescale = alpha is not None
    alpha = np.ascontiguousarray(alpha if rescale else np.zeros(0), dtype=np.float64)
    rv = np.ascontiguousarray(realized_vol, dtype=np.float64)
    dv = np.ascontiguousarray(adv, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    _over_days(lambda first, last: _merit_days(columns, weights, alpha, float(alpha_weight), rescale, rv, dv,
                                               bool(penalties), starts, out, first, last), starts)
    return out


@njit(cache=True, nogil=True)
def _order_days(merit, ics, symbol_rank, starts, out, first, last):
    for d in range(first, last):
        a, b = starts[d], starts[d + 1]
        order = np.argsort(-merit[a:b], kind="mergesort") + a
        i = 0
        while i < b - a:  # a run of equal MERIT: by ICS (highest first), then by symbol
            j = i + 1
            while j < b - a and merit[order[j]] == merit[order[i]]:
                j += 1
            for k in range(i + 1, j):  # insertion sort: runs are short
                row = order[k]
                h = k - 1
                while h >= i and (ics[order[h]] < ics[row] or (ics[order[h]] == ics[row]
                                                               and symbol_rank[order[h]] > symbol_rank[row])):
                    order[h + 1] = order[h]
                    h -= 1
                order[h + 1] = row
            i = j
        out[a:b] = order


def order_days(merit: np.ndarray, ics: np.ndarray, symbol_rank: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The rows of a panel stacked day by day in ranking order (core.scoring.rank_top_n's): each day's
    rows by MERIT, then ICS (both highest first), then symbol."""
    starts = np.asarray(starts, dtype=np.int64)
    out = np.empty(int(starts[-1]), dtype=np.int64)
    m, i, r = (np.ascontiguousarray(x, dtype=t) for x, t in ((merit, np.float64), (ics, np.float64),
                                                              (symbol_rank, np.int64)))
    _over_days(lambda first, last: _order_days(m, i, r, starts, out, first, last), starts)
    return out


@njit(cache=True, nogil=True)
def _day_standardize(values, starts, out):
    for d in range(len(starts) - 1):
        a, b = starts[d], starts[d + 1]
        mean, std, usable = _spread(values[a:b], b - a)
        for i in range(a, b):
            out[i] = (values[i] - mean) / std if usable else values[i] * 0.0


def day_standardize(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each day's (x - mean) / std (core.factors.standardize per day): x * 0 (NaN stays NaN) on a day
    whose deviation is 0 or undefined."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty(len(values))
    _day_standardize(values, np.asarray(starts, dtype=np.int64), out)
    return out


@njit(cache=True, nogil=True)
def _day_gram(columns, y, starts, xx, xy, n, first, last):
    width = len(columns)
    for d in range(first, last):
        for i in range(starts[d], starts[d + 1]):
            if math.isnan(y[i]):
                continue
            usable = True
            for t in range(width):
                if not math.isfinite(columns[t][i]):
                    usable = False
                    break
            if not usable:
                continue
            n[d] += 1
            for t in range(width):
                v = columns[t][i]
                xy[d, t] += v * y[i]
                for u in range(t, width):
                    xx[d, t, u] += v * columns[u][i]
        for t in range(width):
            for u in range(t):
                xx[d, t, u] = xx[d, u, t]


def day_gram(columns: list[np.ndarray], y: np.ndarray, starts: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each day's x'x (days x terms x terms), x'y and row count over its rows with a finite label y and
    finite terms (x: the columns side by side): a ridge fit over any set of days sums its days'."""
    columns = tuple(np.ascontiguousarray(c, dtype=np.float64) for c in columns)
    starts = np.asarray(starts, dtype=np.int64)
    days, width = len(starts) - 1, len(columns)
    xx, xy, n = np.zeros((days, width, width)), np.zeros((days, width)), np.zeros(days, dtype=np.int64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    _over_days(lambda first, last: _day_gram(columns, y, starts, xx, xy, n, first, last), starts)
    return xx, xy, n
