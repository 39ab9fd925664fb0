"""The whole core scan in one call: the same functions the assets run, chained without Dagster.

Used by the benchmarks and by anyone who wants a scan from a DataFrame of bars. Steps:
  1. split-adjust the history window as of its last day      (core.adjust)
  2. TA-Lib indicators for every listing                      (core.indicators)
  3. the smart filter                                         (core.universe_filter)
  4. factor z-scores from indicators and fundamentals         (core.factors)
  5. the regime from eight ETFs                               (core.regime)
  6. ICS, MERIT (blending alpha forecasts when given), and the top N with reasons   (core.scoring)
The alpha forecasts themselves come from trained models (core.alpha_model), outside this chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from technic_assets.core.adjust import split_adjust, unverified_split_symbols
from technic_assets.core.factors import FACTORS, compute_factors, factor_panel
from technic_assets.core.indicators import compute_indicators
from technic_assets.core.regime import classify_regime
from technic_assets.core.scoring import ALPHA_WEIGHT, alpha_signal, ics_score, merit_score, rank_top_n
from technic_assets.core.universe_filter import FilterSettings, smart_filter


@dataclass
class ScanResult:
    indicators: pd.DataFrame
    filtered: pd.DataFrame
    filter_counts: dict
    regime: dict
    scored: pd.DataFrame
    top: pd.DataFrame


def run_core_scan(bars: pd.DataFrame, universe: pd.DataFrame, fundamentals: pd.DataFrame, day: pd.Timestamp,
                  *, settings: FilterSettings = FilterSettings(), style: str = "medium", top_n: int = 25,
                  forecasts: pd.DataFrame | None = None, alpha_weight: float = ALPHA_WEIGHT) -> ScanResult:
    """From a history window of raw bars ending on `day` to the ranked top N; `forecasts` (symbol,
    alpha_5d, alpha_10d) blend into MERIT as in the merit asset."""
    ind = compute_indicators(split_adjust(bars))
    ind = ind[ind["symbol"].isin(universe["symbol"])].reset_index(drop=True)
    ind["split_unverified"] = ind["symbol"].isin(unverified_split_symbols(bars))
    kept, counts, _ = smart_filter(universe, ind, day, settings)
    if kept.empty:
        raise ValueError(f"the filter left no symbols on {day:%Y-%m-%d}: {counts}")
    splits = bars.loc[bars["split_ratio"] != 1.0, ["date", "symbol", "split_ratio"]]
    panel = factor_panel(kept, ind, fundamentals, splits)
    z, _ = compute_factors(panel, style)
    z.index = panel["symbol"]
    regime = classify_regime(ind)
    alpha = None
    if forecasts is not None:
        alpha = alpha_signal(forecasts.set_index("symbol")[["alpha_5d", "alpha_10d"]].reindex(z.index))
    scored = merit_score(z[list(FACTORS)], panel.set_index("symbol")["realized_vol_63"],
                         panel.set_index("symbol")["adv_20"], style, regime["risk"], alpha, alpha_weight)
    scored = scored.join(ics_score(z[list(FACTORS)], style)["ics_score"]).reset_index()
    scored = scored.merge(kept[["symbol", "name", "sector"]], on="symbol").merge(ind, on="symbol")
    return ScanResult(ind, kept, counts, regime, scored, rank_top_n(scored, top_n))
