"""Many days' rows grouped once: the per-day (and per day and sector) statistics of a stacked panel.

A backtest re-screens hundreds of days at once (core.screen_days); every cross-sectional step of the
chain (winsorizing, sector z-scores, standardizing, MERIT's scaling and ranks, the blend's ranks) is a
statistic of each day's rows. pandas' groupby factorizes the dates again at each of those few dozen
calls and copies wide frames between them; here the dates are coded once (`Days`) and each statistic
is a few numpy reductions over 1-D columns: sums by `np.add.reduceat` where each group's rows are
contiguous (a panel stacked day by day), by `np.bincount` otherwise. The arithmetic is pandas' own
(NaN skipped, std with ddof 1 from a second pass over the deviations, quantiles by linear
interpolation, average ranks), so a day's figures equal one day's call to float summation order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from technic_assets.core.track_measures import row_ranks


class Groups:
    """Rows coded 0..n-1 by group (-1: in none; its statistics are NaN); `day`: each group's day code,
    for groups within days (Days.within)."""

    def __init__(self, code: np.ndarray, n: int, day: np.ndarray | None = None):
        self.code, self.n, self.day = np.asarray(code, dtype=np.int64), int(n), day
        ok = self.code >= 0
        self.starts = None
        if ok.all() and len(self.code) and (np.diff(self.code) >= 0).all() and \
                np.bincount(self.code, minlength=self.n).all():
            self.starts = np.flatnonzero(np.r_[True, self.code[1:] != self.code[:-1]])  # contiguous runs
        # contiguous groups' row bounds (each group's first row, then the row count): what every
        # compiled pass over them (core.kernels) walks by
        self.bounds = None if self.starts is None else np.r_[self.starts, len(self.code)]
        self._safe = np.where(ok, self.code, self.n)  # the rows in no group summed into a spare bin
        self._slots = None

    def _add(self, x: np.ndarray, dtype=None) -> np.ndarray:
        """Each group's sum of x (no NaN in it)."""
        if self.starts is not None:
            return np.add.reduceat(x, self.starts, dtype=dtype) if len(x) else np.zeros(self.n, dtype=dtype)
        return np.bincount(self._safe, x, minlength=self.n + 1)[: self.n].astype(dtype or float)

    def count(self, x: np.ndarray) -> np.ndarray:
        """Each group's count of values that are not NaN."""
        return self._add(~np.isnan(x), np.int64)

    def mean(self, x: np.ndarray) -> np.ndarray:
        return self.moments(x)[1]

    def std(self, x: np.ndarray) -> np.ndarray:
        return self.moments(x)[2]

    def moments(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each group's count, mean and standard deviation (ddof 1; NaN below two values) of x, NaN
        skipped; the deviation from a second pass over the deviations from the mean, as pandas'. (One
        mask and one work array: on a panel of millions of rows each new array costs more than a sum.)"""
        if self.starts is not None:  # each group's rows in a row: one compiled pass (core.kernels)
            from technic_assets.core.kernels import day_moments

            return day_moments(x, self.bounds)
        there = ~np.isnan(x)
        n = self._add(there, np.int64)
        work = np.where(there, x, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self._add(work) / n
            np.subtract(work, self.at(mean), out=work)
            np.multiply(work, work, out=work)
            work[~there] = 0.0
            std = np.sqrt(self._add(work) / np.where(n > 1, n - 1, np.nan))
        return n, mean, std

    def at(self, values: np.ndarray) -> np.ndarray:
        """Per-group values put on each row (NaN for a row in no group)."""
        if self.starts is not None:  # each group's rows in a row
            return np.repeat(values, np.diff(self.bounds))
        return np.r_[values, np.nan][self._safe]

    def padded(self, x: np.ndarray, fill: float) -> tuple[np.ndarray, tuple]:
        """x as a groups x (largest group) table, `fill` in the gaps, and each row's (group, slot)."""
        if self._slots is None:  # the same for every column: placed once
            order = np.argsort(self.code, kind="stable") if self.starts is None else None
            code = self.code if order is None else self.code[order]
            keep = code >= 0
            if not keep.all():
                order, code = (np.arange(len(code)) if order is None else order)[keep], code[keep]
            size = np.bincount(code, minlength=self.n)
            slot = np.arange(len(code)) - np.repeat(np.cumsum(size) - size, size)
            self._slots = (order, code, slot, max(int(size.max(initial=0)), 1))
        order, code, slot, width = self._slots
        table = np.full((self.n, width), fill)
        table[code, slot] = x if order is None else x[order]
        return table, (order, code, slot)

    def quantile(self, x: np.ndarray, q: float) -> np.ndarray:
        """Each group's q quantile of x (NaN skipped; linear interpolation, as pandas' and numpy's): the
        two order statistics it needs found by one partition of the groups' table (from the top for
        q above one half: minus the 1 - q quantile of -x)."""
        sign, q = (1.0, q) if q <= 0.5 else (-1.0, 1.0 - q)
        n = self.count(x)
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0).astype(int))
        table, _ = self.padded(sign * x, np.inf)
        table[np.isnan(table)] = np.inf  # after every value: the first n of a row are its values
        kth = np.unique(np.r_[lo, hi])
        part = np.partition(table, kth, axis=1)
        rows = np.arange(self.n)
        a, b = part[rows, lo], part[rows, hi]
        with np.errstate(invalid="ignore"):
            return sign * np.where(n > 0, a + (pos - lo) * (b - a), np.nan)

    def lexsort(self, keys: tuple) -> np.ndarray:
        """The rows in group order, then by `keys` within each group (np.lexsort's: the last key first).
        Contiguous groups are sorted one by one: a few thousand rows sort faster than the whole panel."""
        if self.starts is None:
            return np.lexsort((*keys, self.code))
        bounds = self.bounds
        return np.concatenate([np.zeros(0, dtype=np.int64)] + [
            a + np.lexsort(tuple(k[a:b] for k in keys)) for a, b in zip(bounds[:-1], bounds[1:])])

    def ranks(self, x: np.ndarray) -> np.ndarray:
        """Each row's average rank (1-based, ties averaged) among its group's values; NaN stays NaN."""
        table, (order, code, slot) = self.padded(x, np.nan)
        rank, _ = row_ranks(table, ordinal=False)
        out = np.full(len(x), np.nan)
        out[slice(None) if order is None else order] = rank[code, slot]
        return out


class Days(Groups):
    """Each row's date, coded once (days in order of first appearance)."""

    def __init__(self, dates):
        values = np.asarray(pd.Series(dates).to_numpy(), dtype="datetime64[ns]")
        if len(values) and (values[1:] >= values[:-1]).all():  # stacked day by day: no hashing
            code = np.cumsum(np.r_[False, values[1:] != values[:-1]])
            unique = values[np.r_[True, values[1:] != values[:-1]]]
        else:
            code, unique = pd.factorize(values)
        super().__init__(code, len(unique))
        self.unique = pd.DatetimeIndex(unique)

    def within(self, keys) -> Groups:
        """Groups of each day and key (a row with a missing key is in none)."""
        key, kinds = pd.factorize(np.asarray(keys, dtype=object))
        ok = key >= 0
        inner, unique = pd.factorize((self.code * (len(kinds) + 1) + key)[ok])
        code = np.full(len(key), -1, dtype=np.int64)
        code[ok] = inner
        return Groups(code, len(unique), day=np.asarray(unique) // (len(kinds) + 1))

    def of(self, by_date: pd.Series) -> np.ndarray:
        """A value per date (a Series indexed by date) put on each row."""
        return by_date.reindex(self.unique).to_numpy()[self.code]


def as_days(days) -> Days | None:
    """`days` (each row's date, or Days already made) as Days; None stays None."""
    return days if days is None or isinstance(days, Days) else Days(days)
