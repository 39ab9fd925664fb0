"""Which assets read earlier sessions of another asset, declared once.

Two assets compare a day with sessions before it: `changes` (the previous session's top N and MERIT)
and `alpha_evaluation` (the MERIT of 5 and 10 sessions back). If a run computed such a day before
the earlier day was stored, the result would depend on the order of the runs. So from this one table:
- the assets declare the dependency as a windowed partition mapping (`mapping`), so Dagster orders a
  backfill's runs and the UI shows the edge;
- a run that writes a day also recomputes the later days already stored that read it (`followers`):
  the in-process scan does, so days scanned newest first leave the same store as oldest first.
"""

from __future__ import annotations

import warnings

import pandas as pd
from dagster import TimeWindowPartitionMapping

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
