"""How good is a score at ranking the next days' returns? The measures quants read, per day.

  ic              Pearson correlation of score and forward excess return
  rank_ic         Spearman correlation (Pearson of the ranks)
  quintile_spread mean excess return of the top fifth by score minus the bottom fifth
  hit_rate        share of names on the right side: score above its median and return above the
                  day's median, or both below
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_NAMES = 10
MEASURES = ("ic", "rank_ic", "quintile_spread", "hit_rate", "names")


def signal_quality(score, outcome) -> dict:
    """The MEASURES for one day's scores and realized forward returns (pairs with a NaN are dropped)."""
    frame = pd.DataFrame({"s": np.asarray(score, dtype=float), "r": np.asarray(outcome, dtype=float)}).dropna()
    n = len(frame)
    if n < MIN_NAMES or frame["s"].nunique() < 2:
        return {"ic": np.nan, "rank_ic": np.nan, "quintile_spread": np.nan, "hit_rate": np.nan, "names": n}
    s, r = frame["s"], frame["r"]
    quintile = np.ceil(s.rank(method="first") / n * 5)
    above = (s > s.median()).to_numpy()
    up = (r > r.median()).to_numpy()
    return {
        "ic": float(np.corrcoef(s, r)[0, 1]),
        "rank_ic": float(np.corrcoef(s.rank(), r.rank())[0, 1]),
        "quintile_spread": float(r[quintile == 5].mean() - r[quintile == 1].mean()),
        "hit_rate": float((above == up).mean()),
        "names": n,
    }


def t_stat(values) -> float:
    """t-statistic of the mean of daily values (NaN with fewer than two)."""
    v = np.asarray([x for x in values if np.isfinite(x)])
    return float(v.mean() / v.std(ddof=1) * np.sqrt(len(v))) if len(v) > 1 and v.std(ddof=1) > 0 else float("nan")
