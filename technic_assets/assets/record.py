"""The track record: every evening, each saved screen's record to date, as that evening could know it.

The record of day d is technic_assets.track's over every stored evening up to d and the bars up to d
(a range run computes every day's from one read and one evaluation: day d's is a prefix of the last's):
the picks bought at the next close and held `HORIZON` sessions, after `COST_BPS` a side, beside the
universe, the benchmark, 12-1 momentum and random books. It reads every earlier evening, so a run that
stores an earlier day recomputes the later records already stored (technic_assets.lineage), and the
store ends the same whatever the order of the runs.
"""

from __future__ import annotations

import time

import pandas as pd
from dagster import MaterializeResult, Output, asset

from technic_assets.assets.common import DAILY, STORE_METADATA, range_metadata, scan_days, schema, table_metadata
from technic_assets.charts import equity_svg, markdown_image, sparklines
from technic_assets.config import ScanSettings
from technic_assets.core.calendar import DATE_FMT
from technic_assets.lineage import later_days, record_later, wait_for_earlier
from technic_assets.screens import Screens
from technic_assets.storage import StoreResource
from technic_assets.track import ready_for_settings, stored_records

HORIZON, COST_BPS, BENCHMARK = 5, 10.0, "SPY"
READY_FROM = 21  # stored evenings from which the re-screen's inputs are made ahead (fewer read in a second or two)
BOOKS = ("top_n", "universe", "benchmark", "momentum_12_1", "random")
MEASURES = ("ann_return", "ann_return_gross", "volatility", "sharpe", "excess_vs_universe", "information_ratio",
            "max_drawdown", "turnover", "hit_rate")
RECORD_SCHEMA = {
    "date": "timestamp (the evening the record is as of)", "screen": "saved screen",
    "book": "top_n | universe | benchmark | momentum_12_1 | random (the mean of the random books)",
    "first_day": "the first evaluated session", "days": "evaluated sessions",
    **{m: f"{m.replace('_', ' ')}, a fraction (net of {COST_BPS:g} bps a side unless gross), held {HORIZON} sessions"
       for m in MEASURES},
    "rank_ic": f"top_n only: mean daily rank IC of MERIT against the next {HORIZON} sessions' return",
    "rank_ic_t_nw": "top_n only: its Newey-West t",
}
COLUMNS = list(RECORD_SCHEMA)


@asset(
    **DAILY,
    group_name="scores",
    kinds={"duckdb", "pandas"},
    # Every earlier evening's top N, MERIT and filtered universe, and the bars, are read from the store
    # once this run's days are stored; runs computing an earlier evening side by side are waited for.
    deps=["ranked_top_n", "merit", "filtered_universe", "price_bars"],
    metadata={**STORE_METADATA, **schema(RECORD_SCHEMA)},
    description=(f"Each screen's track record to date: its picks bought at the next close and held {HORIZON} "
                 f"sessions after {COST_BPS:g} bps a side, against the filtered universe, {BENCHMARK}, 12-1 "
                 "momentum and random books (technic backtest for any horizon, cost or settings)."),
)
def track_record(context, store: StoreResource, scan: ScanSettings, screens: Screens):
    days = scan_days(context)
    history, runs = store.history, screens.resolve(scan)
    for name in ("ranked_top_n", "merit", "filtered_universe"):
        wait_for_earlier(context, history, name, days, every_earlier=True)
    started = time.perf_counter()
    out, meta = records_for(history, days, runs)
    later = later_days(history, "track_record", days)
    if later:  # computed before this day was stored: without it
        record_later(context, history, "track_record", records_for(history, later, runs)[0], later, days,
                     screens=[s.name for s in runs])
    return Output(out, metadata={**range_metadata(days), "rows": len(out), **meta,
                                 "seconds": round(time.perf_counter() - started, 3)})


@asset(
    **DAILY,
    group_name="scores",
    kinds={"duckdb"},
    # the run's last step: any write after it would make another store version, and these files with it
    deps=["track_record", "changes", "alpha_evaluation"],
    description=("The stored evenings' inputs, read and prepared for re-screening with any settings (technic "
                 "backtest --style ..., the page's track panel), kept in files beside the store: the first "
                 "settings tried after this evening take seconds, not the read of every evening."),
)
def rescreen_inputs(context, store: StoreResource, scan: ScanSettings, screens: Screens) -> MaterializeResult:
    history, screen = store.history, screens.resolve(scan)[0]
    if history.beside() is None:
        return MaterializeResult(metadata={"status": "not kept: this store keeps no files beside it (Iceberg)"})
    started = time.perf_counter()
    try:
        days = ready_for_settings(history, screen.name, screen.settings, horizon=HORIZON, least=READY_FROM)
    except ValueError as exc:  # no stored evening of the screen yet
        return MaterializeResult(metadata={"status": f"not kept: {exc}"})
    if len(days) < READY_FROM:
        return MaterializeResult(metadata={"status": f"not kept ahead: {len(days)} evenings (from {READY_FROM})"})
    return MaterializeResult(metadata={
        "status": "kept", "screen": screen.name, "evenings": len(days), "first": f"{days[0]:{DATE_FMT}}",
        "last": f"{days[-1]:{DATE_FMT}}", "seconds": round(time.perf_counter() - started, 3)})


def records_for(history, days: list[pd.Timestamp], runs) -> tuple[pd.DataFrame, dict]:
    """Each screen's record as of each of `days`, from one read and one evaluation per screen
    (technic_assets.track.stored_records: a range run costs about one record, not one per day); the
    first screen's last record as metadata."""
    frames, meta = [], {}
    for s in runs:
        try:
            # the rows keep the rank IC at HORIZON alone: the decay's other horizons are not computed
            records = stored_records(history, s.name, days, horizon=HORIZON, cost_bps=COST_BPS, benchmark=BENCHMARK,
                                     ic_horizons=())
        except (ValueError, KeyError) as exc:  # no evening stored yet
            records = {day: exc for day in days}
        for day in days:
            record = records[day]
            if isinstance(record, Exception):  # too few evenings yet, or the benchmark not stored
                meta.setdefault("status", f"{day:{DATE_FMT}}, screen {s.name}: no record yet ({record})")
                continue
            frames.append(rows(record.summary, day, s.name))
            if s is runs[0] and day == days[-1]:
                meta = {"status": "recorded", "screen": s.name,
                        "measures": table_metadata(frames[-1].drop(columns=["date", "screen"])),
                        "equity_lines": sparklines(record.daily, ("top_n", "universe", "benchmark")),
                        "equity": markdown_image(equity_svg(record.daily, ("top_n", "universe", "benchmark")),
                                                 f"{s.name}: the book, the universe and {BENCHMARK}")}
    out = pd.concat(frames, ignore_index=True) if frames else empty()
    return out, meta


def rows(summary: dict, day: pd.Timestamp, screen: str) -> pd.DataFrame:
    """One row per book of a record's summary."""
    books = summary["portfolios"]
    out = pd.DataFrame([{"date": day, "screen": screen, "book": name, "first_day": pd.Timestamp(summary["from"]),
                         "days": int(summary["days"]), **{m: float(books[name].get(m, float("nan"))) for m in MEASURES},
                         "rank_ic": float("nan"), "rank_ic_t_nw": float("nan")}
                        for name in BOOKS if name in books], columns=COLUMNS)
    top = out["book"] == "top_n"
    out.loc[top, "rank_ic"] = summary.get("rank_ic", {}).get("mean", float("nan"))
    out.loc[top, "rank_ic_t_nw"] = summary.get("rank_ic", {}).get("t_nw", float("nan"))
    return out.astype({"rank_ic": float, "rank_ic_t_nw": float})


def empty() -> pd.DataFrame:
    kinds = {"date": "datetime64[ns]", "screen": object, "book": object, "first_day": "datetime64[ns]", "days": int}
    return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, float)) for c in COLUMNS})
