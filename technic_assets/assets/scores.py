"""Scores: the ICS, the regime-aware MERIT and the published top N."""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, Output, asset

from technic_assets.assets.common import STORE_METADATA, markdown_table, scan_day, schema
from technic_assets.core.factors import FACTORS
from technic_assets.core.quality_checks import ranked_properly
from technic_assets.core.scoring import ICS_WEIGHTS, alpha_signal, ics_score, merit_score, merit_weights, rank_top_n
from technic_assets.partitions import trading_days
from technic_assets.resources import AlphaSettings, ScanSettings

TOP_COLUMNS = ["rank", "symbol", "name", "sector", "merit_score", "ics_score", "alpha_5d", "alpha_10d", "close", "rsi_14", "roc_21",
               "roc_63", "sma_50", "sma_200", "adx_14", "realized_vol_63", "adv_20", "reasons"]


@asset(
    partitions_def=trading_days,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "symbol": "string", "ics_score": "0-100",
                                           **{f"contrib_{f}": "weight x z-score" for f in FACTORS}})},
    description="Institutional Core Score 0-100: 100 x Phi(weighted factor blend / its deviation).",
)
def ics(context, factors: pd.DataFrame, scan: ScanSettings):
    scores = ics_score(factors.set_index("symbol")[list(FACTORS)], scan.style).reset_index()
    scores.insert(0, "date", scan_day(context))
    return Output(scores, metadata={"rows": len(scores), "weights": str(ICS_WEIGHTS[scan.style]),
                                    "median": float(scores["ics_score"].median())})


@asset(
    partitions_def=trading_days,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "symbol": "string", "merit_score": "0-100",
                                           "merit_base": "0-100 before penalties",
                                           "volatility_penalty": "points", "liquidity_penalty": "points",
                                           "alpha_5d": "forecast 5-day excess return (NaN without a model)",
                                           "alpha_10d": "forecast 10-day excess return",
                                           "alpha_z": "the blended alpha z-score",
                                           "regime": "risk state used"})},
    description=(
        "MERIT 0-100: the factor blend tilted by the regime, blended with the alpha models' forecasts "
        "(weight: the alpha resource's `weight`), minus volatility and liquidity penalties."
    ),
)
def merit(context, factors: pd.DataFrame, ics: pd.DataFrame, market_regime: pd.DataFrame,
          alpha_forecasts: pd.DataFrame, scan: ScanSettings, alpha: AlphaSettings):
    risk = str(market_regime["risk"].iloc[0])
    f = factors.set_index("symbol")
    forecasts = alpha_forecasts.set_index("symbol")[["alpha_5d", "alpha_10d"]].reindex(f.index)
    has_alpha = bool(forecasts.notna().any().any())
    z = alpha_signal(forecasts) if has_alpha else None
    scored = merit_score(f[list(FACTORS)], f["realized_vol_63"], f["adv_20"], scan.style, risk,
                         alpha=z, alpha_weight=alpha.weight)
    scored = scored.join(ics.set_index("symbol")["ics_score"]).join(forecasts)
    scored["alpha_z"] = z.astype(float) if z is not None else float("nan")
    scored = scored.reset_index()
    scored.insert(0, "date", scan_day(context))
    scored["regime"] = risk
    return Output(scored, metadata={
        "rows": len(scored), "regime": risk, "weights": str(merit_weights(scan.style, risk)),
        "alpha": f"blended, weight {alpha.weight}" if has_alpha else "no alpha model yet: factor blend alone",
        "median": float(scored["merit_score"].median())})


@asset(
    partitions_def=trading_days,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({"rank": "1..N", "symbol": "string", "merit_score": "0-100",
                                           "ics_score": "0-100", "reasons": "largest contributions"})},
    check_specs=[AssetCheckSpec("top_n_ranked", asset="ranked_top_n",
                                description="N rows (or all there are), ranks 1..N, MERIT descending")],
    description="The published picks: top N by MERIT with the key indicators and the reasons behind each.",
)
def ranked_top_n(context, merit: pd.DataFrame, filtered_universe: pd.DataFrame, indicators: pd.DataFrame,
                 scan: ScanSettings):
    scored = (merit.drop(columns="date")
              .merge(filtered_universe[["symbol", "name", "sector"]], on="symbol")
              .merge(indicators.drop(columns="date"), on="symbol"))
    top = rank_top_n(scored, scan.top_n)
    out = top[TOP_COLUMNS].copy()
    out.insert(0, "date", scan_day(context))
    view = out[["rank", "symbol", "sector", "merit_score", "ics_score", "close", "reasons"]]
    yield Output(out, metadata={"rows": len(out), "top_n": markdown_table(view)})
    passed, details = ranked_properly(out, scan.top_n, len(scored))
    yield AssetCheckResult(check_name="top_n_ranked", passed=passed, metadata=details)
