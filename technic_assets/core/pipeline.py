"""The whole core scan in one call: the same stage functions the assets run, chained without Dagster.

Used by the benchmarks, the CLI's tests and anyone who wants a scan from a DataFrame of bars. Every
stage takes and returns multi-day frames (a `date` column), so a day here is exactly a day there:
  1. TA-Lib indicators of each day's window, split-adjusted as of the day   (core.indicators)
  2. the smart filter                                                        (core.universe_filter)
  3. factor z-scores from indicators, fundamentals and splits                (core.factors)
  4. the regime from eight ETFs                                              (core.regime)
  5. ICS, MERIT (blending alpha forecasts when given), and the top N with reasons   (core.scoring)
The alpha forecasts themselves come from trained models (core.alpha_model.forecasts_for_days).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from technic_assets.core.factors import factors_for_days
from technic_assets.core.indicators import indicators_for_days
from technic_assets.core.regime import regime_for_days
from technic_assets.core.scoring import ALPHA_WEIGHT, ics_for_days, merit_for_days, rank_for_days
from technic_assets.core.universe_filter import FilterSettings, filter_days


@dataclass
class ScanResult:
    indicators: pd.DataFrame
    filtered: pd.DataFrame
    filter_counts: dict
    regime: pd.DataFrame
    scored: pd.DataFrame
    top: pd.DataFrame


def run_core_scan(bars: pd.DataFrame, universe: pd.DataFrame, fundamentals: pd.DataFrame, day: pd.Timestamp,
                  *, settings: FilterSettings = FilterSettings(), style: str = "medium", top_n: int = 25,
                  forecasts: pd.DataFrame | None = None, alpha_weight: float = ALPHA_WEIGHT,
                  sessions: pd.DatetimeIndex | None = None) -> ScanResult:
    """From a history window of raw bars ending on `day` to the ranked top N, for the day's listings
    and reports (no `date` column); `forecasts` (symbol, alpha_5d, alpha_10d) blend into MERIT as in
    the merit asset. `sessions` is the trading calendar (default: the NYSE's)."""
    if sessions is None:
        from technic_assets.core.calendar import nyse

        sessions = nyse().sessions
    day = pd.Timestamp(day)
    days = pd.DatetimeIndex([day])
    universe, fundamentals = universe.assign(date=day), fundamentals.assign(date=day)
    ind = indicators_for_days(bars, days, sessions).merge(universe[["date", "symbol"]], on=["date", "symbol"])
    kept, counts, _ = filter_days(universe, ind, days, settings)
    splits = bars.loc[bars["split_ratio"] != 1.0, ["date", "symbol", "split_ratio"]]
    factors, _ = factors_for_days(kept, ind, fundamentals, splits, style)
    regime = regime_for_days(ind, days)
    ics = ics_for_days(factors, style)
    if forecasts is None:
        forecasts = pd.DataFrame({"date": day, "symbol": kept["symbol"], "alpha_5d": float("nan"),
                                  "alpha_10d": float("nan")})
    merit, _ = merit_for_days(factors, ics, regime.set_index("date")["risk"], forecasts.assign(date=day),
                              style, alpha_weight)
    top, _ = rank_for_days(merit, kept, ind, top_n)
    return ScanResult(ind, kept, counts, regime, merit, top)
