"""`technic backfill`: a range of days as a Dagster asset backfill, which the daemon carries out.

Unlike `dagster asset materialize --partition-range` (one run in this process, whatever the policy),
an asset backfill follows each asset's backfill policy: on one machine one run for the range; in
distributed mode (TECHNIC_EXECUTOR=celery) runs of about a month side by side on the workers, then
alpha_evaluation over the whole range (technic_assets/distributed.py). Needs `dagster-daemon run` (or
`dagster dev`) on the same instance.
"""

from __future__ import annotations

import time

from dagster import DagsterInstance
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id


def submit(instance: DagsterInstance, defs, start: str, end: str) -> str:
    """Register the backfill of every asset for the sessions start..end; its id."""
    from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset

    from technic_assets.core.calendar import sessions

    graph = defs.resolve_asset_graph()
    days = [d.strftime("%Y-%m-%d") for d in sessions(start, end)]
    if not days:
        raise ValueError(f"no NYSE session between {start} and {end}")
    # exactly these days of every asset: a windowed dependency (alpha_evaluation's in distributed mode)
    # orders the runs without stretching the backfill past `end`
    subset = AssetGraphSubset(partitions_subsets_by_asset_key={
        key: graph.get(key).partitions_def.subset_with_partition_keys(days)
        for key in graph.materializable_asset_keys})
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=make_new_backfill_id(), backfill_timestamp=time.time(),
        tags={"technic/backfill": f"{days[0]}...{days[-1]}"}, dynamic_partitions_store=instance,
        asset_graph_subset=subset, title=f"Technic {days[0]}...{days[-1]}", description=None, run_config=None)
    instance.add_backfill(backfill)
    return backfill.backfill_id


def wait(instance: DagsterInstance, backfill_id: str, timeout: float = 3600.0, poll: float = 1.0) -> str:
    """Wait for the backfill to finish; its final status's name (COMPLETED_SUCCESS, FAILED, ...)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = instance.get_backfill(backfill_id).status
        if status.value not in ("REQUESTED", "CANCELING"):
            return status.value
        time.sleep(poll)
    raise TimeoutError(f"backfill {backfill_id} still running after {timeout:.0f} s")
