"""Is the model worth anything? Each score of each signal day `h` sessions back, against the
split-adjusted return realized since, in excess of the scored names' median; and the rolling view."""

from __future__ import annotations

import numpy as np
import pandas as pd

from technic_assets.core.alpha_features import HORIZONS
from technic_assets.core.signal_quality import signal_quality, t_stat

SCORES = ("ics_score", "merit_score", "alpha_5d", "alpha_10d")
EVALUATION_DTYPES = {"date": "datetime64[ns]", "signal_date": "datetime64[ns]", "horizon": "int64", "score": "string",
                     "ic": "float64", "rank_ic": "float64", "quintile_spread": "float64", "hit_rate": "float64",
                     "names": "int64"}
SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values) -> str:
    v = np.asarray([x for x in values if np.isfinite(x)])
    if len(v) == 0:
        return ""
    lo, hi = min(v.min(), 0.0), max(v.max(), 0.0)
    scale = (hi - lo) or 1.0
    return "".join(SPARK[int((x - lo) / scale * (len(SPARK) - 1))] for x in v)


def bar_matrices(bars: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(closes, split ratios) as date x symbol tables."""
    closes = bars.pivot_table(index="date", columns="symbol", values="close")
    ratios = bars.pivot_table(index="date", columns="symbol", values="split_ratio").fillna(1.0)
    return closes, ratios


def evaluate_day(day: pd.Timestamp, merit: pd.DataFrame, closes: pd.DataFrame, ratios: pd.DataFrame,
                 sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Each score of each signal day `h` sessions back (in `sessions`), against the split-adjusted
    return to `day` in excess of the scored names' median. `closes` and `ratios` are date x symbol."""
    rows = []
    position = sessions.get_loc(day)
    for h in HORIZONS:
        signal_date = sessions[max(0, position - h)]
        scored = merit[merit["date"] == signal_date].set_index("symbol")
        if scored.empty or signal_date not in closes.index or day not in closes.index:
            continue
        splits = ratios[(ratios.index > signal_date) & (ratios.index <= day)].prod()
        ret = closes.loc[day] * splits / closes.loc[signal_date] - 1.0
        ret = ret.reindex(scored.index)
        excess = ret - ret.median()
        for score in SCORES:
            if score.startswith("alpha_") and score != f"alpha_{h}d":
                continue
            if score not in scored or scored[score].isna().all():
                continue
            rows.append({"date": day, "signal_date": signal_date, "horizon": h, "score": score,
                         **signal_quality(scored[score], excess)})
    return pd.DataFrame(rows, columns=list(EVALUATION_DTYPES)).astype(EVALUATION_DTYPES)


def evaluate_days(days, merit: pd.DataFrame, bars: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """evaluate_day for each of `days`, from the scores and bars (date, symbol, close, split_ratio)."""
    closes, ratios = bar_matrices(bars)
    return pd.concat([evaluate_day(day, merit, closes, ratios, sessions) for day in days], ignore_index=True)


def rolling_summary(history: pd.DataFrame) -> pd.DataFrame:
    """Per score and horizon over `history` (evaluate_day rows): days, mean IC and rank IC, the rank
    IC's t-statistic, mean quintile spread and hit rate, and a sparkline of the daily rank IC."""
    history = history.sort_values("date")
    rolling = history.groupby(["score", "horizon"]).agg(
        days=("rank_ic", "count"), ic=("ic", "mean"), rank_ic=("rank_ic", "mean"),
        rank_ic_t=("rank_ic", t_stat), quintile_spread=("quintile_spread", "mean"), hit_rate=("hit_rate", "mean"),
    ).reset_index()
    rolling["trend"] = [sparkline(history[(history["score"] == r.score) & (history["horizon"] == r.horizon)]["rank_ic"])
                        for r in rolling.itertuples()]
    return rolling
