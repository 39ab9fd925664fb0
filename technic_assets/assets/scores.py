"""Scores: the ICS, the regime-aware MERIT, the published top N and what changed in it, per saved screen."""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, MetadataValue, Output, asset

from technic_assets.assets.common import (
    DAILY,
    STORE_METADATA,
    previous_metadata,
    range_metadata,
    scan_days,
    schema,
    screen_rows,
    screen_span,
    screened,
    table_metadata,
)
from technic_assets.blend_history import fit_key, stored_weights
from technic_assets.charts import contributions_svg, markdown_image, sector_bars, sector_mix_svg
from technic_assets.config import AlphaSettings, ScanSettings, settings_record
from technic_assets.core.blend import fit_window
from technic_assets.core.calendar import DATE_FMT, nyse
from technic_assets.core.changes import CHANGE_COLUMNS, changes_between, empty_changes, summary
from technic_assets.core.factors import FACTORS
from technic_assets.core.frames import by_day
from technic_assets.core.peers import month_start
from technic_assets.core.quality_checks import ranked_properly
from technic_assets.core.scoring import ICS_WEIGHTS, TERMS, ics_for_days, merit_for_days, merit_weights, rank_for_days
from technic_assets.lineage import later_days, record_later, refit_days, wait_for_earlier
from technic_assets.screens import Screens
from technic_assets.storage import StoreResource


@asset(
    **DAILY,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "screen": "saved screen", "symbol": "string", "ics_score": "0-100",
                                           **{f"contrib_{f}": "weight x z-score" for f in FACTORS}})},
    description="Institutional Core Score 0-100: 100 x Phi(weighted factor blend / its deviation).",
)
def ics(context, factors: pd.DataFrame, scan: ScanSettings, screens: Screens):
    days = scan_days(context)
    runs = screens.resolve(scan)
    scores = screened({s.name: ics_for_days(screen_rows(factors, s.name), s.settings.style) for s in runs})
    return Output(scores, metadata={**range_metadata(days), "rows": len(scores),
                                    "weights": str(ICS_WEIGHTS[runs[0].settings.style]),
                                    "median": float(scores["ics_score"].median())})


@asset(
    **DAILY,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "screen": "saved screen", "symbol": "string", "merit_score": "0-100",
                                           "merit_base": "0-100 before penalties",
                                           "merit_raw": "the blend in deviations of the day, before the 0-100 map and penalties",
                                           "merit_pct": "MERIT's percentile in the day's cross-section (best 100)",
                                           "volatility_penalty": "points", "liquidity_penalty": "points",
                                           "alpha_5d": "z-score: forecast 5-day excess return in units of the day's "
                                                       "cross-sectional deviation (NaN without a model)",
                                           "alpha_10d": "z-score: forecast 10-day excess return",
                                           "alpha_z": "the blended alpha z-score",
                                           "regime": "risk state used"})},
    description=(
        "MERIT 0-100: the factor blend tilted by the regime, blended with the alpha models' forecasts "
        "(weight: the alpha resource's `weight`), minus volatility and liquidity penalties."
    ),
)
def merit(context, factors: pd.DataFrame, ics: pd.DataFrame, market_regime: pd.DataFrame,
          alpha_forecasts: pd.DataFrame, scan: ScanSettings, alpha: AlphaSettings, screens: Screens,
          store: StoreResource):
    days = scan_days(context)
    history, runs = store.history, screens.resolve(scan)
    regimes = market_regime.set_index("date")["risk"]
    weight = alpha.weight
    learned_runs = [s for s in runs if s.settings.ranking == "learned"]
    # a month's weights depend only on the stored days of the year before it (blend_history): the
    # evenings after its first reuse them from the latest materialization while what they were fitted
    # on is unchanged (fit_key), as the alpha models are trained once a month; runs computing those days
    # side by side are waited for
    cached, fresh, keys = previous_metadata(context, "learned_weights"), {}, {}

    def fit(screen: str, month: pd.Timestamp):
        if (screen, month) not in keys:
            keys[screen, month] = key = f"{screen}|{month:%Y-%m-%d}|{fit_key(history, screen, month)}"
            fresh[key] = cached[key] if key in cached else stored_weights(history, screen, month)
        return fresh[keys[screen, month]]

    if learned_runs:
        sessions = nyse().sessions
        spans = [fit_window(m, sessions) for m in {month_start(d, sessions) for d in days}]
        read = sorted({d for span in spans if span for d in sessions[sessions.searchsorted(span[0]):
                                                                    sessions.searchsorted(span[1]) + 1]} - set(days))
        for name in ("factors", "alpha_forecasts"):
            wait_for_earlier(context, history, name, read)
    scored, blended, learned_days = merit_rows(history, runs, days, factors, ics, regimes, alpha_forecasts, weight, fit)
    later = refit_days(history, days, runs)
    if later:  # scanned before this day was: their months' blend is fitted on it now
        stored = {name: history.read_dates(name, later) for name in ("factors", "ics", "alpha_forecasts")}
        regimes_later = history.read_dates("market_regime", later).set_index("date")["risk"]
        rows, _, _ = merit_rows(history, learned_runs, later, stored["factors"], stored["ics"], regimes_later,
                                stored["alpha_forecasts"], weight, fit)
        record_later(context, history, "merit", rows, later, days, screens=[s.name for s in learned_runs])
    risk = str(regimes[days[-1]])
    return Output(scored, metadata={
        **range_metadata(days), "rows": len(scored), "regime": risk,
        "weights": str(merit_weights(runs[0].settings.style, risk)),
        "alpha": (f"blended, weight {weight}" if blended == len(days) else
                  "no alpha model yet: factor blend alone" if not blended else
                  f"blended on {blended} of {len(days)} days (no model yet before)"),
        "learned_blend_days": learned_days, "learned_weights": MetadataValue.json(fresh),
        "median": float(scored["merit_score"].median())})


def merit_rows(history, runs, days, factors, ics, regimes, forecasts, weight, fit) -> tuple[pd.DataFrame, int, int]:
    """MERIT of `days` for each screen in `runs` (core.scoring.merit_for_days), a learned screen with its
    months' weights (`fit(screen, month)`): (the rows, days blended with alpha, days with learned weights)."""
    frames, blended, learned_days = {}, 0, 0
    for s in runs:
        learned = extras = None
        if s.settings.ranking == "learned":
            sessions = nyse().sessions
            learned = {d: fit(s.name, month_start(d, sessions)) for d in days}
            learned_days = sum(w is not None for w in learned.values())
            extras = history.read_span("indicators", days[0], days[-1], ["date", "symbol", "roc_21", "rsi_14"])
            extras = extras[extras["date"].isin(days)]
        frames[s.name], blended = merit_for_days(screen_rows(factors, s.name), screen_rows(ics, s.name), regimes,
                                                 forecasts, s.settings.style, weight,
                                                 tilt=s.settings.regime_tilt, penalties=s.settings.risk_penalties,
                                                 learned=learned, extras=extras)
    return screened(frames), blended, learned_days


@asset(
    **DAILY,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    metadata={**STORE_METADATA, **schema({"date": "timestamp", "screen": "saved screen", "rank": "1..N",
                                           "symbol": "string", "merit_score": "0-100",
                                           "merit_pct": "percentile of the day's cross-section (best 100)",
                                           "merit_raw": "the blend in deviations of the day",
                                           "ics_score": "0-100", "reasons": "largest contributions",
                                           "settings": "the screen's settings and alpha weight, as run (JSON)"})},
    check_specs=[AssetCheckSpec("top_n_ranked", asset="ranked_top_n",
                                description="N rows (or all there are) per screen, ranks 1..N, MERIT descending")],
    description="The published picks: top N by MERIT with the key indicators and the reasons behind each.",
)
def ranked_top_n(context, merit: pd.DataFrame, filtered_universe: pd.DataFrame, indicators: pd.DataFrame,
                 scan: ScanSettings, alpha: AlphaSettings, screens: Screens, store: StoreResource):
    days = scan_days(context)
    frames, checks, tables, charts = {}, [], {}, {}
    screens_run = screens.resolve(scan)
    for s in screens_run:
        top, available = rank_for_days(screen_rows(merit, s.name), screen_rows(filtered_universe, s.name),
                                       indicators, s.settings.top_n)
        frames[s.name] = top.assign(settings=settings_record(s.settings, alpha.weight))
        ranked = by_day(top, days)
        checks += [(s.name, day, *ranked_properly(ranked[day], s.settings.top_n, available.get(day, 0))) for day in days]
        last = ranked[days[-1]]
        tables[s.name] = table_metadata(
            last[["rank", "symbol", "sector", "merit_score", "ics_score", "alpha_5d", "close", "reasons"]])
        if s.name == screens_run[0].name:  # the charts for the first screen
            scored = screen_rows(merit, s.name)
            scored = scored[scored["date"] == days[-1]].set_index("symbol")
            kept = screen_rows(filtered_universe, s.name)
            kept = kept[kept["date"] == days[-1]]
            charts = {  # the sector mix in text, seen in place; the SVG charts one click away (charts.py)
                "sector_bars": sector_bars(kept["sector"].value_counts(), last["sector"].value_counts()),
                "contributions": markdown_image(contributions_svg(
                    scored.loc[last["symbol"]].reset_index(), list(TERMS)), "MERIT contributions of the top N"),
                "sector_mix": markdown_image(sector_mix_svg(kept["sector"].value_counts(), last["sector"].value_counts()),
                                             "names per sector: passed the filter, and in the top N"),
            }
    out = screened(frames)
    learned = [s for s in screens_run if s.settings.ranking == "learned"]
    later = refit_days(store.history, days, learned)
    if later:  # their MERIT was scored again by this run (lineage.refit_days): so is their top N
        stored = {name: store.history.read_dates(name, later) for name in ("merit", "filtered_universe", "indicators")}
        rows = screened({s.name: rank_for_days(screen_rows(stored["merit"], s.name),
                                               screen_rows(stored["filtered_universe"], s.name), stored["indicators"],
                                               s.settings.top_n)[0].assign(settings=settings_record(s.settings, alpha.weight))
                         for s in learned})
        record_later(context, store.history, "ranked_top_n", rows, later, days, screens=[s.name for s in learned])
    tables = {"top_n": tables.popitem()[1]} if len(tables) == 1 else {f"top_n_{k}": v for k, v in tables.items()}
    tables.update(charts)
    yield Output(out, metadata={**range_metadata(days), "rows": len(out), "screens": ", ".join(frames), **tables})
    failed = [(name, day, details) for name, day, passed, details in checks if not passed]
    details = {"screen": failed[0][0], **failed[0][2]} if failed else checks[-1][3]
    if len(checks) > 1:
        details = {**details, "failing": len(failed)}
    yield AssetCheckResult(check_name="top_n_ranked", passed=not failed, metadata=details)


CHANGES_SCHEMA = {
    "date": "timestamp", "screen": "saved screen", "symbol": "string", "change": "entry | exit | up | down | same",
    "rank": "today's rank (empty on exit)", "previous_rank": "the previous session's (empty on entry)",
    "rank_move": "previous_rank - rank: positive is up", "merit_score": "today's MERIT",
    "previous_merit_score": "the previous session's MERIT", "score_change": "merit_score - previous_merit_score",
}


@asset(
    **DAILY,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    # The previous session's top N and MERIT are read from the store once this run's days are stored
    # (the same-day edges), a run computing that session side by side waited for (technic_assets.lineage).
    # Before the first stored day there is nothing to compare, not an error.
    deps=["ranked_top_n", "merit"],
    metadata={**STORE_METADATA, **schema(CHANGES_SCHEMA)},
    description="What changed in the top N since the previous session: entries, exits, rank moves, MERIT changes.",
)
def changes(context, store: StoreResource, scan: ScanSettings, screens: Screens):
    days = scan_days(context)
    history, runs = store.history, screens.resolve(scan)
    for name in ("ranked_top_n", "merit"):
        wait_for_earlier(context, history, name, [nyse().previous_session(days[0])])
    out, meta = changes_for(context, history, days, runs)
    later = later_days(history, "changes", days, refit_days(history, days, runs))
    if later:  # scanned before this day was: they compared with nothing, or with what it was
        record_later(context, history, "changes", changes_for(context, history, later, runs)[0], later, days,
                     screens=[s.name for s in runs])
    if not meta:
        meta["status"] = f"no top N stored for {nyse().previous_session(days[-1]):{DATE_FMT}}: nothing to compare"
    return Output(out, metadata={**range_metadata(days), "rows": len(out), **meta})


def changes_for(context, history, days: list[pd.Timestamp], runs) -> tuple[pd.DataFrame, dict]:
    """Each screen's changes on `days` against its previous session's top N, both read from the store;
    with the last day's summary and table as metadata."""
    calendar = nyse()
    before = calendar.previous_session(days[0])
    frames, meta = [], {}
    for s in runs:
        tops = screen_span(history, "ranked_top_n", before, days[-1], ["date", "symbol", "rank", "merit_score"], s.name)
        scores = screen_span(history, "merit", before, days[-1], ["date", "symbol", "merit_score"], s.name)
        for day in days:
            previous = calendar.previous_session(day)
            today, earlier = tops[tops["date"] == day], tops[tops["date"] == previous]
            if earlier.empty or today.empty:
                continue
            found = changes_between(today, earlier, scores[scores["date"] == day], scores[scores["date"] == previous])
            frames.append(found.assign(date=day, screen=s.name))
            if day == days[-1]:
                meta[f"summary_{s.name}"] = summary(found)
                meta[f"changes_{s.name}"] = table_metadata(found)
                context.log.info(f"changes {day:{DATE_FMT}}, screen {s.name}: {summary(found)}")
    out = (pd.concat(frames, ignore_index=True) if frames else empty_changes().assign(screen=pd.Series(dtype=object)))
    out = out[["date", "screen", *CHANGE_COLUMNS]]
    # one type whichever write makes the table (an empty day's frame, or a day's rows): a store's table
    # would otherwise depend on the order of the runs
    return out.astype({"date": "datetime64[ns]"}), meta
