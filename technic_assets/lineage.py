"""Which assets read earlier sessions of another asset, declared once, and what keeps that honest.

Three assets read sessions before their day: `changes` (the previous session's top N and MERIT),
`alpha_evaluation` (the MERIT of 5 and 10 sessions back) and `track_record` (every earlier evening). If such a day were computed before the
earlier day was stored, the result would depend on the order of the runs. So, from this one table:
- a reader whose earlier day another run is computing waits for that run (`wait_for_earlier`): runs
  launched side by side (a job backfill's run per day, a distributed backfill's month runs) end as if
  they had run in order;
- a run that writes a day recomputes the later days already stored that read it (`followers`): the
  in-process scan does, so days scanned newest first leave the same store as oldest first.
And `merit` with a learned blend: each month's weights are fitted on the stored days of the year
before it (blend_history), so a run that stores such a day scores the later scanned days of those
months again, and their top N (`refit_days`); what reads those follows them (`later_days`' `refit`).
A month's fit is kept between runs only under the digest of what it read (blend_history.fit_key).
The edges are not windowed partition mappings: Dagster would then stretch every backfill the UI
launches over a few days to the ten sessions after them, running readers for days never scanned.
"""

from __future__ import annotations

import time

import pandas as pd
from dagster import RunsFilter
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from technic_assets.core.alpha_features import HORIZONS
from technic_assets.core.blend import WINDOW, fit_window
from technic_assets.storage.connection import SCHEMA, table

EVERY = None  # reads every earlier session
BLEND_REACH = WINDOW + 23  # sessions after a day that a month's learned blend may be fitted on it (its window and a month)
# reader -> {upstream asset: the sessions back it reads}
EARLIER_READS: dict[str, dict[str, tuple[int, ...] | None]] = {
    "changes": {"ranked_top_n": (1,), "merit": (1,)},
    "alpha_evaluation": {"merit": tuple(HORIZONS)},
    "track_record": {"ranked_top_n": EVERY, "merit": EVERY, "filtered_universe": EVERY},
}


def followers(days: list[pd.Timestamp], sessions: pd.DatetimeIndex) -> dict[str, list[pd.Timestamp]]:
    """reader -> the later sessions (outside `days`) whose reader rows read something of `days`."""
    wrote = set(days)
    found: dict[str, set[pd.Timestamp]] = {}
    for reader, reads in EARLIER_READS.items():
        if EVERY in reads.values():
            at = sessions.searchsorted(min(days))
            found[reader] = {d for d in sessions[at:] if d not in wrote}
            continue
        for back in {b for offsets in reads.values() for b in offsets}:
            for day in days:
                at = sessions.searchsorted(day) + back
                if at < len(sessions) and sessions[at] not in wrote:
                    found.setdefault(reader, set()).add(sessions[at])
    return {reader: sorted(later) for reader, later in found.items()}


def later_days(history, reader: str, days: list[pd.Timestamp], refit: list[pd.Timestamp] = ()) -> list[pd.Timestamp]:
    """The later sessions (outside `days`) whose `reader` rows read something of `days` and whose day
    is scanned (a top N stored): the run that writes `days` recomputes them; a day not scanned yet is
    computed, reading `days`, when it is. `refit`: the later days whose MERIT and top N the run
    rewrote (refit_days); they and what reads them are recomputed too."""
    from technic_assets.core.calendar import nyse

    sessions = nyse().sessions
    later = set(followers(days, sessions).get(reader, []))
    if refit:
        wrote = set(days)
        later |= {d for d in followers([*days, *refit], sessions).get(reader, []) if d not in wrote} | set(refit)
    if not later:
        return []
    stored = history.dates_present("ranked_top_n", min(later), max(later))
    return sorted(d for d in later if d in stored)


def refit_days(history, days: list[pd.Timestamp], runs) -> list[pd.Timestamp]:
    """The later scanned sessions (outside `days`) whose month's learned blend is fitted on what `days`
    store (core.blend.fit_window: the year before the month), where one of `runs` (the screens)
    ranks with a learned blend: scanned before `days` were, their MERIT and top N came from another
    fit, so the run that writes `days` scores them again."""
    if not any(getattr(s.settings, "ranking", "hand") == "learned" for s in runs):
        return []
    from technic_assets.core.calendar import nyse
    from technic_assets.core.peers import month_start

    sessions = nyse().sessions
    at = sessions.searchsorted(min(days), side="right")
    candidates = sessions[at: sessions.searchsorted(max(days), side="right") + BLEND_REACH]
    if not len(candidates):
        return []
    stored = history.dates_present("ranked_top_n", candidates[0], candidates[-1])
    wrote, out = set(days), []
    for day in sorted(stored - wrote):
        span = fit_window(month_start(day, sessions), sessions)
        if span is not None and any(span[0] <= d <= span[1] for d in days):
            out.append(day)
    return out


def record_later(context, history, reader: str, rows: pd.DataFrame, later: list[pd.Timestamp], days,
                 screens: list[str] | None = None) -> None:
    """Store a reader's recomputed later days (only `screens`' rows where the table has screens) and
    record each as a materialization of its own partition, so the UI shows what the store holds."""
    from dagster import AssetKey, AssetMaterialization

    name = reader
    if rows.empty and history.query(reader, f"SELECT 1 FROM {SCHEMA}.{table(name)} LIMIT 1", []) is None:
        return  # nothing to store, and no table to make from a frame whose text columns have no type
    history.replace_dates(reader, rows, later, screens=screens)
    wrote = f"{days[0]:%Y-%m-%d}" if len(days) == 1 else f"{days[0]:%Y-%m-%d}...{days[-1]:%Y-%m-%d}"
    for day in later:
        context.log_event(AssetMaterialization(
            asset_key=AssetKey(reader), partition=f"{day:%Y-%m-%d}",
            description=f"recomputed: it reads {wrote}, stored after it",
            metadata={"rows": int((rows["date"] == day).sum()) if len(rows) else 0}))
    context.log.info(f"{reader}: recomputed {', '.join(f'{d:%Y-%m-%d}' for d in later)}, which read {wrote}")


def _covers(run, days: list[pd.Timestamp], upstream: str) -> pd.Timestamp | None:
    """The first of `days` that `run` computes of `upstream` (its partition, or its range), if any."""
    if run.asset_selection is not None and not any(k.path[-1] == upstream for k in run.asset_selection):
        return None
    one = run.tags.get(PARTITION_NAME_TAG)
    start, end = (one, one) if one else (run.tags.get(ASSET_PARTITION_RANGE_START_TAG),
                                         run.tags.get(ASSET_PARTITION_RANGE_END_TAG))
    if not start or not end:
        return None
    return next((d for d in days if pd.Timestamp(start) <= d <= pd.Timestamp(end)), None)


def wait_for_earlier(context, history, upstream: str, days: list[pd.Timestamp], *, timeout: float = 1800.0,
                     poll: float = 2.0, clock=time, every_earlier: bool = False) -> None:
    """Before reading earlier `days` of `upstream`: where one is not stored yet but another run of this
    instance is computing it (runs launched side by side: a job backfill's runs, one per day), wait for
    that run, so the day is never computed against a silently missing one; a day nobody computes (no
    run in flight, or the one computing it ended without storing it) is simply not scanned. A run still
    going after `timeout` is an error naming the day. With `every_earlier`, any run computing a session
    before `days` is waited for, stored or not (the reader reads them all, and one may be rewritten)."""
    deadline = clock.monotonic() + timeout
    while True:
        if every_earlier:
            from technic_assets.core.calendar import nyse

            sessions = nyse().sessions
            missing = list(sessions[: sessions.searchsorted(min(days))])
        else:
            present = history.dates_present(upstream, min(days), max(days)) if days else set()
            missing = [d for d in days if d not in present]
        if not missing:
            return
        busy = [(run, day) for run in context.instance.get_runs(filters=RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES))
                if run.run_id != context.run_id and (day := _covers(run, missing, upstream)) is not None]
        if not busy:
            return
        run, day = busy[0]
        if clock.monotonic() > deadline:
            raise RuntimeError(f"{upstream} of {day:%Y-%m-%d}, which this day reads, is still being computed by run "
                               f"{run.run_id[:8]} after {timeout:.0f} s: run this day again once it is stored")
        context.log.info(f"waiting for run {run.run_id[:8]} to store {upstream} of {day:%Y-%m-%d}")
        clock.sleep(poll)
