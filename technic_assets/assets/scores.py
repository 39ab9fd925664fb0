"""Scores: the ICS, the regime-aware MERIT and the published top N."""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, Output, asset

from technic_assets.assets.common import DAILY, STORE_METADATA, range_metadata, scan_days, schema, table_metadata
from technic_assets.core.changes import CHANGE_COLUMNS, changes_between, empty_changes, summary
from technic_assets.core.factors import FACTORS
from technic_assets.core.frames import by_day
from technic_assets.core.quality_checks import ranked_properly
from technic_assets.core.scoring import ICS_WEIGHTS, ics_for_days, merit_for_days, merit_weights, rank_for_days
from technic_assets.partitions import DATE_FMT, nyse
from technic_assets.resources import AlphaSettings, ScanSettings
from technic_assets.storage import StoreResource


@asset(
    **DAILY,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "symbol": "string", "ics_score": "0-100",
                                           **{f"contrib_{f}": "weight x z-score" for f in FACTORS}})},
    description="Institutional Core Score 0-100: 100 x Phi(weighted factor blend / its deviation).",
)
def ics(context, factors: pd.DataFrame, scan: ScanSettings):
    days = scan_days(context)
    scores = ics_for_days(factors, scan.style)
    return Output(scores, metadata={**range_metadata(days), "rows": len(scores),
                                    "weights": str(ICS_WEIGHTS[scan.style]),
                                    "median": float(scores["ics_score"].median())})


@asset(
    **DAILY,
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
    days = scan_days(context)
    regimes = market_regime.set_index("date")["risk"]
    weight = alpha.weight
    scored, blended = merit_for_days(factors, ics, regimes, alpha_forecasts, scan.style, weight)
    risk = str(regimes[days[-1]])
    return Output(scored, metadata={
        **range_metadata(days), "rows": len(scored), "regime": risk,
        "weights": str(merit_weights(scan.style, risk)),
        "alpha": (f"blended, weight {weight}" if blended == len(days) else
                  "no alpha model yet: factor blend alone" if not blended else
                  f"blended on {blended} of {len(days)} days (no model yet before)"),
        "median": float(scored["merit_score"].median())})


@asset(
    **DAILY,
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
    days = scan_days(context)
    out, available = rank_for_days(merit, filtered_universe, indicators, scan.top_n)
    ranked = by_day(out, days)
    checks = [(day, *ranked_properly(ranked[day], scan.top_n, available.get(day, 0))) for day in days]
    view = ranked[days[-1]][["rank", "symbol", "sector", "merit_score", "ics_score", "alpha_5d", "close", "reasons"]]
    yield Output(out, metadata={**range_metadata(days), "rows": len(out), "top_n": table_metadata(view)})
    failed = [(day, details) for day, passed, details in checks if not passed]
    details = failed[0][1] if failed else checks[-1][2]
    if len(days) > 1:
        details = {**details, "days_failing": len(failed)}
    yield AssetCheckResult(check_name="top_n_ranked", passed=not failed, metadata=details)


CHANGES_SCHEMA = {
    "date": "timestamp", "symbol": "string", "change": "entry | exit | up | down | same",
    "rank": "today's rank (empty on exit)", "previous_rank": "the previous session's (empty on entry)",
    "rank_move": "previous_rank - rank: positive is up", "merit_score": "today's MERIT",
    "previous_merit_score": "the previous session's MERIT", "score_change": "merit_score - previous_merit_score",
}


@asset(
    **DAILY,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    # The previous session is read from the store, as alpha_evaluation reads its signal days: the first
    # scanned day has none, which is "nothing to compare", not an error.
    metadata={**STORE_METADATA, **schema(CHANGES_SCHEMA)},
    description="What changed in the top N since the previous session: entries, exits, rank moves, MERIT changes.",
)
def changes(context, ranked_top_n: pd.DataFrame, merit: pd.DataFrame, store: StoreResource):
    days = scan_days(context)
    calendar = nyse()
    before = calendar.previous_session(days[0])
    stored_top = store.history.read_dates("ranked_top_n", [before])
    stored_merit = store.history.read_span("merit", before, before, ["date", "symbol", "merit_score"])
    tops = pd.concat([f for f in (stored_top, ranked_top_n) if len(f)], ignore_index=True)
    scores = pd.concat([f for f in (stored_merit, merit[["date", "symbol", "merit_score"]]) if len(f)],
                       ignore_index=True)
    frames, compared = [], []
    for day in days:
        previous = calendar.previous_session(day)
        today, earlier = tops[tops["date"] == day], tops[tops["date"] == previous]
        if earlier.empty or today.empty:
            continue
        compared.append(day)
        frames.append(changes_between(today, earlier, scores[scores["date"] == day],
                                      scores[scores["date"] == previous]).assign(date=day))
    out = pd.concat(frames, ignore_index=True)[["date", *CHANGE_COLUMNS]] if frames else empty_changes()
    last = out[out["date"] == days[-1]]
    meta = {**range_metadata(days), "rows": len(out), "days_compared": len(compared)}
    if last.empty:
        meta["status"] = f"no top N stored for {calendar.previous_session(days[-1]):{DATE_FMT}}: nothing to compare"
    else:
        meta["summary"] = summary(last)
        meta["entries"] = int((last["change"] == "entry").sum())
        meta["exits"] = int((last["change"] == "exit").sum())
        meta["changes"] = table_metadata(last.drop(columns="date"))
        context.log.info(f"changes {days[-1]:{DATE_FMT}}: {meta['summary']}")
    return Output(out, metadata=meta)
