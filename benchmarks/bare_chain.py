"""The comparison for benchmarks/dagster_daily.py and benchmarks/backfill.py: a bare chain of 8
trivial daily-partitioned assets that store nothing (single-run backfill policy, like Technic's, so a
range is one run; Dagster's default pickling I/O manager cannot store a range, hence no outputs)."""

from dagster import BackfillPolicy, Definitions, asset

from technic_assets.partitions import build_partitions

days = build_partitions()  # the same partitions as Technic's: NYSE sessions
POLICY = BackfillPolicy.single_run()


def _link(name, upstream):
    if upstream is None:
        @asset(name=name, partitions_def=days, backfill_policy=POLICY)
        def first() -> None:
            return None
        return first

    @asset(name=name, partitions_def=days, deps=[upstream], backfill_policy=POLICY)
    def link() -> None:
        return None
    return link


_assets = []
for i in range(8):
    _assets.append(_link(f"step_{i}", _assets[-1] if _assets else None))

defs = Definitions(assets=_assets)
