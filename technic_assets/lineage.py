"""Which assets read earlier sessions of another asset, declared once.

Two assets compare a day with sessions before it: `changes` (the previous session's top N and MERIT)
and `alpha_evaluation` (the MERIT of 5 and 10 sessions back). If a run computed such a day before
the earlier day was stored, the result would depend on the order of the runs. So from this one table:
- the assets declare the dependency as a windowed partition mapping (`mapping`), so Dagster orders a
  backfill's runs and the UI shows the edge;
- a run that writes a day also recomputes the later days already stored that read it (`followers`):
  the in-process scan does, so days scanned newest first leave the same store as oldest first;
- a reader whose earlier day another run is computing right now waits for it (`wait_for_earlier`):
  runs launched side by side, one per day, as a job backfill launches them.
"""

from __future__ import annotations

import time
import warnings

import pandas as pd
from dagster import RunsFilter, TimeWindowPartitionMapping
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES
from dagster._core.storage.tags import (ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG,
                                        PARTITION_NAME_TAG)

from technic_assets.core.alpha_features import HORIZONS

# reader -> {upstream asset: the sessions back it reads}
EARLIER_READS: dict[str, dict[str, tuple[int, ...]]] = {
    "changes": {"ranked_top_n": (1,), "merit": (1,)},
    "alpha_evaluation": {"merit": tuple(HORIZONS)},
}


def mapping(reader: str, upstream: str) -> TimeWindowPartitionMapping:
    """The reader's day and the sessions before it that it reads of `upstream` (none before the first
    partition: the first days simply have nothing to compare)."""
    with warnings.catch_warnings():  # the parameter is "beta" in Dagster 1.13, and the one way to say it
        warnings.simplefilter("ignore")
        return TimeWindowPartitionMapping(start_offset=-max(EARLIER_READS[reader][upstream]),
                                          allow_nonexistent_upstream_partitions=True)


def followers(days: list[pd.Timestamp], sessions: pd.DatetimeIndex) -> dict[str, list[pd.Timestamp]]:
    """reader -> the later sessions (outside `days`) whose reader rows read something of `days`."""
    wrote = set(days)
    found: dict[str, set[pd.Timestamp]] = {}
    for reader, reads in EARLIER_READS.items():
        for back in {b for offsets in reads.values() for b in offsets}:
            for day in days:
                at = sessions.searchsorted(day) + back
                if at < len(sessions) and sessions[at] not in wrote:
                    found.setdefault(reader, set()).add(sessions[at])
    return {reader: sorted(later) for reader, later in found.items()}


def stored_followers(history, days: list[pd.Timestamp], sessions: pd.DatetimeIndex) -> dict[pd.Timestamp, list[str]]:
    """Later day -> the readers to recompute there: the followers of `days` whose day the store has
    scanned (a top N stored); a day not scanned yet is computed, in order, when it is."""
    out: dict[pd.Timestamp, list[str]] = {}
    for reader, later in followers(days, sessions).items():
        for day in later:
            if history.dates_present("ranked_top_n", day, day):
                out.setdefault(day, []).append(reader)
    return dict(sorted(out.items()))


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
                     poll: float = 2.0, clock=time) -> None:
    """Before reading earlier `days` of `upstream`: where one is not stored yet but another run of this
    instance is computing it (runs launched side by side: a job backfill's runs, one per day), wait for
    that run, so the day is never computed against a silently missing one; a day nobody computes is
    simply not scanned. A failed run or one still going after `timeout` is an error naming the day."""
    deadline = clock.monotonic() + timeout
    while True:
        missing = [d for d in days if not history.dates_present(upstream, d, d)]
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
